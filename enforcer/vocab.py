"""The vocabulary as the engine sees it: token id -> exact bytes, the real logits width, the EOS set.

Two facts here are the ones other libraries get wrong:

* The width of a mask is the width of the model's logits, not the tokenizer's size. Llama 3.2
  Vision and Qwen pad their output layer past the tokenizer; a mask sized from the tokenizer is
  narrower than the logits and ends in ``device-side assert triggered``. ``size`` comes from, in
  order: an explicit ``vocab_size``, the rows of the model's output embedding, ``config.vocab_size``
  (or ``config.text_config.vocab_size`` for multimodal models), and only then the tokenizer. Ids
  past the tokenizer have no bytes and are never allowed.
* End of sequence is a set. Llama 3.1 ends turns on any of ``[128001, 128008, 128009]``; a
  constrained decoder that knows only ``tokenizer.eos_token_id`` forbids the one the model wants
  and makes it ramble. ``eos_token_ids`` is the union of everything the model and tokenizer say,
  unless the caller gives the set explicitly.

The token table is read once per tokenizer and cached on disk with its trie (see :mod:`.cache`).
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any, Iterable, Sequence

import numpy as np

from . import cache
from .errors import VocabularyError
from .tokenizers import RawVocab, _as_ids, adapt
from .trie import TokenTrie

_SPOT_CHECKS = 24  # ids compared against the live tokenizer on every cache hit


class Vocabulary:
    """Token bytes, special tokens, the EOS set and the logits width of one model + tokenizer.

    Build it with :meth:`from_pretrained`; it is immutable and safe to share between threads and
    grammars. ``token_bytes(i)`` is ``None`` for special tokens and for ids with no token.
    """

    def __init__(
        self,
        blob: np.ndarray,
        offsets: np.ndarray,
        *,
        size: int,
        eos_token_ids: Iterable[int],
        special_text: dict[int, str] | None = None,
        tokenizer_size: int | None = None,
        trie: TokenTrie | None = None,
        table_digest: str | None = None,
    ):
        self._blob = blob
        self._offsets = offsets
        self.size = int(size)
        self.tokenizer_size = int(tokenizer_size if tokenizer_size is not None else len(offsets) - 1)
        self.eos_token_ids = frozenset(int(i) for i in eos_token_ids)
        special_text = {i: t for i, t in (special_text or {}).items() if i < self.size}
        self._special_text = special_text
        self.special_token_ids = frozenset(special_text) | self.eos_token_ids
        self._trie = trie
        self._table_digest = table_digest or _table_digest(blob, offsets)
        self._validate()

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        tokenizer: Any,
        *,
        model: Any = None,
        vocab_size: int | None = None,
        eos_token_ids: Iterable[int] | int | None = None,
        use_cache: bool = True,
    ) -> Vocabulary:
        """Read ``tokenizer`` (transformers, tokenizers, tiktoken, sentencepiece, mistral-common).

        ``model`` (a transformers model, or anything with ``config``/``generation_config``) gives
        the logits width and EOS ids; ``vocab_size`` and ``eos_token_ids`` override discovery.
        """
        adapter = adapt(tokenizer)
        table = _load_table(adapter) if use_cache else None
        if table is None:
            table = _build_table(adapter)
            if use_cache:
                cache.store("vocab", adapter.source_key(), table.arrays(), table.meta())
        size = _logits_width(model, vocab_size, tokenizer_size=len(adapter))
        if eos_token_ids is not None:
            eos = set(_as_ids(eos_token_ids))
        else:
            eos = adapter.eos_token_ids() | _model_eos_ids(model)
        return table.vocabulary(size=size, eos_token_ids=eos, tokenizer_size=len(adapter))

    @classmethod
    def from_token_bytes(
        cls,
        pieces: Sequence[bytes | None],
        *,
        eos_token_ids: Iterable[int],
        size: int | None = None,
        special_text: dict[int, str] | None = None,
    ) -> Vocabulary:
        """A vocabulary from an explicit table (tests, custom tokenizers)."""
        table = _Table.from_raw(RawVocab(list(pieces), dict(special_text or {})))
        return table.vocabulary(size=size if size is not None else len(pieces),
                                eos_token_ids=eos_token_ids, tokenizer_size=len(pieces))

    # -- queries ------------------------------------------------------------------------------

    def token_bytes(self, token_id: int) -> bytes | None:
        """The bytes token ``token_id`` emits; ``None`` for special tokens and ids with no token."""
        if not 0 <= token_id < self.size:
            raise VocabularyError(f"token id {token_id} is outside the vocabulary (size {self.size})")
        if token_id >= self.tokenizer_size or token_id in self.special_token_ids:
            return None
        start, end = int(self._offsets[token_id]), int(self._offsets[token_id + 1])
        return None if start == end else self._blob[start:end].tobytes()

    def special_token_text(self, token_id: int) -> str | None:
        return self._special_text.get(token_id)

    def special_token_id(self, text: str) -> int | None:
        """The id of the special token spelled ``text`` (for grammars that name one), or ``None``."""
        for i, t in self._special_text.items():
            if t == text:
                return i
        return None

    @property
    def trie(self) -> TokenTrie:
        """The token-prefix trie of every id below ``size`` that has bytes."""
        if self._trie is None:
            self._trie = TokenTrie.build([self.token_bytes(i) for i in range(self.size)])
        return self._trie

    def derived(self, key: str, build):
        """A table computed once per vocabulary and kept with it (thread-safe enough: two
        racing builders compute the same value). The place for what does not depend on the
        constraint, such as which tokens are plain JSON string content."""
        cache = self.__dict__.setdefault("_derived", {})
        value = cache.get(key)
        if value is None:
            value = cache[key] = build(self)
        return value

    @property
    def fingerprint(self) -> str:
        """Identifies the exact table, width and EOS set: a key for anything derived from them."""
        h = hashlib.sha256(self._table_digest.encode())
        h.update(f"|{self.size}|{sorted(self.eos_token_ids)}|{sorted(self.special_token_ids)}".encode())
        return h.hexdigest()[:32]

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return (f"Vocabulary(size={self.size}, tokenizer_size={self.tokenizer_size}, "
                f"eos_token_ids={sorted(self.eos_token_ids)}, special={len(self.special_token_ids)})")

    def _validate(self) -> None:
        if self.size <= 0:
            raise VocabularyError(f"vocabulary size must be positive, got {self.size}")
        if not self.eos_token_ids:
            raise VocabularyError(
                "no end-of-sequence id found in the tokenizer or model: pass eos_token_ids=[...]")
        too_big = sorted(i for i in self.eos_token_ids if not 0 <= i < self.size)
        if too_big:
            raise VocabularyError(
                f"EOS id(s) {too_big} do not fit in a vocabulary of size {self.size} (the model's "
                "logits width): check vocab_size= or eos_token_ids="
            )


class _Table:
    """The tokenizer-derived part of a vocabulary: what is cached on disk."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, special_ids: np.ndarray,
                 special_text: dict[int, str], digest: str | None = None,
                 trie: TokenTrie | None = None):
        self.blob, self.offsets = blob, offsets
        self.special_ids = special_ids
        self.special_text = special_text
        self.digest = digest or _table_digest(blob, offsets)
        self.trie = trie

    @classmethod
    def from_raw(cls, raw: RawVocab) -> _Table:
        pieces = [p if p else b"" for p in raw.pieces]
        lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        blob = np.frombuffer(b"".join(pieces), dtype=np.uint8).copy()
        special_ids = np.asarray(sorted(raw.special_text), dtype=np.int64)
        return cls(blob, offsets, special_ids, dict(raw.special_text))

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {"blob": self.blob, "offsets": self.offsets, "special_ids": self.special_ids}
        trie = self.trie if self.trie is not None else self.full_trie()
        arrays.update({f"trie_{k}": v for k, v in trie.arrays().items()})
        return arrays

    def meta(self) -> dict:
        return {"digest": self.digest,
                "special_text": [[int(i), t] for i, t in sorted(self.special_text.items())]}

    def full_trie(self) -> TokenTrie:
        """The trie over every tokenizer id (before any cut to a narrower logits width)."""
        if self.trie is None:
            n = len(self.offsets) - 1
            special = set(self.special_text)
            pieces = [None if i in special else self.blob[self.offsets[i]:self.offsets[i + 1]].tobytes()
                      for i in range(n)]
            self.trie = TokenTrie.build(pieces)
        return self.trie

    def piece(self, i: int) -> bytes | None:
        if i in self.special_text or i >= len(self.offsets) - 1:
            return None
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.blob[start:end].tobytes() if end > start else None

    def vocabulary(self, *, size: int, eos_token_ids: Iterable[int], tokenizer_size: int) -> Vocabulary:
        n = len(self.offsets) - 1
        eos = {int(i) for i in eos_token_ids}
        special_text = dict(self.special_text)
        for i in eos:  # an EOS id is special even if the tokenizer spells it as text
            special_text.setdefault(i, f"<eos:{i}>")
        trie = None
        if size < n:
            warnings.warn(
                f"the model's logits are {size} wide but the tokenizer has {n} ids: ids "
                f"{size}..{n - 1} can never be sampled and are dropped", stacklevel=3)
        elif not (eos - set(self.special_text)):
            trie = self.full_trie()  # same ids, same bytes: reuse the cached trie as it is
        return Vocabulary(self.blob, self.offsets, size=size, eos_token_ids=eos,
                          special_text=special_text, tokenizer_size=min(tokenizer_size, n, size),
                          trie=trie, table_digest=self.digest)


def _table_digest(blob: np.ndarray, offsets: np.ndarray) -> str:
    h = hashlib.sha256(memoryview(np.ascontiguousarray(blob)).cast("B"))
    h.update(memoryview(np.ascontiguousarray(offsets)).cast("B"))
    return h.hexdigest()


def _build_table(adapter) -> _Table:
    table = _Table.from_raw(adapter.read())
    table.full_trie()
    return table


def _load_table(adapter) -> _Table | None:
    key = adapter.source_key()
    entry = cache.load("vocab", key)
    if entry is None:
        return None
    arrays, meta = entry
    trie = TokenTrie.from_arrays({k[5:]: v for k, v in arrays.items() if k.startswith("trie_")})
    table = _Table(arrays["blob"], arrays["offsets"], arrays["special_ids"],
                   {int(i): t for i, t in meta["special_text"]}, meta["digest"], trie)
    # A key can only say the source did not visibly change; a few real ids say it still agrees.
    n = len(table.offsets) - 1
    spread = {int(i) for i in np.linspace(0, n - 1, _SPOT_CHECKS)}
    sample = sorted(spread | set(sorted(table.special_text)[:_SPOT_CHECKS]))
    live = adapter.read_ids(sample)
    if any(live.get(i) != table.piece(i) for i in sample):
        warnings.warn("enforcer: cached vocabulary disagrees with the tokenizer; rebuilding", stacklevel=3)
        return None
    return table


def _config_value(model: Any, name: str) -> Any:
    """``name`` from ``model.config`` or its ``text_config`` (multimodal models keep it there)."""
    config = getattr(model, "config", None)
    for owner in (config, getattr(config, "text_config", None)):
        value = getattr(owner, name, None) if owner is not None else None
        if value is not None:
            return value
    return None


def _logits_width(model: Any, vocab_size: int | None, *, tokenizer_size: int) -> int:
    if vocab_size is not None:
        return int(vocab_size)
    if model is not None:
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        weight = getattr(head, "weight", None)
        if weight is not None and getattr(weight, "ndim", 0) == 2:
            return int(weight.shape[0])
        configured = _config_value(model, "vocab_size")
        if configured is not None:
            return int(configured)
    return tokenizer_size


def _model_eos_ids(model: Any) -> set[int]:
    if model is None:
        return set()
    ids = set(_as_ids(getattr(getattr(model, "generation_config", None), "eos_token_id", None)))
    ids.update(_as_ids(_config_value(model, "eos_token_id")))
    return ids
