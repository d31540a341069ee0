"""The one :class:`~enforcer.Vocabulary` of a vLLM engine, built from its ``ModelConfig``.

Why not the tokenizer's own size: vLLM's logits are as wide as the model's head
(``model_config.get_vocab_size()``), often wider than the tokenizer (Llama 3.2 Vision: 128,264
rows for 128,256 tokens); the mask must be exactly that wide and the ids past the tokenizer never
allowed. The EOS set is the union of the generation config's (Llama 3.1 lists three), the model
config's and the tokenizer's, as for transformers.

Built once per process and model (the engine, the frontend and each structured-output backend
share it); the token table itself is also cached on disk by enforcer. Each vocabulary has one
:class:`~enforcer.service.ConstraintService` (:func:`service_for`), so a grammar compiled when a
request is validated is the one the engine enforces when both run in one process.

**The vocabulary at validation time.** vLLM 0.32 calls ``validate_params(sampling_params)`` on
the processor *class*, in the frontend, with nothing but the parameters; validating against a
byte vocabulary there refuses grammars that name the model's special tokens (a Llama 3.1 grammar
with ``<|python_tag|>`` got HTTP 400). The caller is vLLM's ``InputProcessor`` (the frontend's
request admission, in whatever process serves the API), which holds the ``VllmConfig`` and the
tokenizer: :func:`frontend_of_caller` finds it on the call stack, and :func:`validation_service`
builds (once) the model's vocabulary from it. Failing that (another vLLM version, a caller of our
own), the one model whose processor was built in this process serves; failing that too,
``None``, and validation falls back to the byte vocabulary, which never refuses what the model
would accept (see :func:`enforcer.service.validate_constraint`).
"""

from __future__ import annotations

import logging
import sys
import threading
from types import SimpleNamespace
from typing import Any, Iterable

from enforcer import Vocabulary, VocabularyError
from enforcer.service import ConstraintService

logger = logging.getLogger("enforcer.integrations.vllm")

_LOCK = threading.Lock()
_BY_MODEL: dict[tuple, Vocabulary] = {}
_SERVICES: dict[int, ConstraintService] = {}  # by id() of a vocabulary in _BY_MODEL (kept forever)
_ENGINE_MODELS: dict[tuple, Any] = {}  # model key -> ModelConfig of processors built in this process
_WARNED: set[tuple] = set()


def vocabulary_for(model_config: Any, tokenizer: Any = None, *,
                   eos_token_ids: Iterable[int] | None = None) -> Vocabulary:
    """The vocabulary for a vLLM ``ModelConfig`` (``tokenizer``: vLLM's, if already loaded).

    ``eos_token_ids`` replaces the discovered EOS set (vLLM's structured-output backends get each
    request's stop ids); each distinct set is one more cached vocabulary sharing the token table.
    """
    eos = None if eos_token_ids is None else tuple(sorted(set(eos_token_ids)))
    key = _model_key(model_config) + (eos,)
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
            raise VocabularyError("enforcer needs the model's tokenizer; do not use skip_tokenizer_init")
    if type(tokenizer).__name__ == "MistralTokenizer" and hasattr(tokenizer, "mistral"):
        tokenizer = tokenizer.mistral  # vLLM's wrapper around mistral-common's MistralTokenizer
    generation = model_config.try_get_generation_config() or {}
    # Vocabulary.from_pretrained reads EOS ids from model.config and model.generation_config.
    model = SimpleNamespace(config=model_config.hf_text_config,
                            generation_config=SimpleNamespace(eos_token_id=generation.get("eos_token_id")))
    return Vocabulary.from_pretrained(tokenizer, model=model, vocab_size=model_config.get_vocab_size(),
                                      eos_token_ids=eos)


def _model_key(model_config: Any) -> tuple:
    return (str(model_config.tokenizer), getattr(model_config, "tokenizer_revision", None),
            model_config.get_vocab_size())


def service_for(vocab: Vocabulary) -> ConstraintService:
    """The one constraint service (grammar cache and failure policy) of ``vocab``."""
    with _LOCK:
        service = _SERVICES.get(id(vocab))
        if service is None or service.vocab is not vocab:
            service = _SERVICES[id(vocab)] = ConstraintService(vocab)
        return service


def register_engine_model(model_config: Any) -> None:
    """Remember the model of a processor built in this process (for validation, see above)."""
    with _LOCK:
        _ENGINE_MODELS[_model_key(model_config)] = model_config


def frontend_of_caller(max_depth: int = 12) -> Any:
    """vLLM's ``InputProcessor`` admitting the request being validated, found on the call stack
    (it calls the validators two or three frames up), or ``None``."""
    try:
        from vllm.v1.engine.input_processor import InputProcessor
    except ImportError:  # pragma: no cover - another vLLM layout
        return None
    frame = sys._getframe(1)
    for _ in range(max_depth):
        frame = frame.f_back
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if isinstance(owner, InputProcessor):
            return owner
    return None


def validation_service() -> tuple[ConstraintService | None, Any]:
    """``(the service of the model whose request is being validated, its VllmConfig)``; either
    may be ``None`` when not known (validation then falls back to the byte vocabulary)."""
    frontend = frontend_of_caller()
    if frontend is not None:
        model_config, tokenizer, config = frontend.model_config, frontend.tokenizer, frontend.vllm_config
    else:
        with _LOCK:
            engines = list(_ENGINE_MODELS.values())
        if len(engines) != 1:
            return None, None
        model_config, tokenizer, config = engines[0], None, None
    try:
        return service_for(vocabulary_for(model_config, tokenizer)), config
    except Exception as e:  # noqa: BLE001 - validation must not fail for want of a vocabulary
        key = _model_key(model_config)
        if key not in _WARNED:
            _WARNED.add(key)
            logger.warning("enforcer: cannot build the vocabulary of %s to validate requests (%s); "
                           "validating against bytes instead", model_config.model, e)
        return None, config
