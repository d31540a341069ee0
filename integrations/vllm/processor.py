"""``EnforcerLogitsProcessor``: per-request constraints in vLLM's batch-level logits processor.

vLLM 0.32 has two model runners with two processor interfaces that share one entry-point group
(``vllm.logits_processors``) and one ``--logits-processors`` flag:

* V1 (``vllm.v1.sample.logits_processor.LogitsProcessor``): built as ``cls(vllm_config, device,
  is_pin_memory)``; ``update_state(batch_update)`` reports requests added to, removed from and
  moved within the persistent batch, each added one with a *live* list of its output tokens;
  ``apply(logits)`` with one row per batch index. The CPU platform uses it.
* V2 (``vllm.v1.worker.gpu.sample.logits_processor.LogitsProcessor``): built as
  ``cls(vllm_config, req_states)``; ``add_request(slot, params)``; ``apply(logits, ctx)`` where
  ``ctx`` maps rows to request slots and the tokens live on the device in ``req_states``.
  The default GPU runner, whose plugin loader refuses classes that are not V2 subclasses.

One class that is a subclass of both and picks its implementation by how vLLM constructs it lets
one entry point serve either runner; without it, installing enforcer would stop the V2 runner
from starting. The implementations (:class:`_V1Requests`, :class:`_V2Slots`) share everything
but the bookkeeping: the lazily built vocabulary, the request layer (:mod:`enforcer.service`:
constraints, the grammar cache, the failure policy) and the batched masking.

The failure policy is the service's: a request whose constraint cannot be enforced (it does not
compile for this model, a sampled token is rejected, a mask cannot be computed) fails closed
(EOS only, logged once); the other requests of the batch carry on.

Requests without a constraint key in ``extra_args`` cost nothing: with none constrained in the
batch, ``apply`` returns at once, and the vocabulary is only built for the first constrained one.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import torch

from enforcer import OptionError
from enforcer.masking import allocate_token_bitmask, apply_token_bitmask_inplace
from enforcer.service import (ConstraintError, ConstraintService, GuardedMatcher, closed_matcher, parse_constraint,
                              validate_constraint)
from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality
from vllm.v1.sample.logits_processor import LogitsProcessor as V1LogitsProcessor

from .vocabulary import register_engine_model, service_for, validation_service, vocabulary_for

try:  # Model Runner V2 (vLLM >= 0.3x); absent in older releases
    from vllm.v1.worker.gpu.sample.logits_processor import LogitsProcessor as V2LogitsProcessor
except ImportError:  # pragma: no cover - depends on the vLLM version
    V2LogitsProcessor = object  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from vllm import SamplingParams
    from vllm.config import VllmConfig


class _Masker:
    """What both runners share: one vocabulary and constraint service per model, one bitmask for
    the batch, and the masking of the constrained rows in a single call on the logits' device."""

    def __init__(self, vllm_config: VllmConfig, max_rows: int):
        self.vllm_config = vllm_config
        self.max_rows = max_rows
        self._service: ConstraintService | None = None
        self._bitmask: torch.Tensor | None = None
        register_engine_model(vllm_config.model_config)

    @property
    def service(self) -> ConstraintService:
        if self._service is None:  # first constrained request: build the vocabulary now
            self._service = service_for(vocabulary_for(self.vllm_config.model_config))
        return self._service

    def matcher_for(self, params: SamplingParams, where: str) -> GuardedMatcher | None:
        """A fresh matcher for the request's constraint, or ``None`` for a free request.

        Never raises (an exception here would stop the whole engine): ``validate_params`` has
        checked the request already; should its constraint still fail here, the request fails
        closed, logged.
        """
        try:
            constraint = parse_constraint(params.extra_args)
        except ConstraintError as e:
            return GuardedMatcher(None, closed_matcher(self.service.vocab), label=where, failure=str(e))
        if constraint is None:
            return None
        return self.service.matcher(constraint, label=f"{where} ({constraint.kind})", max_tokens=request_budget(params))

    def mask(self, logits: torch.Tensor, rows: list[int], matchers: list[GuardedMatcher]) -> torch.Tensor:
        """Mask ``logits[rows[k]]`` with ``matchers[k]``'s allowed tokens, in place."""
        vocab = self.service.vocab
        if self._bitmask is None:
            self._bitmask = allocate_token_bitmask(self.max_rows, vocab.size)
        for k, matcher in enumerate(matchers):
            matcher.fill_next_token_bitmask(self._bitmask, k)
        index = None if len(rows) == logits.shape[0] and rows == list(range(len(rows))) \
            else torch.tensor(rows, dtype=torch.long)
        return apply_token_bitmask_inplace(logits, self._bitmask[: len(rows)], vocab_size=vocab.size, rows=index)


def request_budget(params: SamplingParams) -> int | None:
    """The request's token budget for the matcher: ``max_tokens`` (EOS included, as vLLM counts
    it), so the output completes within it whenever a valid one fits. ``None`` (no budget) when
    the request opts out with ``extra_args={"budget": False}``, ignores EOS, or has no limit."""
    extra = params.extra_args or {}
    if extra.get("budget", True) is False or getattr(params, "ignore_eos", False):
        return None
    limit = getattr(params, "max_tokens", None)
    return limit if type(limit) is int and limit >= 1 else None


class _V1Requests:
    """V1 bookkeeping: matchers by persistent-batch index, fed from each request's live output
    list (vLLM appends to it; async scheduling leaves -1 placeholders that it repairs before
    ``apply`` for processors named in ``--logits-processors``)."""

    def __init__(self, vllm_config: VllmConfig):
        self.masker = _Masker(vllm_config, vllm_config.scheduler_config.max_num_seqs)
        self.requests: dict[int, tuple[GuardedMatcher, list[int]]] = {}

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if batch_update is None:
            return
        for index in batch_update.removed:
            self.requests.pop(index, None)
        for index, params, _prompt, output in batch_update.added:
            matcher = self.masker.matcher_for(params, f"the request added in batch row {index}")
            if matcher is None:
                self.requests.pop(index, None)  # a free request took over this index
            else:  # also a preempted request coming back: replay what it already generated
                self.requests[index] = (matcher, output)
        for a, b, direction in batch_update.moved:
            entry_a, entry_b = self.requests.pop(a, None), self.requests.pop(b, None)
            if entry_a is not None:
                self.requests[b] = entry_a
            if direction == MoveDirectionality.SWAP and entry_b is not None:
                self.requests[a] = entry_b

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.requests:
            return logits
        rows, matchers = [], []
        for index, (matcher, output) in list(self.requests.items()):
            new = output[matcher.num_tokens:]
            if -1 in new:
                raise RuntimeError(
                    "enforcer: vLLM has not filled in the last sampled token (async scheduling). "
                    "Name the processor explicitly (--logits-processors "
                    "enforcer.integrations.vllm:EnforcerLogitsProcessor) or pass --no-async-scheduling")
            matcher.advance_all(new)  # a rejected token fails the request closed: EOS next
            rows.append(index)
            matchers.append(matcher)
        return self.masker.mask(logits, rows, matchers) if rows else logits


class _V2Slots:
    """V2 bookkeeping: matchers by request slot. The committed tokens are on the device
    (``req_states.all_token_ids``); each step gathers the few new ones of the constrained
    requests in one copy. ``ctx.seq_lens_upper_bound_np`` is exact without speculative decoding,
    which is why it is refused here (the structured-output backend supports it)."""

    def __init__(self, vllm_config: VllmConfig, req_states: Any):
        self.req_states = req_states
        self.masker = _Masker(vllm_config, req_states.max_num_reqs)
        self.speculative = vllm_config.speculative_config is not None
        self.slots: dict[int, GuardedMatcher] = {}

    def add_request(self, slot: int, params: SamplingParams) -> bool:
        matcher = self.masker.matcher_for(params, f"the request in slot {slot}")
        if matcher is None:
            self.slots.pop(slot, None)
            return False
        if self.speculative:  # validate_params refuses these where it sees the config
            matcher = GuardedMatcher(None, closed_matcher(self.masker.service.vocab), label=matcher.label,
                                     failure=_SPECULATIVE)
        self.slots[slot] = matcher
        return True

    def apply(self, logits: torch.Tensor, ctx: Any) -> torch.Tensor:
        if not self.slots:
            return logits
        positions = [i for i, slot in enumerate(ctx.idx_mapping_np.tolist()) if slot in self.slots]
        if not positions:
            return logits
        self._catch_up(ctx, positions)
        rows, matchers = [], []
        for i in positions:
            slot = int(ctx.idx_mapping_np[i])
            if slot in self.slots:
                rows.append(i)
                matchers.append(self.slots[slot])
        return self.masker.mask(logits, rows, matchers) if rows else logits

    def _catch_up(self, ctx: Any, positions: list[int]) -> None:
        """Advance each constrained request's matcher to the tokens committed so far."""
        prompt_len = self.req_states.prompt_len.np
        want_slot, want_pos, owners = [], [], []
        for i in positions:
            slot = int(ctx.idx_mapping_np[i])
            matcher = self.slots[slot]
            start = int(prompt_len[slot]) + matcher.num_tokens
            end = int(ctx.seq_lens_upper_bound_np[i])
            if end < start:  # preempted and refilled: history shrank, start over
                matcher.reset()
                start = int(prompt_len[slot])
            for pos in range(start, end):
                want_slot.append(slot)
                want_pos.append(pos)
                owners.append(slot)
        if not want_pos:
            return
        table = self.req_states.all_token_ids.gpu
        tokens = table[torch.tensor(want_slot, device=table.device),
                       torch.tensor(want_pos, device=table.device)].tolist()
        new: dict[int, list[int]] = {}
        for slot, token in zip(owners, tokens):
            new.setdefault(slot, []).append(token)
        for slot, toks in new.items():
            self.slots[slot].advance_all(toks)  # a rejected token fails the request closed: EOS next


class _Idle:
    """A second instance in the same engine (the entry point *and* ``--logits-processors``
    name the class): it leaves the work to the first instead of masking every row twice."""

    requests: dict = {}
    slots: dict = {}

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        pass

    def add_request(self, slot: int, params: SamplingParams) -> bool:
        return False

    def apply(self, logits: torch.Tensor, ctx: Any = None) -> torch.Tensor:
        return logits


_SPECULATIVE = ("the enforcer logits processor does not support speculative decoding; use its "
                "structured-output backend (ENFORCER_VLLM_BACKEND=1)")

_ACTIVE: weakref.WeakValueDictionary[int, EnforcerLogitsProcessor] = weakref.WeakValueDictionary()


class EnforcerLogitsProcessor(V1LogitsProcessor, V2LogitsProcessor):
    """Constrains each request that asks for it in ``SamplingParams.extra_args``.

    Example::

        llm = LLM(model=..., logits_processors=[EnforcerLogitsProcessor])
        params = SamplingParams(max_tokens=200, extra_args={"json_schema": schema})
        # or {"regex": "..."}, {"grammar": "..."}, {"tools": [...], "tool_choice": "required"}

    Over HTTP: ``vllm serve MODEL --logits-processors
    enforcer.integrations.vllm:EnforcerLogitsProcessor`` and ``"vllm_xargs": {"json_schema":
    "<JSON text>"}`` in the request body. Works under both of vLLM's model runners.
    """

    def __init__(self, vllm_config: VllmConfig, *args: Any) -> None:
        self._vllm_config = vllm_config
        first = _ACTIVE.get(id(vllm_config))
        if first is not None and first._vllm_config is vllm_config:
            self._impl: _V1Requests | _V2Slots | _Idle = _Idle()
            return
        _ACTIVE[id(vllm_config)] = self
        if len(args) == 2:  # V1: (device, is_pin_memory)
            self._impl = _V1Requests(vllm_config)
        elif len(args) == 1:  # V2: (req_states)
            self._impl = _V2Slots(vllm_config, args[0])
        else:
            raise OptionError("EnforcerLogitsProcessor(vllm_config, device, is_pin_memory) or "
                              "EnforcerLogitsProcessor(vllm_config, req_states)")

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        """Reject, at admission, a request whose constraint is malformed or does not compile for
        the model (its real vocabulary, special tokens included, where vLLM's frontend can be
        found; else a byte vocabulary that refuses nothing the model could accept)."""
        if parse_constraint(sampling_params.extra_args) is None:
            return  # free requests cost a dict lookup
        if not isinstance(sampling_params.extra_args.get("budget", True), bool):
            raise ConstraintError("'budget' in extra_args must be true or false")
        service, config = validation_service()
        if config is not None and config.speculative_config is not None:
            raise ConstraintError(_SPECULATIVE)
        validate_constraint(sampling_params.extra_args, service)

    def is_argmax_invariant(self) -> bool:
        """Masking changes the argmax: greedy requests must be masked too."""
        return False

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        self._impl.update_state(batch_update)  # type: ignore[union-attr]

    def add_request(self, req_idx: int, sampling_params: SamplingParams) -> bool:
        return self._impl.add_request(req_idx, sampling_params)  # type: ignore[union-attr]

    def apply_staged_writes(self) -> None:
        """Nothing is staged: masks are computed on the host in ``apply``."""

    def apply(self, logits: torch.Tensor, ctx: Any = None) -> torch.Tensor:
        if ctx is None:
            return self._impl.apply(logits)  # type: ignore[call-arg]
        return self._impl.apply(logits, ctx)  # type: ignore[call-arg]

    @property
    def num_constrained(self) -> int:
        """Requests this processor is following now (tests, metrics)."""
        impl = self._impl
        return len(impl.slots) if isinstance(impl, _V2Slots) else len(impl.requests)

    @property
    def is_idle(self) -> bool:
        """True for a duplicate instance that defers to the first one of its engine."""
        return isinstance(self._impl, _Idle)
