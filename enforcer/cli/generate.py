"""``enforcer generate``: constrained generation with a real model, one prompt or a JSONL file of them.

The model and the vocabulary are loaded once; the constraint is compiled once and shared (a
compiled grammar is immutable); each prompt gets its own logits processor. Sampling is
transformers' own (``temperature``, ``top_p``, ``repetition_penalty``); the mask is applied before
the sampling warpers, so they only ever see allowed tokens.

An output that reaches ``--max-new-tokens`` before the constraint is complete is not valid. When
its end repeats itself, the model is looping, and a larger budget only buys a longer loop: the
message says so and names the options that help instead.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .common import EXIT_INCOMPLETE, EXIT_OK, CliError, status
from .constraints import Outcome, Task
from .inputs import PromptLine, check_sampling, read_prompts
from .progress import Progress


def run(args) -> int:
    check_sampling(args)
    task = Task.from_args(args)
    prompts = read_prompts(args.prompts) if args.prompts else [PromptLine(None, args.prompt or task.default_prompt(), 0)]
    quiet = args.quiet
    status(f"checking the {task.kind} ...", quiet=quiet)
    task.precheck()  # fail fast, before loading a model

    from . import model as model_files

    ref = model_files.resolve(args.model)
    model, tokenizer = model_files.load(ref, quiet=quiet)
    status("building the vocabulary (cached after the first run) ...", quiet=quiet)
    from ..vocab import Vocabulary

    vocab = Vocabulary.from_pretrained(tokenizer, model=model)
    grammar = task.compile(vocab)
    if args.seed is not None:
        from transformers import set_seed

        set_seed(args.seed)

    system = task.system_prompt()
    failures = 0
    out = sys.stdout
    for index, item in enumerate(prompts):
        label = f"{index + 1}/{len(prompts)}: " if args.prompts else ""
        tokens, ended, progress = _generate_one(args, model, tokenizer, grammar, item.prompt, system, label)
        record: dict[str, Any] = {"id": item.id, "prompt": item.prompt} if args.prompts else {}
        try:
            if ended is None:
                raise CliError(_incomplete_message(tokens, vocab, tokenizer, args), code=EXIT_INCOMPLETE)
            outcome = task.finish(tokens[:ended], vocab, tokenizer)
        except CliError as exc:
            if not args.prompts:
                text = tokenizer.decode(tokens[:ended], skip_special_tokens=True)
                out.write(text + ("" if text.endswith("\n") else "\n"))
                raise
            failures += 1
            record.update(output=tokenizer.decode(tokens, skip_special_tokens=True),
                          finish_reason="length" if ended is None else "stop", tokens=len(tokens),
                          seconds=round(progress.elapsed, 3), error=str(exc))
            status(f"{label}error: {exc}", quiet=quiet)
        else:
            status(progress.summary(outcome.summary), quiet=quiet)
            if not args.prompts:
                out.write(outcome.text + ("" if outcome.text.endswith("\n") else "\n"))
                continue
            record.update(output=outcome.text, **outcome.fields, finish_reason="stop",
                          tokens=len(tokens), seconds=round(progress.elapsed, 3))
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    if failures:
        status(f"{failures} of {len(prompts)} prompt(s) did not end in valid output", quiet=quiet)
        return EXIT_INCOMPLETE
    return EXIT_OK


def _prompt_inputs(tokenizer, prompt: str, system: str | None):
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": system}] if system else []
        text = tokenizer.apply_chat_template(messages + [{"role": "user", "content": prompt}],
                                             add_generation_prompt=True, tokenize=False)
        return tokenizer(text, return_tensors="pt", add_special_tokens=False)
    return tokenizer((system + "\n\n" if system else "") + prompt, return_tensors="pt")


def _generate_one(args, model, tokenizer, grammar, prompt: str, system: str | None,
                  label: str) -> tuple[list[int], int | None, Progress]:
    """The new tokens, the index of the first EOS among them (``None``: the budget ran out)."""
    from ..integrations.transformers import GrammarLogitsProcessor

    vocab = grammar.vocab
    eos = sorted(vocab.eos_token_ids)
    inputs = _prompt_inputs(tokenizer, prompt, system)
    progress = Progress(tokenizer, vocab.eos_token_ids, label=label, enabled=not args.quiet)
    sampling: dict[str, Any] = {"do_sample": False}
    if args.temperature > 0:
        sampling = {"do_sample": True, "temperature": args.temperature, "top_p": args.top_p, "top_k": 0}
    if args.repetition_penalty != 1.0:
        sampling["repetition_penalty"] = args.repetition_penalty
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    status(f"{label}generating (at most {args.max_new_tokens} tokens{_describe(args)}) ...", quiet=args.quiet)
    out = model.generate(**inputs, logits_processor=[GrammarLogitsProcessor(grammar)],
                         max_new_tokens=args.max_new_tokens, eos_token_id=eos, pad_token_id=pad,
                         streamer=progress, **sampling)
    tokens = out[0, inputs["input_ids"].shape[1]:].tolist()
    ended = next((i for i, t in enumerate(tokens) if t in vocab.eos_token_ids), None)
    return tokens, ended, progress


def _describe(args) -> str:
    parts = [f"temperature {args.temperature}, top-p {args.top_p}" if args.temperature > 0 else "greedy"]
    if args.repetition_penalty != 1.0:
        parts.append(f"repetition penalty {args.repetition_penalty}")
    if args.seed is not None:
        parts.append(f"seed {args.seed}")
    return ", " + ", ".join(parts)


def find_loop(tokens: list[int], *, min_repeats: int = 3, max_period: int = 64) -> tuple[int, int] | None:
    """``(period, repeats)`` if the output ends in a block of ``period`` tokens written at least
    ``min_repeats`` times in a row (and covering at least 12 tokens), else ``None``."""
    n = len(tokens)
    for period in range(1, min(max_period, n // min_repeats) + 1):
        block = tokens[n - period:]
        repeats = 1
        while (repeats + 1) * period <= n and tokens[n - (repeats + 1) * period: n - repeats * period] == block:
            repeats += 1
        if repeats >= min_repeats and repeats * period >= 12:
            return period, repeats
    return None


def _incomplete_message(tokens: list[int], vocab, tokenizer, args) -> str:
    loop = find_loop(tokens)
    if loop is not None:
        period, repeats = loop
        piece = tokenizer.decode(tokens[-period:], skip_special_tokens=True)
        hints = []
        if args.repetition_penalty == 1.0:
            hints.append("--repetition-penalty 1.2")
        if args.temperature == 0:
            hints.append("--temperature 0.7")
        hints.append("bounds in the constraint (maxLength, maxItems, {m,n})")
        hints.append("a clearer prompt")
        return (f"the model is looping: it wrote {piece!r} {repeats} times in a row until --max-new-tokens "
                f"{args.max_new_tokens}; more tokens would not end it. Try " + ", ".join(hints))
    return (f"generation stopped at --max-new-tokens {args.max_new_tokens} before the output was complete "
            f"({len(tokens)} tokens, no loop found): raise --max-new-tokens")


__all__ = ["Outcome", "find_loop", "run"]
