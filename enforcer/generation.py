"""``enforcer.generate``: our own generation loop for Hugging Face causal language models.

Why our own loop beside ``model.generate`` with a logits processor: ``generate`` runs one forward
pass per token, and much of a constrained answer is text the grammar forces (keys, ``":"``,
closing brackets). Here the forced tokens (:meth:`Matcher.forced_tokens`) are appended to the
sequence and fed to the model together in the next forward pass, which costs about as much as
one token's; and when the output is complete and nothing but EOS may follow, it ends without a
pass at all. The token budget is the matcher's own (``max_tokens=max_new_tokens``): whenever any
valid output fits in ``max_new_tokens``, the output is complete and ends on EOS.

One sequence, with the model's KV cache; greedy (``temperature=0``) or sampling with
``temperature``, ``top_k``, ``top_p`` and ``repetition_penalty`` applied like transformers'
(the mask first, so a warper never keeps only forbidden tokens). torch and transformers are
imported when called, never by ``import enforcer``.

Example::

    from enforcer import generate
    result = generate(model, tokenizer, schema, "Describe Paris as JSON.", max_new_tokens=200)
    result.text, result.complete, result.forward_passes
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .engine import Grammar
from .errors import OptionError


@dataclass
class GenerationResult:
    """What :func:`generate` produced."""

    tokens: list[int]
    """The new tokens, the final EOS included when the output ended on one."""
    text: str
    """The new text, EOS and other special tokens left out."""
    complete: bool
    """The output ended on EOS: it is complete under the constraint."""
    forward_passes: int
    """Forward passes of the model (the prompt's included)."""
    forced_tokens: int
    """Tokens appended by fast-forward, without a pass of their own."""
    seconds: float
    """Wall time of the loop (the grammar compiled before)."""


def generate(model: Any, tokenizer: Any, constraint: Any, prompt: str | Sequence[dict] | None = None, *,
             input_ids: Any = None, max_new_tokens: int = 256, budget: bool = True, fast_forward: bool = True,
             temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0, repetition_penalty: float = 1.0,
             seed: int | None = None, streamer: Any = None, **compile_options: Any) -> GenerationResult:
    """Generate one output of ``model`` that follows ``constraint``.

    ``constraint``: a compiled :class:`~enforcer.Grammar`, or a JSON Schema (dict, JSON text or
    pydantic model class) compiled for the model with ``compile_options``. The prompt is
    ``input_ids`` (token ids, as given), else ``prompt``: chat messages, or a user message put
    through the tokenizer's chat template when it has one (plain text otherwise).
    ``budget=False`` lets the output run out of tokens like ``model.generate`` does;
    ``fast_forward=False`` samples forced tokens one pass each. ``streamer``: a transformers
    streamer (``put``/``end``), fed the prompt, then every new token as it is known.
    """
    import torch

    from .masking import allocate_token_bitmask, apply_token_bitmask_inplace

    if max_new_tokens < 1:
        raise OptionError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    grammar = _grammar(constraint, tokenizer, model, compile_options)
    vocab = grammar.vocab
    eos = vocab.eos_token_ids
    prompt_ids = _prompt_ids(tokenizer, prompt, input_ids)
    if streamer is not None:
        streamer.put(torch.tensor([prompt_ids]))
    matcher = grammar.matcher(max_tokens=max_new_tokens if budget else None)
    encode = _encoder(tokenizer)
    device = getattr(model, "device", torch.device("cpu"))
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    bitmask = allocate_token_bitmask(1, vocab.size)
    only_eos = np.zeros(bitmask.shape[1], dtype=np.int32)
    for token in eos:
        only_eos[token >> 5] |= np.int32(np.uint32(1 << (token & 31)).view(np.int32))
    seen = set(prompt_ids)
    new: list[int] = []
    pending = list(prompt_ids)
    cache = None
    passes = forced_count = 0
    start = time.perf_counter()

    def emit(token: int) -> None:
        matcher.advance(token)
        new.append(token)
        pending.append(token)
        seen.add(token)
        if streamer is not None:
            streamer.put(torch.tensor([token]))

    with torch.no_grad():
        while len(new) < max_new_tokens and not matcher.is_terminated():
            if fast_forward:
                for token in matcher.forced_tokens(encode)[: max_new_tokens - len(new)]:
                    emit(token)
                    forced_count += 1
                if len(new) >= max_new_tokens:
                    break
            matcher.fill_next_token_bitmask(bitmask)
            if fast_forward and matcher.is_complete() and np.array_equal(bitmask.numpy()[0], only_eos):
                emit(min(eos))  # nothing else may follow: end without a pass
                break
            logits, cache = _forward(model, pending, cache, device)
            passes += 1
            pending = []
            token = _choose(logits, bitmask, vocab.size, seen, temperature, top_k, top_p, repetition_penalty,
                            generator, apply_token_bitmask_inplace)
            emit(token)
            if token in eos:
                break
    if streamer is not None:
        streamer.end()
    ended = bool(new) and new[-1] in eos
    body = new[:-1] if ended else new
    return GenerationResult(tokens=new, text=tokenizer.decode(body, skip_special_tokens=True), complete=ended,
                            forward_passes=passes, forced_tokens=forced_count, seconds=time.perf_counter() - start)


def _grammar(constraint: Any, tokenizer: Any, model: Any, options: dict) -> Grammar:
    if isinstance(constraint, Grammar):
        if options:
            raise OptionError(f"compile options {sorted(options)} given with a compiled grammar")
        return constraint
    from .compile import compile_json_schema
    from .vocab import Vocabulary

    return compile_json_schema(constraint, Vocabulary.from_pretrained(tokenizer, model=model), **options)


def _prompt_ids(tokenizer: Any, prompt: Any, input_ids: Any) -> list[int]:
    if input_ids is not None:
        if hasattr(input_ids, "keys") and "input_ids" in input_ids:  # a tokenizer's BatchEncoding
            input_ids = input_ids["input_ids"]
        ids = input_ids.tolist() if hasattr(input_ids, "tolist") else list(input_ids)
        if ids and isinstance(ids[0], list):
            if len(ids) != 1:
                raise OptionError("generate takes one sequence: input_ids must have one row")
            ids = ids[0]
        return [int(t) for t in ids]
    if prompt is None:
        raise OptionError("give a prompt or input_ids")
    messages = list(prompt) if not isinstance(prompt, str) else [{"role": "user", "content": prompt}]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if not isinstance(prompt, str):
        raise OptionError("chat messages need a tokenizer with a chat template")
    return list(tokenizer(prompt)["input_ids"])


def _encoder(tokenizer: Any):
    """Bytes -> the tokenizer's own token ids (the forced text's canonical tokenization)."""
    def encode(data: bytes) -> list[int]:
        return list(tokenizer.encode(data.decode("utf-8"), add_special_tokens=False))

    return encode


def _forward(model: Any, pending: list[int], cache: Any, device: Any) -> tuple[Any, Any]:
    """One forward pass over the tokens not seen yet; the last position's logits (float32).
    The KV cache argument is ``cache`` in transformers 5.x (``past_key_values`` before, now a
    deprecation warning that would land in the middle of streamed output)."""
    import torch

    ids = torch.tensor([pending], device=device)
    name = _cache_argument(model)
    kwargs = {name: cache, "use_cache": True}
    try:
        out = model(input_ids=ids, logits_to_keep=1, **kwargs)
    except TypeError:  # models without logits_to_keep
        out = model(input_ids=ids, **kwargs)
    new_cache = getattr(out, "cache", None) if name == "cache" else None
    return out.logits[0, -1].float(), new_cache if new_cache is not None else out.past_key_values


def _cache_argument(model: Any) -> str:
    import inspect

    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params and "past_key_values" not in params else "past_key_values"


def _choose(logits: Any, bitmask: Any, vocab_size: int, seen: set[int], temperature: float, top_k: int,
            top_p: float, repetition_penalty: float, generator: Any, apply_mask: Any) -> int:
    """transformers' order: repetition penalty, then (ours) the mask, then the warpers."""
    import torch

    if repetition_penalty != 1.0 and seen:
        index = torch.tensor(sorted(t for t in seen if t < logits.shape[0]), device=logits.device)
        values = logits[index]
        logits[index] = torch.where(values < 0, values * repetition_penalty, values / repetition_penalty)
    apply_mask(logits, bitmask, vocab_size=vocab_size)
    if temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits / temperature
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[0])).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        drop = cumulative - torch.softmax(ordered, dim=-1) >= top_p  # keep the first token always
        logits[order[drop]] = float("-inf")
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs.cpu(), 1, generator=generator))
