"""Read the metadata and tensor shapes of a GGUF file, never its weights.

Why our own reader: ``enforcer doctor`` and the command line must say what is wrong with a
``.gguf`` (empty, truncated, not GGUF at all) in one line, without torch, transformers or the
``gguf`` package, and without mapping gigabytes of weights. The header is small and its layout is
fixed (llama.cpp's ``docs/gguf.md``): magic ``GGUF``, version, tensor count, key/value count, the
key/values, then one (name, dims, type, offset) record per tensor. Versions 2 and 3 are read;
version 1 (32-bit counts, 2023) is refused with a message saying so.

Arrays of strings (a 128k-token list, 280k merges) are decoded only for the keys a caller asks
for; the others are skipped by length, so reading Llama 3's header takes a fraction of a second.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import EnforcerError


class GGUFError(EnforcerError, ValueError):
    """The file is not a readable GGUF file (empty, truncated, wrong magic, unknown version)."""


# value type -> (struct format, numpy dtype) for the fixed-size scalars
_SCALARS = {0: ("<B", np.uint8), 1: ("<b", np.int8), 2: ("<H", np.uint16), 3: ("<h", np.int16),
            4: ("<I", np.uint32), 5: ("<i", np.int32), 6: ("<f", np.float32), 7: ("<?", np.bool_),
            10: ("<Q", np.uint64), 11: ("<q", np.int64), 12: ("<d", np.float64)}
_STRING, _ARRAY = 8, 9


@dataclass
class GGUFInfo:
    """What a GGUF header says: its key/values and each tensor's shape (GGUF order: ``ne0`` first,
    so a ``(n_embd, n_vocab)`` output matrix has ``n_vocab`` rows)."""

    path: Path
    version: int
    metadata: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    @property
    def architecture(self) -> str | None:
        return self.metadata.get("general.architecture")

    def output_rows(self) -> tuple[int, str] | None:
        """The logits width: rows of ``output.weight``, or of ``token_embd.weight`` when the output
        layer is tied to the embeddings (no ``output.weight`` tensor)."""
        for name in ("output.weight", "token_embd.weight"):
            shape = self.tensors.get(name)
            if shape is not None and len(shape) >= 2:
                return int(shape[1]), name
        return None


class _Reader:
    def __init__(self, data: memoryview, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.data):
            raise GGUFError(f"{self.path}: truncated GGUF header (needs byte {end}, the file has "
                            f"{len(self.data)})")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return bytes(self.take(self.scalar("<Q"))).decode("utf-8", errors="replace")

    def strings(self, count: int, keep: bool) -> list[str] | None:
        """``count`` strings in a row: the hot loop of a tokenizer's token list and merges."""
        data, pos, end = self.data, self.pos, len(self.data)
        unpack = struct.Struct("<Q").unpack_from
        out: list[str] = []
        for _ in range(count):
            if pos + 8 > end:
                break
            (length,) = unpack(data, pos)
            pos += 8 + length
            if pos > end:
                break
            if keep:
                out.append(bytes(data[pos - length:pos]).decode("utf-8", errors="replace"))
        else:
            self.pos = pos
            return out if keep else None
        raise GGUFError(f"{self.path}: truncated GGUF header (in a list of {count} strings)")

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind][0])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.scalar("<I"), self.scalar("<Q")
            if item in _SCALARS:
                dtype = np.dtype(_SCALARS[item][1]).newbyteorder("<")
                raw = self.take(count * dtype.itemsize)
                return np.frombuffer(raw, dtype=dtype).copy() if keep else None
            if item == _STRING:
                return self.strings(count, keep)
            if item == _ARRAY:
                values = [self.value(_ARRAY, keep) for _ in range(count)]
                return values if keep else None
            raise GGUFError(f"{self.path}: unknown GGUF array item type {item}")
        raise GGUFError(f"{self.path}: unknown GGUF value type {kind}")


def read_gguf(path: str | Path, *, keep_arrays: Iterable[str] = ("tokenizer.ggml.tokens",
                                                                   "tokenizer.ggml.token_type")) -> GGUFInfo:
    """The header of the GGUF file at ``path``.

    Scalars and strings are always kept; arrays only for the keys in ``keep_arrays`` (others are
    recorded as ``None``). Raises :class:`GGUFError` for a file that is not readable GGUF, and
    ``OSError`` if it cannot be opened.
    """
    path = Path(path)
    keep = set(keep_arrays)
    with open(path, "rb") as handle:
        size = path.stat().st_size
        if size == 0:
            raise GGUFError(f"{path}: empty file (0 bytes), not a GGUF model")
        import mmap

        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                return _parse(_Reader(view, path), keep)
            finally:
                view.release()


def _parse(reader: _Reader, keep: set[str]) -> GGUFInfo:
    magic = bytes(reader.take(4)) if len(reader.data) >= 4 else bytes(reader.data)
    if magic != b"GGUF":
        raise GGUFError(f"{reader.path}: not a GGUF file (it starts with {magic!r}, not b'GGUF')")
    version = reader.scalar("<I")
    if version == 1:
        raise GGUFError(f"{reader.path}: GGUF version 1 (2023) is not supported; convert it again "
                        "with a current llama.cpp")
    if version not in (2, 3):
        raise GGUFError(f"{reader.path}: unknown GGUF version {version}")
    n_tensors, n_kv = reader.scalar("<Q"), reader.scalar("<Q")
    info = GGUFInfo(reader.path, version)
    for _ in range(n_kv):
        key = reader.string()
        kind = reader.scalar("<I")
        info.metadata[key] = reader.value(kind, key in keep or kind != _ARRAY)
    for _ in range(n_tensors):
        name = reader.string()
        dims = tuple(reader.scalar("<Q") for _ in range(reader.scalar("<I")))
        reader.scalar("<I")  # ggml type
        reader.scalar("<Q")  # offset
        info.tensors[name] = dims
    return info
