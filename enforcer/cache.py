"""On-disk cache of preprocessed vocabularies (token bytes and trie arrays).

Reading 128k token strings out of a tokenizer and building the trie costs a few hundred
milliseconds; doing it at every process start is waste. Entries are ``.npz`` files named by the
tokenizer's source key, written atomically (temp file + rename, so concurrent writers never leave
half a file) and carrying a format version and a SHA-256 of their arrays. A file that fails to
open, has another version or key, or whose checksum does not match is deleted and rebuilt: the
cache is never trusted over the tokenizer.

The directory is ``$ENFORCER_CACHE_DIR`` if set, else the platform's user cache directory
(``$XDG_CACHE_HOME/enforcer``, ``~/.cache/enforcer``, ``~/Library/Caches/enforcer`` on macOS,
``%LOCALAPPDATA%\\enforcer\\Cache`` on Windows). ``ENFORCER_CACHE_DIR=off`` disables it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
_META = "__meta__"


def cache_dir() -> Path | None:
    """Where entries live, or ``None`` when caching is switched off."""
    configured = os.environ.get("ENFORCER_CACHE_DIR")
    if configured:
        return None if configured.lower() in {"off", "0", "none", "false"} else Path(configured)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "enforcer" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "enforcer"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "enforcer"


def checksum(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def entry_path(kind: str, key: str) -> Path | None:
    directory = cache_dir()
    return None if directory is None else directory / f"{kind}-v{FORMAT_VERSION}-{key[:40]}.npz"


def load(kind: str, key: str) -> tuple[dict[str, np.ndarray], dict] | None:
    """The arrays and metadata stored under ``key``, or ``None`` on a miss or a bad entry."""
    path = entry_path(kind, key)
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data[_META]).decode("utf-8"))
            arrays = {name: data[name] for name in data.files if name != _META}
        if meta.get("version") != FORMAT_VERSION or meta.get("key") != key:
            raise ValueError("stale entry")
        if meta.get("checksum") != checksum(arrays):
            raise ValueError("checksum mismatch")
        return arrays, meta
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"enforcer: discarding bad cache entry {path.name} ({exc}); rebuilding", stacklevel=3)
        _remove(path)
        return None


def store(kind: str, key: str, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
    """Write an entry; a cache that cannot be written only costs speed, so failures just warn."""
    path = entry_path(kind, key)
    if path is None:
        return
    full_meta = dict(meta or {}, version=FORMAT_VERSION, key=key, checksum=checksum(arrays))
    payload = dict(arrays)
    payload[_META] = np.frombuffer(json.dumps(full_meta).encode("utf-8"), dtype=np.uint8)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
        os.replace(tmp, path)
    except OSError as exc:
        warnings.warn(f"enforcer: could not write cache entry {path} ({exc})", stacklevel=3)
        if tmp is not None:
            _remove(tmp)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
