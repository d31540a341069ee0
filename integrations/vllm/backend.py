"""enforcer as vLLM's structured-output backend (unofficial, opt-in, vLLM 0.32.x only).

Why a backend besides the logits processor: requests keep vLLM's own API
(``StructuredOutputsParams(json=...)``, ``response_format`` over HTTP), masks are filled by
vLLM's structured-output manager beside the forward pass, and speculative decoding works (the
grammar validates draft tokens and rolls back the rejected ones; logits processors are refused
under speculative decoding).

vLLM has no registry for third-party backends: the choice is hard-coded in
``StructuredOutputManager.grammar_init``. :func:`install` wraps that method so that the manager's
backend is ours before the first grammar is compiled, whatever backend the frontend picked while
validating the request. It is installed by :mod:`enforcer.integrations.vllm.plugin` only when
``ENFORCER_VLLM_BACKEND=1`` and only on the vLLM versions it was tested with; vLLM falls back to
its built-in backend silently when a patch does not take, so :data:`STATS` counts what we served.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from vllm.v1.structured_output.backend_types import (StructuredOutputBackend, StructuredOutputGrammar,
                                                     StructuredOutputOptions)

from enforcer import Matcher, TokenRejectedError
from enforcer.masking import allocate_token_bitmask

from .constraints import Constraint, GrammarCache
from .vocabulary import vocabulary_for

logger = logging.getLogger("enforcer.integrations.vllm")

#: What the backend did in this process: ``backends`` created, ``compiled`` grammars requested
#: by vLLM (cache hits included), ``validated`` speculative draft tokens checked and
#: ``rolled_back`` tokens undone. Tests read it to prove enforcer served a request.
STATS = {"backends": 0, "compiled": 0, "validated": 0, "rolled_back": 0}

_REGEX_SYNTAX = frozenset("^$\\.*+?()[]{}|/")


def _regex_literal(text: str) -> str:
    """``text`` as an ECMA-262 regex matching exactly it (only syntax characters escaped: the
    ``u`` flag forbids escaping anything else)."""
    return "".join("\\" + c if c in _REGEX_SYNTAX else c for c in text)


def constraint_for(request_type: StructuredOutputOptions, spec: str) -> Constraint:
    """vLLM's (type, spec) as one of our constraints; ``ValueError`` for what we do not support."""
    if request_type == StructuredOutputOptions.JSON:
        return Constraint("json_schema", spec)
    if request_type == StructuredOutputOptions.JSON_OBJECT:
        return Constraint("json_schema", '{"type":"object"}')
    if request_type == StructuredOutputOptions.REGEX:
        return Constraint("regex", spec)
    if request_type == StructuredOutputOptions.CHOICE:
        choices = json.loads(spec)
        return Constraint("regex", "|".join(_regex_literal(str(c)) for c in choices))
    if request_type == StructuredOutputOptions.GRAMMAR:
        return Constraint("grammar", spec)
    raise ValueError(f"the enforcer backend does not support {request_type.name} requests")


@dataclass
class EnforcerGrammar(StructuredOutputGrammar):
    """One request's matcher, in vLLM's grammar interface (rollback for speculative decoding)."""

    matcher: Matcher
    num_processed_tokens: int = field(default=0, init=False)

    def accept_tokens(self, request_id: str, tokens: list[int]) -> bool:
        """Advance through ``tokens``; tokens after EOS are ignored (vLLM may send the padding of
        a speculative step); ``False`` if the grammar forbids one."""
        for token in tokens:
            if self.matcher.is_terminated():
                break
            try:
                self.matcher.advance(token)
            except TokenRejectedError as e:
                logger.error("enforcer backend: request %s: %s", request_id, e)
                return False
            self.num_processed_tokens += 1
        return True

    def validate_tokens(self, tokens: list[int]) -> list[int]:
        """The longest prefix of ``tokens`` (draft tokens) the grammar accepts, without moving."""
        STATS["validated"] += len(tokens)
        probe = self.matcher.fork()
        accepted: list[int] = []
        for token in tokens:
            if probe.is_terminated() or not probe.is_token_allowed(token):
                break
            probe.advance(token)
            accepted.append(token)
        return accepted

    def rollback(self, num_tokens: int) -> None:
        self.matcher.rollback(num_tokens)
        self.num_processed_tokens -= num_tokens
        STATS["rolled_back"] += num_tokens

    def fill_bitmask(self, bitmask: torch.Tensor, idx: int) -> None:
        self.matcher.fill_next_token_bitmask(bitmask, idx)

    def is_terminated(self) -> bool:
        return self.matcher.is_terminated()

    def reset(self) -> None:
        self.matcher.reset()
        self.num_processed_tokens = 0


@dataclass
class EnforcerBackend(StructuredOutputBackend):
    """Compiles vLLM's structured-output requests with enforcer, one grammar cache per EOS set."""

    _caches: dict[Any, GrammarCache] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        STATS["backends"] += 1

    def _cache(self, stop_token_ids: set[int] | None) -> GrammarCache:
        key = None if not stop_token_ids else frozenset(stop_token_ids)
        cache = self._caches.get(key)
        if cache is None:
            vocab = vocabulary_for(self.vllm_config.model_config, self.tokenizer,
                                   eos_token_ids=None if key is None else sorted(key))
            cache = self._caches[key] = GrammarCache(vocab)
        return cache

    def compile_grammar(self, request_type: StructuredOutputOptions, grammar_spec: str,
                        stop_token_ids: set[int] | None = None) -> StructuredOutputGrammar:
        constraint = constraint_for(request_type, grammar_spec)
        grammar = self._cache(stop_token_ids).get(constraint)
        STATS["compiled"] += 1
        return EnforcerGrammar(grammar.matcher())

    def allocate_token_bitmask(self, max_num_seqs: int) -> torch.Tensor:
        return allocate_token_bitmask(max_num_seqs, self.vocab_size)

    def destroy(self) -> None:
        self._caches.clear()


def install() -> bool:
    """Make every ``StructuredOutputManager`` of this process use :class:`EnforcerBackend`.
    Idempotent (vLLM loads general plugins once per process, sometimes more)."""
    from vllm.v1.structured_output import StructuredOutputManager

    original = StructuredOutputManager.grammar_init
    if getattr(original, "_enforcer", False):
        return False

    def grammar_init(self: StructuredOutputManager, request: Any) -> None:
        if request.structured_output_request is not None and not isinstance(self.backend, EnforcerBackend):
            self.backend = EnforcerBackend(self.vllm_config, tokenizer=self.tokenizer,
                                           vocab_size=self.vllm_config.model_config.get_vocab_size())
        original(self, request)

    grammar_init._enforcer = True  # type: ignore[attr-defined]
    grammar_init.__wrapped__ = original  # type: ignore[attr-defined]
    StructuredOutputManager.grammar_init = grammar_init  # type: ignore[method-assign]
    return True


def uninstall() -> bool:
    """Undo :func:`install` (tests; a process that wants vLLM's own backend back)."""
    from vllm.v1.structured_output import StructuredOutputManager

    current = StructuredOutputManager.grammar_init
    if not getattr(current, "_enforcer", False):
        return False
    StructuredOutputManager.grammar_init = current.__wrapped__  # type: ignore[attr-defined]
    return True
