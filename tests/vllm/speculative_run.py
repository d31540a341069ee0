"""Runs one CPU engine with n-gram speculative decoding and the enforcer backend installed, and
prints what the test checks as JSON: ``python -m tests.vllm.speculative_run MODEL_DIR``.

A process of its own because vLLM's n-gram proposer imports numba, whose llvmlite ``lib`` object
answers every attribute (``__dict__`` too); vLLM 0.32's CPU kernel-override scan over
``sys.modules`` then fails, so no engine can start in that process afterwards.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.update(VLLM_CPU_KVCACHE_SPACE="1", HF_HUB_OFFLINE="1", VLLM_ENABLE_V1_MULTIPROCESSING="0",
                  ENFORCER_VLLM_BACKEND="1")

SCHEMA = {"type": "array", "items": {"enum": ["ab", "cd"]}, "minItems": 6, "maxItems": 8}
PROMPTS = ['["ab","ab","ab","ab"', '["cd","ab","cd"', "x"]


def main(model_dir: str) -> None:
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from enforcer.integrations.vllm.backend import STATS, EnforcerBackend

    llm = LLM(model=model_dir, max_model_len=512, seed=0, max_num_seqs=4,
              speculative_config={"method": "ngram", "num_speculative_tokens": 3,
                                  "prompt_lookup_max": 3, "prompt_lookup_min": 1})
    params = SamplingParams(max_tokens=80, temperature=0.0, structured_outputs=StructuredOutputsParams(json=SCHEMA))
    outputs = llm.generate(PROMPTS, params, use_tqdm=False)
    manager = llm.llm_engine.engine_core.engine_core.scheduler.structured_output_manager
    print(json.dumps({"schema": SCHEMA, "stats": STATS, "served_by_enforcer": isinstance(manager.backend, EnforcerBackend),
                      "outputs": [[o.outputs[0].text, o.outputs[0].finish_reason] for o in outputs]}))


if __name__ == "__main__":
    main(sys.argv[1])
