"""Work counts on a fixed corpus: the speed gate that cannot flake.

Times on a shared machine vary by 2x from one run to the next; the work behind them does not.
This walks the shipped schemas (``schemas/``) with their instances (``benchmarks/instances/``) in
both property orders, with flexible whitespace, on the Llama 3 tokenizer, one fresh
:class:`~enforcer.Compiler` for the whole corpus, filling every mask and advancing every token,
and counts what the engine did: derivatives computed, expressions and states created, masks
computed, trie walks. ``tests/perf/test_work.py`` fails when a count rises more than
:data:`TOLERANCE` above ``work_baseline.json``; after an improvement,
``python -m tests.perf.work --update`` lowers the baseline (it never raises it by itself).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASELINE = pathlib.Path(__file__).with_name("work_baseline.json")
TOLERANCE = 0.05  # hash-set iteration order may shift a few derivatives between runs


def measure(vocab, tokenizer) -> dict[str, int]:
    from enforcer import Compiler

    compiler = Compiler(vocab)
    totals: dict[str, int] = {"tokens": 0, "states": 0, "masks": 0, "branch_groups": 0, "raw_walks": 0,
                              "crossing_walks": 0, "literal_crossings": 0}
    bitmask = np.zeros((vocab.size + 31) // 32, dtype=np.int32)
    for schema_path in sorted((ROOT / "schemas").glob("*.schema.json")):
        schema = json.loads(schema_path.read_text())
        name = schema_path.name.removesuffix(".schema.json")
        instances = json.loads((ROOT / "benchmarks" / "instances" / f"{name}.json").read_text())
        for order in ("schema", "any"):
            grammar = compiler.compile_json_schema(schema, whitespace="flexible", property_order=order)
            for instance in instances:
                matcher = grammar.matcher()
                for token in tokenizer.encode(json.dumps(instance, ensure_ascii=False), add_special_tokens=False):
                    matcher.fill_next_token_bitmask(bitmask)
                    matcher.advance(token)
                    totals["tokens"] += 1
                if not matcher.is_complete():
                    raise AssertionError(f"{name} ({order} order): an instance was not accepted")
            totals["states"] += grammar.num_states
            for key in ("masks", "branch_groups", "raw_walks", "crossing_walks", "literal_crossings"):
                totals[key] += grammar.stats[key]
    totals.update(compiler.stats)
    return totals


def compare(current: dict[str, int], baseline: dict[str, int]) -> tuple[list[str], list[str]]:
    """(regressions, improvements) as readable lines."""
    worse, better = [], []
    for key, base in sorted(baseline.items()):
        now = current.get(key)
        if now is None or key in ("tokens", "lexeme_hits"):  # not work: the corpus size, cache hits
            continue
        if now > base * (1 + TOLERANCE) + 2:
            worse.append(f"{key}: {base} -> {now} (+{(now - base) / max(base, 1):.0%})")
        elif now < base * (1 - TOLERANCE):
            better.append(f"{key}: {base} -> {now}")
    return worse, better


def _load():
    from transformers import PreTrainedTokenizerFast

    from enforcer import Vocabulary
    from tests.conftest import LLAMA3_EOS, LLAMA3_TOKENIZER_JSON

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=LLAMA3_TOKENIZER_JSON(), eos_token="<|eot_id|>")
    return Vocabulary.from_pretrained(tokenizer, eos_token_ids=LLAMA3_EOS), tokenizer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write the counts as the new baseline")
    args = parser.parse_args(argv)
    current = measure(*_load())
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    worse, better = compare(current, baseline)
    for key, value in sorted(current.items()):
        print(f"{key:>24} {value:>10}  (baseline {baseline.get(key, '-')})")
    for line in worse:
        print("MORE WORK:", line)
    for line in better:
        print("less work:", line)
    if args.update:
        BASELINE.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
        print(f"wrote {BASELINE.relative_to(ROOT)}")
    return 1 if worse and not args.update else 0


if __name__ == "__main__":
    sys.exit(main())
