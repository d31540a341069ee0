"""The one :class:`~enforcer.Vocabulary` of a vLLM engine, built from its ``ModelConfig``.

Why not the tokenizer's own size: vLLM's logits are as wide as the model's head
(``model_config.get_vocab_size()``), often wider than the tokenizer (Llama 3.2 Vision: 128,264
rows for 128,256 tokens); the mask must be exactly that wide and the ids past the tokenizer never
allowed. The EOS set is the union of the generation config's (Llama 3.1 lists three), the model
config's and the tokenizer's, as for transformers.

Built once per process and model (the engine, the frontend and each structured-output backend
share it); the token table itself is also cached on disk by enforcer.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, Iterable

from enforcer import Vocabulary

_LOCK = threading.Lock()
_BY_MODEL: dict[tuple, Vocabulary] = {}


def vocabulary_for(model_config: Any, tokenizer: Any = None, *,
                   eos_token_ids: Iterable[int] | None = None) -> Vocabulary:
    """The vocabulary for a vLLM ``ModelConfig`` (``tokenizer``: vLLM's, if already loaded).

    ``eos_token_ids`` replaces the discovered EOS set (vLLM's structured-output backends get each
    request's stop ids); each distinct set is one more cached vocabulary sharing the token table.
    """
    eos = None if eos_token_ids is None else tuple(sorted(set(eos_token_ids)))
    key = (str(model_config.tokenizer), getattr(model_config, "tokenizer_revision", None),
           model_config.get_vocab_size(), eos)
    with _LOCK:
        vocab = _BY_MODEL.get(key)
        if vocab is None:
            vocab = _BY_MODEL[key] = _build(model_config, tokenizer, eos)
        return vocab


def _build(model_config: Any, tokenizer: Any, eos: tuple[int, ...] | None) -> Vocabulary:
    if tokenizer is None:
        from vllm.tokenizers import cached_tokenizer_from_config

        tokenizer = cached_tokenizer_from_config(model_config)
        if tokenizer is None:
            raise ValueError("enforcer needs the model's tokenizer; do not use skip_tokenizer_init")
    if type(tokenizer).__name__ == "MistralTokenizer" and hasattr(tokenizer, "mistral"):
        tokenizer = tokenizer.mistral  # vLLM's wrapper around mistral-common's MistralTokenizer
    generation = model_config.try_get_generation_config() or {}
    # Vocabulary.from_pretrained reads EOS ids from model.config and model.generation_config.
    model = SimpleNamespace(config=model_config.hf_text_config,
                            generation_config=SimpleNamespace(eos_token_id=generation.get("eos_token_id")))
    return Vocabulary.from_pretrained(tokenizer, model=model, vocab_size=model_config.get_vocab_size(),
                                      eos_token_ids=eos)
