"""Budget-aware completion and fast-forward on SmolLM2-135M-Instruct (CPU), the shipped schemas.

Run: ``.venv/bin/python benchmarks/bench_budget.py [--runs N] [--schemas a b ...] [--slacks 5 10 20]
[--part budget|ff|both] [--json OUT]``. Prints two tables, exits 0. A benchmark, not a test:
figures depend on the machine.

1. **Budget.** For each schema, ``D`` is the fewest tokens of a valid output with this
   vocabulary (:meth:`Matcher.shortest_completion`); ``max_new_tokens`` is ``D + 1`` (EOS) plus
   a slack of 5, 10 and 20 tokens. Each setting samples ``--runs`` outputs at temperature 0.8
   (seeds 0..runs-1) with the budget and the same seeds without it, and counts the outputs that
   are complete (ended on EOS) and valid under the schema (``jsonschema``). Both sides use
   fast-forward, so they differ only in the budget.
2. **Fast-forward.** Greedy, ``max_new_tokens=256``, budget on: forward passes, forced tokens and
   wall time per object with and without fast-forward; whether each output validates.

Everything runs through :func:`enforcer.generate`. Grammars are compiled before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def valid(text: str, schema: dict) -> bool:
    import jsonschema

    try:
        jsonschema.validate(json.loads(text), schema, format_checker=jsonschema.FormatChecker())
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="samples per schema and slack (default 20)")
    parser.add_argument("--schemas", nargs="*", help="schema names (file stems) to run; default all in schemas/")
    parser.add_argument("--slacks", type=int, nargs="*", default=[5, 10, 20])
    parser.add_argument("--part", choices=["budget", "ff", "both"], default="both")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: every core)")
    args = parser.parse_args()

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    from enforcer import Vocabulary, compile_json_schema, generate
    from enforcer.cli import model as model_files

    model, tokenizer = model_files.load(model_files.resolve(None), quiet=True)
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))
    vocab = Vocabulary.from_pretrained(tokenizer, model=model)
    paths = sorted((ROOT / "schemas").glob("*.schema.json"))
    if args.schemas:
        paths = [p for p in paths if p.name.split(".")[0] in args.schemas]
    results: dict = {"budget": [], "ff": []}

    def prompt_for(schema: dict) -> list[int]:
        title = schema.get("title", "object")
        text = f"Give an example {title} as JSON. {schema.get('description', '')}".strip()
        chat = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                             tokenize=False)
        return tokenizer(chat, add_special_tokens=False)["input_ids"]

    def dump() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))

    for path in paths:
        name = path.name.split(".")[0]
        schema = json.loads(path.read_text())
        start = time.perf_counter()
        grammar = compile_json_schema(schema, vocab)
        shortest = grammar.matcher().shortest_completion()
        print(f"# {name}: compiled and D={shortest} in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        prompt = prompt_for(schema)
        if args.part in ("budget", "both"):
            for slack in args.slacks:
                limit = shortest + 1 + slack
                row = {"schema": name, "D": shortest, "slack": slack, "max_new_tokens": limit}
                for budget in (True, False):
                    ok = 0
                    for seed in range(args.runs):
                        r = generate(model, tokenizer, grammar, input_ids=prompt, max_new_tokens=limit, budget=budget,
                                     temperature=0.8, seed=seed)
                        ok += r.complete and valid(r.text, schema)
                    row["with" if budget else "without"] = ok
                row["runs"] = args.runs
                results["budget"].append(row)
                print(f"# budget {row}", file=sys.stderr, flush=True)
                dump()
        if args.part in ("ff", "both"):
            row = {"schema": name}
            for ff in (False, True):
                r = generate(model, tokenizer, grammar, input_ids=prompt, max_new_tokens=256, fast_forward=ff)
                key = "ff" if ff else "plain"
                row[key] = {"passes": r.forward_passes, "tokens": len(r.tokens), "forced": r.forced_tokens,
                            "seconds": round(r.seconds, 2), "valid": r.complete and valid(r.text, schema)}
            results["ff"].append(row)
            print(f"# ff {row}", file=sys.stderr, flush=True)
            dump()

    if results["budget"]:
        print("\nBudget: complete and valid outputs (temperature 0.8)")
        print(f"{'schema':24} {'D':>4} {'slack':>5} {'max_new':>7} {'with':>8} {'without':>8}")
        for r in results["budget"]:
            print(f"{r['schema']:24} {r['D']:>4} {r['slack']:>5} {r['max_new_tokens']:>7} "
                  f"{r['with']:>3}/{r['runs']:<4} {r['without']:>3}/{r['runs']:<4}")
        for slack in args.slacks:
            rows = [r for r in results["budget"] if r["slack"] == slack]
            n = sum(r["runs"] for r in rows)
            print(f"slack {slack:>2}: with {sum(r['with'] for r in rows)}/{n}, without {sum(r['without'] for r in rows)}/{n}")
    if results["ff"]:
        print("\nFast-forward: greedy, max_new_tokens 256, budget on")
        print(f"{'schema':24} {'passes':>13} {'ratio':>6} {'forced':>6} {'seconds':>13} {'valid':>11}")
        for r in results["ff"]:
            p, f = r["plain"], r["ff"]
            print(f"{r['schema']:24} {p['passes']:>5} -> {f['passes']:<5} {p['passes'] / max(f['passes'], 1):>6.2f} "
                  f"{f['forced']:>6} {p['seconds']:>5} -> {f['seconds']:<5} {str(p['valid']):>5}/{f['valid']!s:<5}")
        plain = sum(r["plain"]["passes"] for r in results["ff"])
        fast = sum(r["ff"]["passes"] for r in results["ff"])
        print(f"all: {plain} -> {fast} passes ({plain / max(fast, 1):.2f}x fewer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
