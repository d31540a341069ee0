"""Following one generated sequence through a :class:`~enforcer.engine.grammar.Grammar`."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import BitmaskError, OptionError, TokenRejectedError, VocabularyError
from . import budget
from .automaton import DEAD
from .grammar import Grammar


class Matcher:
    """Follows one generated sequence through a grammar.

    ``fill_next_token_bitmask`` says what may come next, ``advance`` consumes the token that was
    sampled. Cheap to create and to :meth:`fork` (beam search, speculative decoding); all heavy
    state lives in the shared :class:`Grammar`.

    ``max_tokens``: the budget of the whole output, EOS included; the matcher then allows only
    tokens after which a complete output still fits (see :mod:`enforcer.engine.budget`).
    """

    __slots__ = ("grammar", "_states", "_terminated_at", "_max_tokens")

    def __init__(self, grammar: Grammar, *, max_tokens: int | None = None):
        if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
            raise OptionError(f"max_tokens must be a positive integer or None, got {max_tokens!r}")
        self.grammar = grammar
        self._states = [grammar.initial_state]
        self._terminated_at: int | None = None  # history length when EOS was consumed
        self._max_tokens = max_tokens

    @property
    def max_tokens(self) -> int | None:
        """The token budget (EOS included), or ``None``."""
        return self._max_tokens

    @property
    def remaining_tokens(self) -> int | None:
        """Tokens left in the budget (``None`` without one)."""
        return None if self._max_tokens is None else self._max_tokens - (len(self._states) - 1)

    def forced_tokens(self, encode: Callable[[bytes], Sequence[int]] | None = None) -> list[int]:
        """The tokens the grammar forces next (keys, ``":"``, closing brackets), to append
        without sampling; ``[]`` when the next token is the model's choice. ``encode`` (bytes
        -> token ids, the tokenizer's own) gives the canonical tokenization; without it, the
        fewest tokens. Does not move the matcher. See :mod:`enforcer.engine.forced`."""
        from .forced import forced_tokens

        return forced_tokens(self, encode)

    def shortest_completion(self) -> int:
        """The fewest tokens that complete the output from here, EOS not counted (0 when
        complete). Exact for this vocabulary; computed on first use and kept by the grammar."""
        return budget.shortest_completion(self.grammar, self._states[-1])

    @property
    def state(self) -> int:
        return self._states[-1]

    def is_complete(self) -> bool:
        """The output so far is a complete match: EOS may come now."""
        return self.grammar.is_accepting(self._states[-1])

    def is_terminated(self) -> bool:
        """An EOS token has been consumed."""
        return self._terminated_at is not None

    def fill_next_token_bitmask(self, bitmask: Any, row: int = 0) -> None:
        """Write the allowed tokens into row ``row`` of an int32 bitmask.

        ``bitmask`` is a numpy array or a CPU torch tensor of shape ``(rows, words)`` with
        ``words >= ceil(vocab.size / 32)``; bit ``i % 32`` of word ``i // 32`` is token ``i``.
        """
        out = _row_view(bitmask, row)
        if out.shape[0] < self.grammar.n_words:
            raise VocabularyError(
                f"bitmask has {out.shape[0]} words per row but the vocabulary needs "
                f"{self.grammar.n_words} ({self.grammar.vocab.size} tokens)")
        self._fill(out)

    def _fill(self, out: np.ndarray) -> None:
        if self._max_tokens is not None and not self.is_terminated():
            budget.fill_mask(self.grammar, self._states[-1], self.remaining_tokens, out[: self.grammar.n_words])
            out[self.grammar.n_words:] = 0
        else:
            self.grammar.fill_mask(self._states[-1], out, terminated=self.is_terminated())

    def allowed_token_ids(self) -> list[int]:
        """The allowed token ids, ascending (EOS ids included when complete)."""
        words = np.zeros(self.grammar.n_words, dtype=np.int32)
        self._fill(words)
        bits = np.unpackbits(words.view(np.uint8), bitorder="little")
        return np.flatnonzero(bits[: self.grammar.vocab.size]).tolist()

    def is_token_allowed(self, token_id: int) -> bool:
        vocab = self.grammar.vocab
        if token_id in vocab.eos_token_ids:
            return self.is_terminated() or self.is_complete()
        if self.is_terminated() or not 0 <= token_id < vocab.size:
            return False
        if self.grammar.names_special(token_id):
            return self.grammar.step_special(self._states[-1], token_id) != DEAD and self._fits(token_id)
        mask = self.grammar.token_mask(self._states[-1])
        if not (int(mask[token_id // 32]) >> (token_id % 32)) & 1:
            return False
        return self._fits(token_id)

    def _fits(self, token_id: int) -> bool:
        """With a budget: a complete output still fits after ``token_id`` (one the grammar
        allows here)."""
        if self._max_tokens is None:
            return True
        return budget.token_fits(self.grammar, self._states[-1], token_id, self.remaining_tokens)

    def advance(self, token_id: int) -> None:
        """Consume ``token_id``; raise :class:`TokenRejectedError` if the mask forbids it."""
        grammar = self.grammar
        vocab = grammar.vocab
        if type(token_id) is not int:
            # __index__ takes numpy/torch integer scalars and refuses floats and strings, which
            # int() would truncate or parse into a token nobody sampled; bools are not ids.
            try:
                is_bool = isinstance(token_id, (bool, np.bool_)) or str(getattr(token_id, "dtype", "")) == "torch.bool"
                index = None if is_bool else token_id.__index__()
            except (AttributeError, TypeError):
                index = None
            if index is None:
                raise TokenRejectedError(f"a token id must be an integer, got {token_id!r}")
            token_id = index
        if not 0 <= token_id < vocab.size:
            raise TokenRejectedError(f"token id {token_id} is outside the vocabulary (size {vocab.size})")
        state = self._states[-1]
        if token_id in vocab.eos_token_ids:
            if not (self.is_terminated() or grammar.is_accepting(state)):
                raise TokenRejectedError(f"EOS token {token_id} before the output is complete")
            if self._terminated_at is None:
                self._terminated_at = len(self._states)
            self._states.append(state)
            return
        if self.is_terminated():
            raise TokenRejectedError(f"token {token_id} after EOS")
        if grammar.names_special(token_id):
            nxt = grammar.step_special(state, token_id)
            if nxt == DEAD:
                text = vocab.special_token_text(token_id)
                raise TokenRejectedError(f"special token {token_id} ({text}) is not allowed here")
            if not self._fits(token_id):
                raise TokenRejectedError(f"special token {token_id} leaves no complete output within the budget")
            self._states.append(nxt)
            return
        nxt = grammar.step_token(state, token_id)
        if nxt == DEAD:
            data = vocab.token_bytes(token_id)
            if data is None:
                raise TokenRejectedError(f"token {token_id} is a special token or has no bytes")
            raise TokenRejectedError(f"token {token_id} ({data!r}) is not allowed here")
        if not self._fits(token_id):
            raise TokenRejectedError(f"token {token_id} ({vocab.token_bytes(token_id)!r}) leaves no complete "
                                     f"output within the budget ({self.remaining_tokens} tokens left)")
        self._states.append(nxt)

    def rollback(self, n_tokens: int = 1) -> None:
        """Undo the last ``n_tokens`` advances (speculative decoding, backtracking)."""
        if n_tokens < 0 or n_tokens >= len(self._states):
            raise OptionError(f"cannot roll back {n_tokens} tokens: {len(self._states) - 1} consumed")
        if n_tokens:
            del self._states[-n_tokens:]
        if self._terminated_at is not None and len(self._states) <= self._terminated_at:
            self._terminated_at = None

    def fork(self) -> Matcher:
        """An independent copy at the same position."""
        twin = Matcher.__new__(Matcher)
        twin.grammar = self.grammar
        twin._states = list(self._states)
        twin._terminated_at = self._terminated_at
        twin._max_tokens = self._max_tokens
        return twin

    def reset(self) -> None:
        self._states = [self.grammar.initial_state]
        self._terminated_at = None

    @property
    def num_tokens(self) -> int:
        return len(self._states) - 1


def _row_view(bitmask: Any, row: int) -> np.ndarray:
    """Row ``row`` of a numpy array or CPU torch tensor, as a writable int32 numpy view."""
    if isinstance(bitmask, np.ndarray):
        array = bitmask
    elif hasattr(bitmask, "numpy") and str(getattr(bitmask, "device", "cpu")) == "cpu":
        array = bitmask.numpy()
    else:
        raise BitmaskError("bitmask must be a numpy array or a CPU torch tensor; apply it to GPU "
                        "logits with enforcer.masking")
    if array.dtype != np.int32:
        raise BitmaskError(f"bitmask must be int32, got {array.dtype}")
    return array[row] if array.ndim == 2 else array
