"""Tokens per second of a vLLM engine (CPU) for a batch of requests: free, constrained by
enforcer (logits processor, and the opt-in backend) and by vLLM's built-in xgrammar and
guidance backends, in one run.

Run: ``make bench-vllm`` or ``.venv-vllm/bin/python benchmarks/bench_vllm.py [--batch 16]``.
Prints a table, exits 0.

The model is the tiny random-weight Llama around the Llama 3 tokenizer (``tests/tiny_llama3.py``):
its forward pass costs almost nothing, so the figures are an upper bound on what constraining
costs relative to the model (a real model's step is 10-1000x longer and hides most of it). Each
row runs one warm-up batch first (grammar compiled, vocabulary built, masks of the states it
reaches cached: the steady state of a server) and then ``--repeats`` timed batches; the table
shows the best. ``tokens/s`` is generated tokens over the wall time of ``LLM.generate``; the
ratio is free tokens/s over the row's tokens/s; ``batch s`` is that wall time. Random weights
write different JSON under different backends, so the rows do not generate the same number of
tokens (all are shown). On the MaskBench batch every output of vLLM's backends ran to
``max_tokens`` (3,072 = 32 x 96 tokens), while enforcer allows only EOS once an output is complete
and nothing may follow, so its rows end some requests early and count fewer tokens over as many
decoding steps: there the batch's wall time is the like-for-like figure.

Greedy by default: on CPU, vLLM's sampling kernel costs more the more logits are finite (a free
row of 128k live logits costs several times a masked one), which would make the constrained rows
look faster than the free one; argmax costs the same either way. ``--temperature 1`` shows it.
On a shared 2-core machine the figures move by 2x between runs: compare rows of one run.

``--maskbench N``: the cold path of a server whose requests carry different schemas. The batch
is N requests, each with its own schema from the MaskBench dev sample (the first N that enforcer,
XGrammar and llguidance all compile), none seen before by any backend: after a warm-up batch on
``--schema`` (engine, vocabulary), one timed batch, so every grammar is compiled and every mask
computed inside it.

The processor keeps each output within ``max_tokens`` (its token budget, on by default: the
masks then also leave room for a complete output); no backend does. The processor runs twice,
with its budget and without it (``extra_args={"budget": False}``: the same work as the
backends). Every enforcer row starts from a fresh engine with enforcer's in-process state
forgotten (vocabularies, grammar caches, the compiler's shared lexemes), so none of them finds
what an earlier row compiled: each is as cold as a new server.

Engines, one per backend setting (a vLLM engine uses one structured-output backend for its
life): vLLM's default (free, enforcer processor, xgrammar), ``backend="guidance"``, and one with
the enforcer backend installed (``ENFORCER_VLLM_BACKEND=1``'s patch).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.tiny_llama3` when run as a script
    sys.path.insert(0, str(ROOT))


def _common_schemas(data: Path, n: int) -> list[dict]:
    """The first ``n`` MaskBench schemas (by file name) that enforcer, XGrammar and llguidance
    all compile, so that no backend's row loses requests to a schema it refuses."""
    import llguidance
    import xgrammar

    from enforcer import compile_json_schema
    from enforcer.cli.constraints import byte_vocabulary

    vocab = byte_vocabulary()
    found: list[dict] = []
    for path in sorted(data.glob("*.json")):
        schema = json.loads(path.read_text())["schema"]
        try:
            compile_json_schema(schema, vocab, whitespace="flexible")
            xgrammar.Grammar.from_json_schema(json.dumps(schema))
            error = llguidance.LLMatcher.validate_grammar(llguidance.LLMatcher.grammar_from_json_schema(schema))
        except Exception:
            continue
        if not error:
            found.append(schema)
            if len(found) == n:
                return found
    raise SystemExit(f"only {len(found)} schemas of {data} compile in all three engines")


def _forget_enforcer() -> None:
    """Drop enforcer's per-process state (the vocabularies the vLLM integration built, with their
    compilers and shared lexemes, and the grammar caches of their services), so the next engine
    compiles and walks everything afresh, as a new server would."""
    from enforcer.integrations.vllm import vocabulary

    with vocabulary._LOCK:
        vocabulary._BY_MODEL.clear()
        vocabulary._SERVICES.clear()
    gc.collect()


def _time_batch(llm: Any, prompts: list[str], params: list[Any], repeats: int,
                warm: bool = True) -> tuple[float, int]:
    """Best tokens/s over ``repeats`` timed batches after one warm-up; and the tokens per batch."""
    if warm:
        llm.generate(prompts, params, use_tqdm=False)
    best, tokens = 0.0, 0
    for _ in range(repeats):
        start = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        elapsed = time.perf_counter() - start
        n = sum(len(o.outputs[0].token_ids) for o in outputs)
        if n / elapsed > best:
            best, tokens = n / elapsed, n
    return best, tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--schema", default=str(ROOT / "schemas" / "person.schema.json"))
    parser.add_argument("--maskbench", type=int, default=0, metavar="N",
                        help="N requests, each with a different MaskBench schema, timed cold")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "testdata" / "maskbench-dev"))
    args = parser.parse_args()
    if args.maskbench:
        args.batch, args.repeats = args.maskbench, 1

    import vllm
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from enforcer.integrations.vllm import EnforcerLogitsProcessor, backend
    from tests.tiny_llama3 import save_tiny_llama3

    schema = json.loads(Path(args.schema).read_text())
    prompts = [f"Record {i}:" for i in range(args.batch)]
    schemas = _common_schemas(Path(args.data), args.maskbench) if args.maskbench else [schema] * args.batch

    def params(**kw: Any) -> list[Any]:
        return [SamplingParams(max_tokens=args.max_tokens, temperature=args.temperature, seed=i, **kw)
                for i in range(args.batch)]

    def schema_params(wrap: Callable[[dict], dict]) -> list[Any]:
        """One request per schema (the warm-up batch uses ``--schema`` for all)."""
        return [SamplingParams(max_tokens=args.max_tokens, temperature=args.temperature, seed=i, **wrap(s))
                for i, s in enumerate(schemas)]

    def ours_params(s: dict) -> dict:
        return {"extra_args": {"json_schema": s}}

    def ours_no_budget(s: dict) -> dict:
        return {"extra_args": {"json_schema": s, "budget": False}}

    def structured(s: dict) -> dict:
        return {"structured_outputs": StructuredOutputsParams(json=s)}

    folder = save_tiny_llama3(tempfile.mkdtemp(prefix="bench-vllm-"))

    def engine(**kw: Any) -> Any:
        return LLM(model=str(folder), max_model_len=512, seed=0, max_num_seqs=args.batch, **kw)

    rows: list[tuple[str, float | None, int]] = []

    def run(name: str, llm: Any, wrap: Callable[[dict], dict] | None) -> None:
        if wrap is None:
            batch_params = params()
        elif args.maskbench:  # warm the engine on --schema, then time the cold batch once
            llm.generate(prompts, params(**wrap(schema)), use_tqdm=False)
            batch_params = schema_params(wrap)
        else:
            batch_params = schema_params(wrap)
        cold = args.maskbench and wrap is not None  # the free row warms up as usual
        rate, tokens = _time_batch(llm, prompts, batch_params, args.repeats, warm=not cold)
        rows.append((name, rate, tokens))

    default = engine(logits_processors=[EnforcerLogitsProcessor])
    run("free", default, None)
    run("enforcer processor", default, ours_params)
    have = {name: importlib.util.find_spec(module) is not None
            for name, module in (("xgrammar", "xgrammar"), ("guidance", "llguidance"))}
    if have["xgrammar"]:
        run("vLLM xgrammar", default, structured)
    else:
        rows.append(("vLLM xgrammar", None, 0))
    del default
    gc.collect()

    _forget_enforcer()
    unbudgeted = engine(logits_processors=[EnforcerLogitsProcessor])
    run("enforcer proc., no budget", unbudgeted, ours_no_budget)
    del unbudgeted
    gc.collect()

    if have["guidance"]:
        guidance = engine(structured_outputs_config={"backend": "guidance"})
        run("vLLM guidance", guidance, structured)
        del guidance
        gc.collect()
    else:
        rows.append(("vLLM guidance", None, 0))

    backend.install()
    try:
        _forget_enforcer()
        ours = engine()
        run("enforcer backend", ours, structured)
        assert backend.STATS["compiled"] > 0, "the enforcer backend did not serve the requests"
    finally:
        backend.uninstall()

    free = rows[0][1]
    print(f"\nvLLM {vllm.__version__} (CPU), tiny Llama 3 (random weights), batch {args.batch}, "
          f"max_tokens {args.max_tokens}, temperature {args.temperature}, "
          + (f"{args.maskbench} different MaskBench schemas, cold, one batch" if args.maskbench
             else f"schema {Path(args.schema).name}, best of {args.repeats}")
          )
    from enforcer.engine import native

    print(f"enforcer engine build: {native.describe()}")
    print(f"{'configuration':<27}{'tokens/s':>10}{'tokens':>8}{'slowdown':>10}{'batch s':>9}")
    for name, rate, tokens in rows:
        if rate is None:
            print(f"{name:<27}{'unavailable (not installed)':>28}")
        else:
            print(f"{name:<27}{rate:>10.0f}{tokens:>8}{free / rate:>9.2f}x{tokens / rate:>9.2f}")
    print("tokens/s counts what each row generated; a row whose outputs end on EOS once complete "
          "generates fewer tokens in as many steps, so 'batch s' (the batch's wall time) is the "
          "like-for-like figure where the token counts differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
