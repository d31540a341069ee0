"""The request layer every adapter shares: what a request asks for, compiled once, enforced with
one failure policy.

A server sees requests, not grammars. Each names at most one constraint, with its options, in a
plain mapping (vLLM's ``SamplingParams.extra_args``, a JSON body)::

    {"json_schema": {...} or "<JSON text>", "whitespace": "flexible", ...}
    {"regex": "[0-9]{3}"}
    {"grammar": "<GBNF text>", "start": "root"}
    {"tools": [...], "tool_choice": "auto" | "required" | {...}, "tool_format": "llama3_json"}
    {"choice": ["yes", "no"]}

Keys other than these are left alone: such a mapping is shared with other consumers.
:func:`parse_constraint` turns it into a :class:`Constraint` (canonical, hashable: the cache key),
:class:`ConstraintService` compiles constraints for one vocabulary (bounded LRU cache), validates
them at admission and opens a :class:`GuardedMatcher` per request.

**The failure policy.** A constraint that cannot be enforced fails *closed*: the request may only
end (EOS, the whole set), the reason is logged once, and nothing is raised into the batch. That
covers a constraint that does not compile for the model, a sampled token the grammar rejects
(something after the mask changed it) and any error while computing a mask. Failing open (the
request continues unconstrained) would hand a client output that looks enforced and is not;
raising would stop every other request of the batch. Errors a caller can see *before* generation
(a malformed request, a schema that does not compile) are raised as :class:`ConstraintError` by
:meth:`ConstraintService.validate`, so a server answers them with a 400.

**Compilation** goes through a compiler-like object: anything with ``vocab`` and the four compile
methods of the public API without the vocabulary argument (``compile_json_schema(schema,
**options)``, ``compile_regex(pattern)``, ``compile_grammar(text, **options)``,
``compile_tools(tools, **options)``), as :class:`~enforcer.Compiler` has. :func:`default_compiler`
is the one place that picks it: the vocabulary's shared compiler.

No framework is imported here: the adapters (transformers, vLLM, and later llama.cpp and MLX)
bring the batch bookkeeping and the kernels.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from .engine import Grammar, Matcher
from .errors import ConstraintError, EnforcerError, GrammarSyntaxError
from .vocab import Vocabulary

logger = logging.getLogger("enforcer.service")

__all__ = ["CONSTRAINT_KEYS", "CompilerLike", "Constraint", "ConstraintError", "ConstraintService", "GrammarCache",
           "GuardedMatcher", "choice_grammar", "closed_matcher", "default_compiler", "guard", "parse_constraint",
           "validate_constraint"]

_JSON_OPTIONS = ("whitespace", "property_order", "strict", "max_whitespace", "max_integer_digits",
                 "max_fraction_digits", "max_exponent_digits", "canonical_integers")
# constraint key -> the options it accepts, as request key -> keyword argument of the compile
# function (any of these with another constraint is an error). "tool_format" is the one renamed:
# a bare "format" in a mapping shared with other consumers would say too little.
_OPTIONS: dict[str, dict[str, str]] = {
    "json_schema": {k: k for k in _JSON_OPTIONS},
    "regex": {},
    "grammar": {"start": "start"},
    "tools": {"tool_choice": "tool_choice", "parallel_tool_calls": "parallel_tool_calls",
              "tool_format": "format", "reasoning": "reasoning", "max_calls": "max_calls",
              "max_text_length": "max_text_length", **{k: k for k in _JSON_OPTIONS}},
    "choice": {},
}
CONSTRAINT_KEYS: tuple[str, ...] = tuple(_OPTIONS)
_ALL_OPTIONS = frozenset().union(*_OPTIONS.values())


# -- compilers ------------------------------------------------------------------------------------

class CompilerLike(Protocol):
    """What the service compiles with: one vocabulary, the four compile methods."""

    vocab: Vocabulary

    def compile_json_schema(self, schema: Any, **options: Any) -> Grammar: ...

    def compile_regex(self, pattern: str) -> Grammar: ...

    def compile_grammar(self, text: str, **options: Any) -> Grammar: ...

    def compile_tools(self, tools: Any, **options: Any) -> Grammar: ...


def default_compiler(vocab: Vocabulary) -> CompilerLike:
    """The compiler a service uses when given a bare vocabulary: the vocabulary's shared
    :class:`~enforcer.Compiler` (the one the module-level compile functions use)."""
    from .compiler import default_compiler as shared

    return shared(vocab)


def _as_compiler(compiler: CompilerLike | Vocabulary) -> CompilerLike:
    return default_compiler(compiler) if isinstance(compiler, Vocabulary) else compiler


# -- constraints ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Constraint:
    """One request's constraint in canonical form: equal constraints compare (and hash) equal,
    however the request spelled them (dict or JSON text, spacing)."""

    kind: str      # one of CONSTRAINT_KEYS
    text: str      # canonical text: compact JSON for schemas, tools and choices (order kept), as given otherwise
    options: tuple[tuple[str, Any], ...] = ()

    def compile(self, compiler: CompilerLike | Vocabulary) -> Grammar:
        """Compile with ``compiler`` (or for a vocabulary); raises enforcer's errors."""
        compiler = _as_compiler(compiler)
        names = _OPTIONS[self.kind]
        options = {names[k]: json.loads(v) if isinstance(v, _Frozen) else v for k, v in self.options}
        if self.kind == "json_schema":
            return compiler.compile_json_schema(json.loads(self.text), **options)
        if self.kind == "regex":
            return compiler.compile_regex(self.text)
        if self.kind == "grammar":
            return compiler.compile_grammar(self.text, **options)
        if self.kind == "choice":
            return compiler.compile_grammar(choice_grammar(json.loads(self.text)))
        return compiler.compile_tools(json.loads(self.text), **options)


def parse_constraint(request: Mapping[str, Any] | None) -> Constraint | None:
    """The constraint ``request`` asks for, or ``None`` (the request is left free).

    Raises :class:`ConstraintError` for two constraint keys, wrong types, options that do not
    belong to the constraint given, or JSON text that does not parse. Compiles nothing.
    """
    if not request:
        return None
    if not isinstance(request, Mapping):
        raise ConstraintError(f"the request's arguments must be a mapping, got {type(request).__name__}")
    present = [k for k in CONSTRAINT_KEYS if k in request]
    if not present:
        return None
    if len(present) > 1:
        raise ConstraintError(f"the request names {len(present)} constraints ({', '.join(present)}); "
                              "give at most one of " + ", ".join(CONSTRAINT_KEYS))
    kind = present[0]
    stray = sorted(k for k in request if k in _ALL_OPTIONS and k not in _OPTIONS[kind])
    if stray:
        raise ConstraintError(f"option(s) {stray} do not apply to {kind!r} "
                              f"(it takes {sorted(_OPTIONS[kind]) or 'no options'})")
    options = tuple(sorted((k, _hashable(_option(k, request[k]))) for k in _OPTIONS[kind] if k in request))
    value = request[kind]
    if kind == "json_schema":
        text = _canonical_json(value, kind, (dict, bool))
    elif kind == "tools":
        text = _canonical_json(value, kind, (list,))
    elif kind == "choice":
        if isinstance(value, str) and not value.lstrip().startswith("["):
            raise ConstraintError("'choice' must be a list of strings (or its JSON text), got a string")
        text = _canonical_json(value, kind, (list,))
        choices = json.loads(text)
        if not choices:
            raise ConstraintError("'choice' needs at least one string")
        if not all(isinstance(c, str) for c in choices):
            raise ConstraintError("'choice' must be a list of strings")
    elif isinstance(value, str):
        text = value
    else:
        raise ConstraintError(f"{kind!r} must be a string, got {type(value).__name__}")
    return Constraint(kind, text, options)


def choice_grammar(choices: list[str]) -> str:
    """GBNF text whose language is exactly ``choices`` (each a literal, in the order given)."""
    return "root ::= " + " | ".join(_gbnf_literal(c) for c in choices)


def _gbnf_literal(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _option(key: str, value: Any) -> Any:
    """A ``tool_choice`` object may come as JSON text: vLLM's ``vllm_xargs`` over HTTP carries
    only strings, numbers and lists of them."""
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


def _compile_error(constraint: Constraint, error: Exception) -> ConstraintError:
    return ConstraintError(f"{constraint.kind} does not compile: {error}", keyword=getattr(error, "keyword", None),
                           pointer=getattr(error, "pointer", "") or "")


# -- the grammar cache ----------------------------------------------------------------------------

DEFAULT_CACHE_BYTES = 2 << 30
"""What a :class:`GrammarCache` may hold by default: 2 GiB of state tables and token masks."""


def _grammar_bytes(grammar: Any) -> int:
    return int(getattr(grammar, "memory_bytes", 0))


class GrammarCache:
    """Compiled grammars by constraint, for one vocabulary: the second request with the same
    schema reuses the first one's grammar and every token mask it has computed so far.

    Bounded (least recently used out) because a server sees an open-ended stream of schemas:
    at most ``max_entries`` grammars holding ``max_bytes`` in all (state tables and the masks
    they computed since, :attr:`Grammar.memory_bytes`; a grammar in use by a request stays
    alive with it, the cache only forgets it). Thread-safe: a server may validate and compile on
    different threads.
    """

    def __init__(self, compiler: CompilerLike | Vocabulary, max_entries: int = 256,
                 max_bytes: int = DEFAULT_CACHE_BYTES):
        self.compiler = _as_compiler(compiler)
        self.vocab: Vocabulary = self.compiler.vocab
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._grammars: OrderedDict[Constraint, Grammar] = OrderedDict()
        self._lock = threading.Lock()
        self.compiled = 0  # how many compilations ran (tests, metrics)

    def get(self, constraint: Constraint) -> Grammar:
        with self._lock:
            grammar = self._grammars.get(constraint)
            if grammar is not None:
                self._grammars.move_to_end(constraint)
                return grammar
        grammar = constraint.compile(self.compiler)  # outside the lock: compiles may run in parallel
        with self._lock:
            self.compiled += 1
            self._grammars[constraint] = grammar
            while len(self._grammars) > self.max_entries:
                self._grammars.popitem(last=False)
            self._evict_to_bytes()
        return grammar

    @property
    def memory_bytes(self) -> int:
        return sum(_grammar_bytes(g) for g in self._grammars.values())

    def _evict_to_bytes(self) -> None:
        """Forget the least recently used grammars while the cache holds more than
        ``max_bytes`` (grammars grow after they are cached: their masks are computed as
        generation goes, so the total is taken anew at each compile)."""
        total = self.memory_bytes
        while total > self.max_bytes and len(self._grammars) > 1:
            _, grammar = self._grammars.popitem(last=False)
            total -= _grammar_bytes(grammar)

    def __len__(self) -> int:
        return len(self._grammars)


# -- the failure policy ---------------------------------------------------------------------------

class GuardedMatcher:
    """A request's matcher under the failure policy: it never raises into the batch.

    It answers like a :class:`~enforcer.Matcher` while the constraint is enforced. Once something
    goes wrong (no matcher at all because the constraint did not compile, a rejected token, an
    error while computing a mask) it *fails closed*: from then on only EOS is allowed, tokens are
    counted but not checked, and the reason is in :attr:`failure` and logged once per request
    (forks, for beam search, share the one log line).
    """

    __slots__ = ("matcher", "failure", "label", "_closed", "_seen", "_ended", "_logged")

    def __init__(self, matcher: Matcher | None, closed: Matcher, *, label: str = "request",
                 failure: str | None = None):
        self.matcher = matcher
        self.label = label
        self._closed = closed  # an EOS-only matcher, never advanced: the mask of a failed request
        self._seen = 0
        self._ended = False
        self._logged = [False]
        self.failure: str | None = None
        if matcher is None or failure is not None:
            self._fail(failure or "no matcher")

    @property
    def failed(self) -> bool:
        return self.failure is not None

    @property
    def num_tokens(self) -> int:
        """Tokens fed so far, accepted or not (where to resume in a request's output)."""
        return self._seen

    def _fail(self, reason: str, error: BaseException | None = None) -> None:
        self.failure = reason
        if not self._logged[0]:
            self._logged[0] = True
            unexpected = error is not None and not isinstance(error, EnforcerError)
            logger.error("enforcer: %s: %s; the request fails closed (it may only end now)", self.label, reason,
                         exc_info=error if unexpected else None)

    def advance(self, token_id: int) -> bool:
        """Feed one sampled token; ``False`` once the request has failed closed."""
        self._seen += 1
        if self.failure is None:
            try:
                self.matcher.advance(token_id)
                return True
            except Exception as e:  # noqa: BLE001 - the policy: no error reaches the batch
                self._fail(f"token {token_id!r} was rejected ({e})", e)
        if token_id in self._closed.grammar.vocab.eos_token_ids:
            self._ended = True
        return False

    def advance_all(self, tokens: Any) -> bool:
        ok = True
        for token in tokens:
            ok = self.advance(token) and ok
        return ok

    def fill_next_token_bitmask(self, bitmask: Any, row: int = 0) -> None:
        """Write the allowed tokens into row ``row``; EOS only once failed. A bitmask the
        matcher cannot write (wrong dtype or width) is the caller's error and still raises."""
        if self.failure is None:
            try:
                self.matcher.fill_next_token_bitmask(bitmask, row)
                return
            except Exception as e:  # noqa: BLE001
                self._fail(f"its token mask could not be computed ({e})", e)
        self._closed.fill_next_token_bitmask(bitmask, row)

    def allowed_token_ids(self) -> list[int]:
        if self.failure is None:
            try:
                return self.matcher.allowed_token_ids()
            except Exception as e:  # noqa: BLE001
                self._fail(f"its token mask could not be computed ({e})", e)
        return self._closed.allowed_token_ids()

    def is_token_allowed(self, token_id: int) -> bool:
        if self.failure is None:
            try:
                return self.matcher.is_token_allowed(token_id)
            except Exception as e:  # noqa: BLE001
                self._fail(f"its token mask could not be computed ({e})", e)
        return token_id in self._closed.grammar.vocab.eos_token_ids

    def is_complete(self) -> bool:
        """EOS may come now (always, once failed)."""
        return self.failure is not None or self.matcher.is_complete()

    def is_terminated(self) -> bool:
        return self._ended if self.failure is not None else self.matcher.is_terminated()

    def fork(self) -> GuardedMatcher:
        twin = GuardedMatcher.__new__(GuardedMatcher)
        twin.matcher = self.matcher.fork() if self.matcher is not None else None
        twin.failure, twin.label, twin._closed = self.failure, self.label, self._closed
        twin._seen, twin._ended, twin._logged = self._seen, self._ended, self._logged
        return twin

    def rollback(self, n_tokens: int = 1) -> None:
        """Undo the last ``n_tokens`` (speculative decoding). A failed request stays failed."""
        if self.failure is None:
            self.matcher.rollback(n_tokens)
        self._seen = max(0, self._seen - n_tokens)
        self._ended = self._ended and self._seen > 0

    def reset(self) -> None:
        """Start over (a preempted request replays its tokens): a rejected token may be replayed
        and fail again (logged once all the same); a constraint that did not compile stays failed."""
        self._seen, self._ended = 0, False
        if self.matcher is not None:
            self.matcher.reset()
            self.failure = None


# -- the service ----------------------------------------------------------------------------------

_CLOSED = Constraint("regex", "")  # matches only the empty output: EOS is the only token allowed


class ConstraintService:
    """Constraints for one vocabulary: validate at admission, compile once, enforce per request.

    ``compiler``: a vocabulary (compiled with :func:`default_compiler`) or a compiler-like object
    (see :class:`CompilerLike`). ``max_entries`` and ``max_bytes`` bound the grammar cache.

    Example (what an adapter does)::

        service = ConstraintService(vocab)
        constraint = service.validate(request)       # ConstraintError: answer 400
        matcher = service.matcher(constraint)        # None for a free request; never raises
        matcher.fill_next_token_bitmask(bitmask, row)
        matcher.advance(token)                       # a rejected token fails closed, logged
    """

    def __init__(self, compiler: CompilerLike | Vocabulary, *, max_entries: int = 256,
                 max_bytes: int = DEFAULT_CACHE_BYTES):
        self.grammars = GrammarCache(compiler, max_entries=max_entries, max_bytes=max_bytes)
        self.vocab = self.grammars.vocab

    def validate(self, request: Mapping[str, Any] | Constraint | None) -> Constraint | None:
        """The request's constraint, compiled for this vocabulary (and cached); raises
        :class:`ConstraintError` naming the problem (the schema error's keyword and pointer too)."""
        constraint = request if isinstance(request, Constraint) else parse_constraint(request)
        if constraint is None:
            return None
        try:
            self.grammars.get(constraint)
        except ConstraintError:
            raise
        except (EnforcerError, ValueError, TypeError) as e:
            raise _compile_error(constraint, e) from e
        return constraint

    def grammar(self, constraint: Constraint) -> Grammar:
        """The compiled grammar (cached); raises the compile error."""
        return self.grammars.get(constraint)

    def closed_matcher(self) -> Matcher:
        """A matcher that allows only EOS: what a failed request is masked with."""
        return closed_matcher(self.vocab)

    def matcher(self, constraint: Constraint | None, *, label: str = "request",
                max_tokens: int | None = None) -> GuardedMatcher | None:
        """A fresh matcher for ``constraint`` (``None`` for a free request). Never raises: a
        constraint that does not compile gives a matcher that failed closed (logged).
        ``max_tokens``: the request's token budget, EOS included (the output then completes
        within it whenever a valid output fits; see :mod:`enforcer.engine.budget`)."""
        if constraint is None:
            return None
        try:
            matcher = self.grammars.get(constraint).matcher(max_tokens=max_tokens)
        except Exception as e:  # noqa: BLE001 - the policy: a bad constraint must not take the batch down
            guard = GuardedMatcher(None, self.closed_matcher(), label=label,
                                   failure=f"the {constraint.kind} constraint does not compile for this model ({e})")
            return guard
        return GuardedMatcher(matcher, self.closed_matcher(), label=label)

    def guard(self, matcher: Matcher, *, label: str = "request") -> GuardedMatcher:
        """Put a matcher of an already compiled grammar (for this vocabulary) under the policy."""
        return GuardedMatcher(matcher, self.closed_matcher(), label=label)


def closed_matcher(vocab: Vocabulary) -> Matcher:
    """A matcher that allows only EOS in ``vocab`` (its grammar is compiled once per vocabulary)."""
    return vocab.derived("enforcer.service.closed", _CLOSED.compile).matcher()


def guard(grammar: Grammar, *, label: str = "request", max_tokens: int | None = None) -> GuardedMatcher:
    """A fresh matcher of ``grammar`` under the failure policy (adapters that hold a compiled
    grammar rather than a request: transformers' processors); ``max_tokens``: its budget."""
    return GuardedMatcher(grammar.matcher(max_tokens=max_tokens), closed_matcher(grammar.vocab), label=label)


# -- validation without the model's vocabulary ------------------------------------------------------

_BYTES_LOCK = threading.Lock()
_BYTES: ConstraintService | None = None


def _byte_service() -> ConstraintService:
    global _BYTES
    with _BYTES_LOCK:
        if _BYTES is None:
            vocab = Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None], eos_token_ids=[256])
            _BYTES = ConstraintService(vocab, max_entries=1024)
        return _BYTES


def validate_constraint(request: Mapping[str, Any] | None, service: ConstraintService | None = None) -> Constraint | None:
    """Validate a request's constraint: against ``service``'s vocabulary when there is one,
    else (no model vocabulary at hand yet) against a 257-token byte vocabulary.

    The byte vocabulary raises the same schema, regex and grammar errors as the model's in
    microseconds, with one exception: it has no special tokens, so it cannot tell whether a
    grammar's token reference (``<|python_tag|>``) exists in the model. A grammar error that could
    come from such a reference (the grammar has a ``<`` outside its syntax errors) is therefore
    let through: the engine, with the model's vocabulary, fails the request closed if it really
    does not fit. Validation never refuses what the model would accept.
    """
    if service is not None:
        return service.validate(request)
    constraint = parse_constraint(request)
    if constraint is None:
        return None
    try:
        return _byte_service().validate(constraint)
    except ConstraintError as e:
        cause = e.__cause__
        if constraint.kind == "grammar" and "<" in constraint.text and not isinstance(cause, GrammarSyntaxError):
            logger.debug("enforcer: not refusing a grammar the byte vocabulary cannot check (%s)", cause)
            return constraint
        raise
