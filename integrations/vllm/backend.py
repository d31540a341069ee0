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

Requests become :mod:`enforcer.service` constraints (one cache, the same ``choice`` grammar as the
logits processor). Failures follow vLLM's per-request error path, which is closed: a grammar that
does not compile fails that request (vLLM keeps the exception in the request's future), and a
rejected token makes ``accept_tokens`` answer ``False`` (vLLM finishes the request with an error).
What vLLM does not catch is an error while filling a mask (it runs for the whole batch): there
the service's guard fails the request closed (EOS only, logged), and any token but EOS after that
is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from vllm.v1.structured_output.backend_types import (StructuredOutputBackend, StructuredOutputGrammar,
                                                     StructuredOutputOptions)

from enforcer import Matcher
from enforcer.masking import allocate_token_bitmask
from enforcer.service import (Constraint, ConstraintError, ConstraintService, GuardedMatcher, closed_matcher,
                              parse_constraint)

from .vocabulary import service_for, vocabulary_for

#: What the backend did in this process: ``backends`` created, ``compiled`` grammars requested
#: by vLLM (cache hits included), ``validated`` speculative draft tokens checked and
#: ``rolled_back`` tokens undone. Tests read it to prove enforcer served a request.
STATS = {"backends": 0, "compiled": 0, "validated": 0, "rolled_back": 0}

def constraint_for(request_type: StructuredOutputOptions, spec: str) -> Constraint:
    """vLLM's (type, spec) as one of our constraints; :class:`ConstraintError` for what we do
    not support."""
    if request_type == StructuredOutputOptions.JSON:
        return Constraint("json_schema", spec)
    if request_type == StructuredOutputOptions.JSON_OBJECT:
        return Constraint("json_schema", '{"type":"object"}')
    if request_type == StructuredOutputOptions.REGEX:
        return Constraint("regex", spec)
    if request_type == StructuredOutputOptions.CHOICE:
        return parse_constraint({"choice": spec})
    if request_type == StructuredOutputOptions.GRAMMAR:
        return Constraint("grammar", spec)
    raise ConstraintError(f"the enforcer backend does not support {request_type.name} requests")


@dataclass
class EnforcerGrammar(StructuredOutputGrammar):
    """One request's matcher, in vLLM's grammar interface (rollback for speculative decoding)."""

    matcher: GuardedMatcher
    num_processed_tokens: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.matcher, Matcher):  # a bare matcher: put it under the failure policy
            self.matcher = GuardedMatcher(self.matcher, closed_matcher(self.matcher.grammar.vocab),
                                          label="structured-output request")

    def accept_tokens(self, request_id: str, tokens: list[int]) -> bool:
        """Advance through ``tokens``; tokens after EOS are ignored (vLLM may send the padding of
        a speculative step); ``False`` if the grammar forbids one (vLLM then finishes the
        request with an error)."""
        for token in tokens:
            if self.matcher.is_terminated():
                break
            self.matcher.label = f"request {request_id}"
            accepted = self.matcher.advance(token)
            self.num_processed_tokens += 1
            if not accepted and not self.matcher.is_terminated():
                return False
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

    _services: dict[Any, ConstraintService] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        STATS["backends"] += 1

    def _service(self, stop_token_ids: set[int] | None) -> ConstraintService:
        key = None if not stop_token_ids else frozenset(stop_token_ids)
        service = self._services.get(key)
        if service is None:
            vocab = vocabulary_for(self.vllm_config.model_config, self.tokenizer,
                                   eos_token_ids=None if key is None else sorted(key))
            service = self._services[key] = service_for(vocab)
        return service

    def compile_grammar(self, request_type: StructuredOutputOptions, grammar_spec: str,
                        stop_token_ids: set[int] | None = None) -> StructuredOutputGrammar:
        """Raises the compile error: vLLM fails this request only (see the module docstring)."""
        constraint = constraint_for(request_type, grammar_spec)
        service = self._service(stop_token_ids)
        grammar = service.grammar(constraint)
        STATS["compiled"] += 1
        return EnforcerGrammar(service.guard(grammar.matcher(), label=f"structured-output {constraint.kind} request"))

    def allocate_token_bitmask(self, max_num_seqs: int) -> torch.Tensor:
        return allocate_token_bitmask(max_num_seqs, self.vocab_size)

    def destroy(self) -> None:
        self._services.clear()


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
