"""Per-request constraints read from ``SamplingParams.extra_args``, compiled once and cached.

Kept free of vLLM and torch so that the parsing, the validation and the cache can be tested (and
reused by any other server) on their own. A request names at most one constraint::

    {"json_schema": {...} or "<JSON text>", "whitespace": "flexible", ...}
    {"regex": "[0-9]{3}"}
    {"grammar": "<GBNF text>", "start": "root"}
    {"tools": [...], "tool_choice": "auto" | "required" | {...}, "tool_format": "llama3_json"}

Keys other than these are left alone: ``extra_args`` is shared with every other logits processor.

Validation happens where vLLM admits a request (``validate_params``), before any vocabulary
exists: the constraint is compiled against a 257-token byte vocabulary, which raises the same
schema, regex and grammar errors as the real one in microseconds (compilation is lazy, so the
real vocabulary's masks are only built as generation reaches each state).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

import enforcer
from enforcer import Grammar, Vocabulary

_JSON_OPTIONS = ("whitespace", "property_order", "strict", "max_whitespace")
# constraint key -> the compile options it accepts, as extra_args key -> keyword argument of the
# compile function (anything else of these with it is an error). "tool_format" is the one
# renamed: a bare "format" in a dict shared with other processors would say too little.
_OPTIONS: dict[str, dict[str, str]] = {
    "json_schema": {k: k for k in _JSON_OPTIONS},
    "regex": {},
    "grammar": {"start": "start"},
    "tools": {"tool_choice": "tool_choice", "parallel_tool_calls": "parallel_tool_calls",
              "tool_format": "format", "reasoning": "reasoning", "max_calls": "max_calls",
              "max_text_length": "max_text_length", **{k: k for k in _JSON_OPTIONS}},
}
CONSTRAINT_KEYS: tuple[str, ...] = tuple(_OPTIONS)
_ALL_OPTIONS = frozenset().union(*_OPTIONS.values())


class ConstraintError(ValueError):
    """A request's ``extra_args`` ask for a constraint that cannot be enforced as given.

    A ``ValueError``, so vLLM turns it into a validation error (HTTP 400 from the server).
    """


@dataclass(frozen=True)
class Constraint:
    """One request's constraint in canonical form: equal constraints compare (and hash) equal,
    however the request spelled them (dict or JSON text, spacing)."""

    kind: str      # one of CONSTRAINT_KEYS
    text: str      # canonical text: compact JSON for schemas and tools (key order kept), as given otherwise
    options: tuple[tuple[str, Any], ...] = ()

    def compile(self, vocab: Vocabulary) -> Grammar:
        """Compile for ``vocab``; raises enforcer's errors (``SchemaError`` and friends)."""
        names = _OPTIONS[self.kind]
        options = {names[k]: json.loads(v) if isinstance(v, _Frozen) else v for k, v in self.options}
        if self.kind == "json_schema":
            return enforcer.compile_json_schema(json.loads(self.text), vocab, **options)
        if self.kind == "regex":
            return enforcer.compile_regex(self.text, vocab)
        if self.kind == "grammar":
            return enforcer.compile_grammar(self.text, vocab, **options)
        return enforcer.compile_tools(json.loads(self.text), vocab, **options)


def parse_constraint(extra_args: Mapping[str, Any] | None) -> Constraint | None:
    """The constraint ``extra_args`` ask for, or ``None`` (the request is left free).

    Raises :class:`ConstraintError` for two constraint keys, wrong types, unknown options for the
    constraint given, or JSON text that does not parse.
    """
    if not extra_args:
        return None
    if not isinstance(extra_args, Mapping):
        raise ConstraintError(f"extra_args must be a mapping, got {type(extra_args).__name__}")
    present = [k for k in CONSTRAINT_KEYS if k in extra_args]
    if not present:
        return None
    if len(present) > 1:
        raise ConstraintError(f"extra_args name {len(present)} constraints ({', '.join(present)}); "
                              "give at most one of " + ", ".join(CONSTRAINT_KEYS))
    kind = present[0]
    stray = sorted(k for k in extra_args if k in _ALL_OPTIONS and k not in _OPTIONS[kind])
    if stray:
        raise ConstraintError(f"option(s) {stray} do not apply to {kind!r} "
                              f"(it takes {sorted(_OPTIONS[kind]) or 'no options'})")
    options = tuple(sorted((k, _hashable(_option(k, extra_args[k]))) for k in _OPTIONS[kind] if k in extra_args))
    value = extra_args[kind]
    if kind == "json_schema":
        text = _canonical_json(value, kind, (dict, bool))
    elif kind == "tools":
        text = _canonical_json(value, kind, (list,))
    elif isinstance(value, str):
        text = value
    else:
        raise ConstraintError(f"{kind!r} must be a string, got {type(value).__name__}")
    return Constraint(kind, text, options)


def _option(key: str, value: Any) -> Any:
    """A ``tool_choice`` object may come as JSON text: ``vllm_xargs`` over HTTP carries only
    strings, numbers and lists of them."""
    if key == "tool_choice" and isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise ConstraintError(f"'tool_choice' is not valid JSON text: {e}") from None
    return value


def _canonical_json(value: Any, kind: str, types: tuple[type, ...]) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ConstraintError(f"{kind!r} is not valid JSON text: {e}") from None
    if not isinstance(value, types):
        wanted = " or ".join("an object" if t is dict else "a list" if t is list else "a boolean" for t in types)
        raise ConstraintError(f"{kind!r} must be {wanted} (or its JSON text), got {type(value).__name__}")
    # Key order is kept: it is the property order of the output (property_order="schema").
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _hashable(value: Any) -> Any:
    """Options may be JSON values (a tool_choice object): freeze them for the cache key."""
    if isinstance(value, (dict, list)):
        return _Frozen(json.dumps(value, sort_keys=True))
    return value


class _Frozen(str):
    """JSON text of an option that was an object or list: hashable, and thawed on compile."""


class GrammarCache:
    """Compiled grammars by constraint, for one vocabulary: the second request with the same
    schema reuses the first one's grammar and every token mask it has computed so far.

    Bounded (least recently used out) because a server sees an open-ended stream of schemas.
    Thread-safe: vLLM may validate and compile on different threads.
    """

    def __init__(self, vocab: Vocabulary, max_entries: int = 256):
        self.vocab = vocab
        self.max_entries = max_entries
        self._grammars: OrderedDict[Constraint, Grammar] = OrderedDict()
        self._lock = threading.Lock()
        self.compiled = 0  # how many compilations ran (tests, metrics)

    def get(self, constraint: Constraint) -> Grammar:
        with self._lock:
            grammar = self._grammars.get(constraint)
            if grammar is not None:
                self._grammars.move_to_end(constraint)
                return grammar
        grammar = constraint.compile(self.vocab)  # outside the lock: compiles may run in parallel
        with self._lock:
            self.compiled += 1
            self._grammars[constraint] = grammar
            while len(self._grammars) > self.max_entries:
                self._grammars.popitem(last=False)
        return grammar

    def __len__(self) -> int:
        return len(self._grammars)


_BYTE_VOCAB: Vocabulary | None = None
_VALIDATED: GrammarCache | None = None


def validate_constraint(extra_args: Mapping[str, Any] | None) -> Constraint | None:
    """Parse and check that the constraint compiles; raises :class:`ConstraintError` naming the
    problem (the schema error's keyword and JSON pointer included). Results are cached."""
    global _BYTE_VOCAB, _VALIDATED
    constraint = parse_constraint(extra_args)
    if constraint is None:
        return None
    if _VALIDATED is None:
        _BYTE_VOCAB = Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None], eos_token_ids=[256])
        _VALIDATED = GrammarCache(_BYTE_VOCAB, max_entries=1024)
    try:
        _VALIDATED.get(constraint)
    except ConstraintError:
        raise
    except (enforcer.EnforcerError, ValueError, TypeError) as e:
        raise ConstraintError(f"{constraint.kind} does not compile: {e}") from e
    return constraint
