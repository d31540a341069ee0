"""MLX-LM: constrained ``mlx_lm.generate`` / ``stream_generate`` through ``logits_processors``.

Example::

    from mlx_lm import load, generate
    from enforcer.integrations.mlx import JsonSchemaLogitsProcessor

    model, tokenizer = load("path/to/model")
    processor = JsonSchemaLogitsProcessor(schema, tokenizer, model)
    text = generate(model, tokenizer, prompt, max_tokens=256, logits_processors=[processor])

What this adapter gets right, because MLX-LM's users hit each of these:

* **The whole EOS set.** The vocabulary's EOS ids are the union of what the tokenizer wrapper
  (``TokenizerWrapper.eos_token_ids``, filled by ``mlx_lm.load`` from config and generation
  config), the Hugging Face tokenizer and the model folder's ``config.json`` and
  ``generation_config.json`` (read again: the wrapper may hold fewer) say. MLX-LM stops only on the wrapper's ids, so the
  processor constructors add any missing EOS id to ``tokenizer.eos_token_ids`` (``sync_eos=False``
  to leave it alone): a constraint that allows an EOS id generation does not stop on would let the
  model run past its answer.
* **The real width.** Masks are as wide as the model's logits (the output layer's rows, or the
  tied embeddings'), not the tokenizer's length: padded heads (Llama 3.2 Vision, Qwen) get their
  extra columns masked instead of a shape error.
* **MLX masking.** :func:`apply_token_bitmask` unpacks the packed int32 bitmask with MLX ops
  (shift, and, compare, where) compiled into one kernel by ``mx.compile``; only the bitmask
  (``ceil(V / 32)`` words, 16 KB for 128k tokens) crosses from the host, the logits never leave
  the device (Metal on Apple silicon, the CPU elsewhere).

A processor follows one request at a time (see ``_follow.SequenceFollower``): MLX-LM passes the
prompt and the tokens so far; a new prompt starts a new request, so a processor may be reused for
consecutive calls, but make one per concurrent request (``BatchGenerator`` takes one list per
sequence). Tested with mlx 0.32 (CPU device) and mlx-lm 0.32.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from enforcer import (Grammar, Vocabulary, VocabularyError, compile_grammar, compile_json_schema, compile_regex,
                      compile_tools)

from ._follow import SequenceFollower

__all__ = ["GbnfLogitsProcessor", "GrammarLogitsProcessor", "JsonSchemaLogitsProcessor", "RegexLogitsProcessor", "ToolCallLogitsProcessor",
           "apply_token_bitmask", "build_vocabulary", "logits_width"]


# -- the kernel --------------------------------------------------------------------------------

_SHIFTS = mx.arange(32, dtype=mx.int32)


def _unpack_and_mask(logits: mx.array, bitmask: mx.array, keep: mx.array) -> mx.array:
    bits = mx.right_shift(mx.expand_dims(bitmask, -1), _SHIFTS) & 1       # (rows, words, 32)
    allowed = bits.reshape(bitmask.shape[0], -1)[:, : logits.shape[-1]]  # (rows, >= width) -> width
    return mx.where((allowed == 1) & keep, logits, -math.inf)


_compiled = mx.compile(_unpack_and_mask)


def apply_token_bitmask(logits: mx.array, bitmask: np.ndarray | mx.array, *, vocab_size: int) -> mx.array:
    """``logits`` with every token the bitmask forbids set to ``-inf`` (MLX arrays are immutable:
    a new array is returned).

    ``logits``: ``(rows, width)`` or ``(width,)``. ``bitmask``: ``(rows, ceil(vocab_size / 32))``
    int32, bit ``i % 32`` of word ``i // 32`` allowing token ``i``. Columns at and past
    ``vocab_size`` (a padded head) are always masked. Logits narrower than the vocabulary raise
    :class:`~enforcer.VocabularyError` naming both widths.
    """
    squeeze = logits.ndim == 1
    if squeeze:
        logits = logits[None]
    width = logits.shape[-1]
    if width < vocab_size:
        raise VocabularyError(f"logits are {width} wide but the vocabulary has {vocab_size} tokens: build the "
                              "Vocabulary with the model whose logits these are")
    words = (width + 31) // 32
    packed = np.asarray(bitmask, dtype=np.int32)
    if packed.ndim == 1:
        packed = packed[None]
    if packed.shape[1] * 32 < vocab_size:
        raise VocabularyError(f"bitmask has {packed.shape[1]} words per row, {vocab_size} tokens need "
                              f"{(vocab_size + 31) // 32}")
    if packed.shape[1] < words:  # padded head: room for the extra columns, all forbidden
        packed = np.concatenate([packed, np.zeros((packed.shape[0], words - packed.shape[1]), np.int32)], axis=1)
    keep = _keep_mask(width, vocab_size)
    out = _compiled(logits, mx.array(packed[:, :words]), keep)
    return out[0] if squeeze else out


_KEEP: dict[tuple[int, int], mx.array] = {}


def _keep_mask(width: int, vocab_size: int) -> mx.array:
    """``True`` below ``vocab_size``: columns past the tokenizer are never allowed."""
    key = (width, vocab_size)
    keep = _KEEP.get(key)
    if keep is None:
        keep = _KEEP[key] = mx.arange(width) < vocab_size
    return keep


# -- vocabulary --------------------------------------------------------------------------------

def _hf_tokenizer(tokenizer: Any) -> Any:
    """The Hugging Face tokenizer inside MLX-LM's ``TokenizerWrapper`` (or the argument itself)."""
    return getattr(tokenizer, "_tokenizer", tokenizer)


def logits_width(model: Any) -> int | None:
    """Rows of the model's output layer (or of its embeddings when they are tied), else its
    configured ``vocab_size``; ``None`` if the model says neither."""
    for path in ("lm_head", "language_model.lm_head", "model.embed_tokens", "language_model.model.embed_tokens",
                 "model.language_model.embed_tokens", "transformer.wte", "model.tok_embeddings"):
        owner: Any = model
        for part in path.split("."):
            owner = getattr(owner, part, None)
            if owner is None:
                break
        weight = getattr(owner, "weight", None) if owner is not None else None
        if weight is not None and getattr(weight, "ndim", 0) == 2:
            return int(weight.shape[0])
    args = getattr(model, "args", None)
    for owner in (args, getattr(args, "text_config", None)):
        size = getattr(owner, "vocab_size", None) if owner is not None else None
        if size is None and isinstance(owner, dict):
            size = owner.get("vocab_size")
        if isinstance(size, int):
            return size
    return None


def _eos_ids(tokenizer: Any) -> set[int]:
    """The wrapper's ids, the tokenizer's, and those of the model folder's config and generation
    config (found through the tokenizer's ``name_or_path``): a wrapper may hold fewer."""
    from enforcer.doctor import config_eos_ids

    hf = _hf_tokenizer(tokenizer)
    ids = {int(i) for i in (getattr(tokenizer, "eos_token_ids", None) or ())}
    eos = getattr(hf, "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    folder = getattr(hf, "name_or_path", None)
    if isinstance(folder, str) and folder and Path(folder).is_dir():
        ids |= config_eos_ids(folder)
    return ids


_VOCABS: dict[tuple[int, int, tuple[int, ...]], tuple[Any, Vocabulary]] = {}


def build_vocabulary(tokenizer: Any, model: Any = None, *, vocab_size: int | None = None,
                     eos_token_ids: Any = None) -> Vocabulary:
    """The vocabulary of an MLX-LM model: token bytes from the Hugging Face tokenizer, the width of
    ``model``'s logits (or ``vocab_size``), the EOS set of the tokenizer wrapper and tokenizer (or
    ``eos_token_ids``). Kept per tokenizer object, width and EOS set."""
    width = vocab_size if vocab_size is not None else (logits_width(model) if model is not None else None)
    eos = sorted({int(i) for i in ([eos_token_ids] if isinstance(eos_token_ids, int) else eos_token_ids)}
                 if eos_token_ids is not None else _eos_ids(tokenizer))
    hf = _hf_tokenizer(tokenizer)
    key = (id(hf), -1 if width is None else int(width), tuple(eos))
    found = _VOCABS.get(key)
    if found is not None and found[0] is hf:
        return found[1]
    vocab = Vocabulary.from_pretrained(hf, vocab_size=width, eos_token_ids=eos or None)
    _VOCABS[key] = (hf, vocab)
    return vocab


def _sync_eos(tokenizer: Any, vocab: Vocabulary) -> None:
    """Make MLX-LM stop on every EOS id the constraint may end with."""
    current = getattr(tokenizer, "eos_token_ids", None)
    if current is None or not hasattr(type(tokenizer), "eos_token_ids"):
        return
    missing = set(vocab.eos_token_ids) - set(current)
    if missing:
        tokenizer.eos_token_ids = set(current) | missing


# -- processors --------------------------------------------------------------------------------

class GrammarLogitsProcessor:
    """An MLX-LM logits processor: ``processor(tokens, logits) -> logits`` with every token the
    grammar forbids at ``-inf``; EOS only when the output is complete.

    Args:
        grammar: a compiled :class:`enforcer.Grammar`, built with a vocabulary of this model
            (:func:`build_vocabulary`); it may be shared by many processors.
        tokenizer: MLX-LM's ``TokenizerWrapper``; given, every EOS id of the grammar's vocabulary
            is added to ``tokenizer.eos_token_ids`` (what ``stream_generate`` stops on) unless
            ``sync_eos=False``.
    """

    def __init__(self, grammar: Grammar, tokenizer: Any = None, *, sync_eos: bool = True):
        self.grammar = grammar
        self._follower = SequenceFollower(grammar)
        self._bitmask = np.zeros((1, (grammar.vocab.size + 31) // 32), dtype=np.int32)
        if tokenizer is not None and sync_eos:
            _sync_eos(tokenizer, grammar.vocab)

    @property
    def matcher(self):
        """The matcher of the current request (``is_complete()``, ``is_terminated()``...)."""
        return self._follower.matcher

    def reset(self) -> None:
        """Start a new request at the next call even if its prompt equals the last one."""
        self._follower.reset()

    def __call__(self, tokens: mx.array, logits: mx.array) -> mx.array:
        matcher = self._follower.sync(np.asarray(tokens))
        matcher.fill_next_token_bitmask(self._bitmask)
        return apply_token_bitmask(logits, self._bitmask, vocab_size=self.grammar.vocab.size)


class JsonSchemaLogitsProcessor(GrammarLogitsProcessor):
    """JSON valid under ``schema`` (dict, JSON text or pydantic model); ``options`` go to
    :func:`enforcer.compile_json_schema`."""

    def __init__(self, schema: Any, tokenizer: Any, model: Any = None, *, sync_eos: bool = True, **options: Any):
        grammar = compile_json_schema(schema, build_vocabulary(tokenizer, model), **options)
        super().__init__(grammar, tokenizer, sync_eos=sync_eos)


class RegexLogitsProcessor(GrammarLogitsProcessor):
    """Output matching ``pattern`` as a whole (see :func:`enforcer.compile_regex`)."""

    def __init__(self, pattern: str, tokenizer: Any, model: Any = None, *, sync_eos: bool = True):
        super().__init__(compile_regex(pattern, build_vocabulary(tokenizer, model)), tokenizer, sync_eos=sync_eos)


class GbnfLogitsProcessor(GrammarLogitsProcessor):
    """Output in the GBNF grammar ``text`` (llama.cpp's format, see :func:`enforcer.compile_grammar`)."""

    def __init__(self, text: str, tokenizer: Any, model: Any = None, *, start: str = "root", sync_eos: bool = True):
        grammar = compile_grammar(text, build_vocabulary(tokenizer, model), start=start)
        super().__init__(grammar, tokenizer, sync_eos=sync_eos)


class ToolCallLogitsProcessor(GrammarLogitsProcessor):
    """Tool calls as :func:`enforcer.compile_tools` describes (``tool_choice``, ``format``, ...)."""

    def __init__(self, tools: Any, tokenizer: Any, model: Any = None, *, sync_eos: bool = True, **options: Any):
        grammar = compile_tools(tools, build_vocabulary(tokenizer, model), **options)
        super().__init__(grammar, tokenizer, sync_eos=sync_eos)
