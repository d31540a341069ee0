"""Applying packed token bitmasks to logits, batched, on the logits' own device.

The one module of the core that imports torch. A bitmask row holds ``ceil(V / 32)`` int32 words;
bit ``i % 32`` of word ``i // 32`` allows token ``i`` (XGrammar's and vLLM's layout). Masking
happens where the logits are: the small bitmask (16 KB per row for 128k tokens) is copied to the
device once per step for the whole batch and unpacked there with shifts, so there is no per-row
host round trip and no full-vocabulary copy.

Inputs are checked up front, on the host, because a wrong one does not fail by itself: an int64
or bool bitmask read as packed int32 words masks the wrong tokens, silently. Only int32 bitmasks
(torch or numpy, as :meth:`~enforcer.Matcher.fill_next_token_bitmask` fills them) are taken;
anything else is a :class:`BitmaskError` saying what is wanted. Logits wider than the vocabulary
(a padded head) have their extra columns masked; logits narrower than the vocabulary are a
:class:`VocabularyError` naming both widths, never an index error or a device-side assert.
Logits may be a torch tensor on any device or a numpy array (masked in place through a view);
a single row may be 1-d.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

import numpy as np
import torch

from .errors import BitmaskError, VocabularyError

_SHIFTS: dict[torch.device, torch.Tensor] = {}
Logits = TypeVar("Logits", torch.Tensor, np.ndarray)


def allocate_token_bitmask(batch_size: int, vocab_size: int) -> torch.Tensor:
    """A zeroed ``(batch_size, ceil(vocab_size / 32))`` int32 CPU tensor for matchers to fill."""
    return torch.zeros((batch_size, (vocab_size + 31) // 32), dtype=torch.int32)


def _shifts(device: torch.device) -> torch.Tensor:
    shifts = _SHIFTS.get(device)
    if shifts is None:
        shifts = _SHIFTS[device] = torch.arange(32, dtype=torch.int32, device=device)
    return shifts


def _as_bitmask(bitmask: Any) -> torch.Tensor:
    """``bitmask`` as a 2-d int32 torch tensor (numpy arrays are shared, not copied)."""
    if isinstance(bitmask, np.ndarray):
        if bitmask.dtype != np.int32:
            raise BitmaskError(f"the bitmask must be packed int32 words (32 tokens per word), got numpy "
                               f"{bitmask.dtype}; allocate it with np.zeros((rows, (vocab_size + 31) // 32), "
                               "dtype=np.int32) or enforcer.masking.allocate_token_bitmask")
        bitmask = torch.from_numpy(bitmask)
    elif not isinstance(bitmask, torch.Tensor):
        raise BitmaskError(f"the bitmask must be an int32 torch tensor or numpy array, got {type(bitmask).__name__}")
    elif bitmask.dtype != torch.int32:
        raise BitmaskError(f"the bitmask must be packed int32 words (32 tokens per word), got {bitmask.dtype}; "
                           "allocate it with enforcer.masking.allocate_token_bitmask")
    if bitmask.dim() == 1:
        bitmask = bitmask.unsqueeze(0)
    if bitmask.dim() != 2:
        raise BitmaskError(f"expected a 2-d bitmask (rows, words), got shape {tuple(bitmask.shape)}")
    return bitmask


def unpack_bitmask(bitmask: torch.Tensor | np.ndarray, width: int) -> torch.Tensor:
    """``(rows, width)`` bool tensor of the allowed tokens, on ``bitmask``'s device."""
    bitmask = _as_bitmask(bitmask)
    if bitmask.device.type == "cpu":  # numpy's unpackbits is ~10x faster than shifts on a CPU
        packed = bitmask.contiguous().numpy().view(np.uint8)
        bits = torch.from_numpy(np.unpackbits(packed, axis=1, bitorder="little").view(np.bool_))
        return _fit(bits, width)
    bits = (bitmask.unsqueeze(-1) >> _shifts(bitmask.device)) & 1
    return _fit(bits.reshape(bitmask.shape[0], -1).to(torch.bool), width)


def _fit(bits: torch.Tensor, width: int) -> torch.Tensor:
    if bits.shape[1] >= width:
        return bits[:, :width]
    pad = torch.zeros((bits.shape[0], width - bits.shape[1]), dtype=torch.bool, device=bits.device)
    return torch.cat([bits, pad], dim=1)


def apply_token_bitmask_inplace(logits: Logits, bitmask: torch.Tensor | np.ndarray, *, vocab_size: int,
                                rows: torch.Tensor | Sequence[int] | None = None) -> Logits:
    """Set the logits of disallowed tokens to ``-inf``, in place; returns ``logits``.

    ``logits``: ``(batch, width)`` (or one row, ``(width,)``), a floating torch tensor on any
    device or a numpy array. ``bitmask``: ``(batch, words)`` int32, a torch tensor (CPU or the
    logits' device) or a numpy array. ``vocab_size``: the vocabulary the bitmask was filled for.
    ``rows``: optional indices of the logits rows to mask (the others are left alone, e.g.
    finished sequences), one bitmask row each.
    """
    original = logits
    if isinstance(logits, np.ndarray):
        logits = torch.from_numpy(logits)  # a view: masking it masks the caller's array
    elif not isinstance(logits, torch.Tensor):
        raise BitmaskError(f"logits must be a torch tensor or a numpy array, got {type(logits).__name__}")
    if not logits.dtype.is_floating_point:
        raise BitmaskError(f"logits must be floating point to hold -inf, got {logits.dtype}")
    if logits.dim() == 1:
        logits = logits.unsqueeze(0)
    bitmask = _as_bitmask(bitmask)
    if logits.dim() != 2:
        raise BitmaskError(f"expected 2-d logits and bitmask, got {tuple(logits.shape)} and {tuple(bitmask.shape)}")
    width = logits.shape[1]
    if width < vocab_size:
        raise VocabularyError(
            f"logits are {width} wide but the vocabulary has {vocab_size} tokens: build the "
            "Vocabulary with the model (or vocab_size=) whose logits these are")
    if bitmask.shape[1] * 32 < vocab_size:
        raise VocabularyError(f"bitmask has {bitmask.shape[1]} words per row, {vocab_size} tokens need "
                              f"{(vocab_size + 31) // 32}")
    if rows is not None and not isinstance(rows, torch.Tensor):
        rows = torch.as_tensor(list(rows), dtype=torch.long)
    expected_rows = logits.shape[0] if rows is None else rows.shape[0]
    if bitmask.shape[0] < expected_rows:
        raise BitmaskError(f"bitmask has {bitmask.shape[0]} rows for {expected_rows} logits rows")
    # Unpack the complement: the disallowed bits, ready for masked_fill_, with no extra pass.
    forbidden = unpack_bitmask(~bitmask[:expected_rows].to(logits.device, non_blocking=True), vocab_size)
    target = logits if rows is None else logits[rows.to(logits.device)]
    target[:, :vocab_size].masked_fill_(forbidden, float("-inf"))
    if width > vocab_size:  # a padded head: the extra columns have no token behind them
        target[:, vocab_size:] = float("-inf")
    if rows is not None:
        logits[rows.to(logits.device)] = target
    return original
