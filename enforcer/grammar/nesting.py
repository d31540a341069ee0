"""How deep a constraint's text nests, measured before parsing it.

The regex and GBNF parsers, the schema emitter and the IR passes after them recurse once per
level of nesting, and so do the engine's derivatives, nullability tests and clamps on the
expressions a grammar's steps build. Rather than rewriting each as a loop, the nesting is
measured first with a flat scan (the text) or a pass over the IR (the rules entered before any
input count as levels: :func:`~enforcer.grammar.analysis.recursion_depth`), checked against
:class:`~enforcer.Limits` (``max_nesting_depth``), and the passes run with room on Python's
recursion limit for exactly that depth: the compile, and every step of a deep grammar (its lock
is a :class:`RoomLock`). Python 3.11 keeps the frames of Python-to-Python calls on the heap, so
raising the limit for a bounded depth is safe.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from ..errors import LimitExceededError

FRAMES_PER_LEVEL = 12
"""Python frames one nesting level may take across parser, IR passes and lowering (measured
on 5,000-level schemas, regexes and grammars, with margin)."""


def regex_depth(pattern: str) -> int:
    """The deepest group nesting of an ECMA-262 pattern (escapes and classes skipped)."""
    return _deepest(pattern, _regex_skip)


def gbnf_depth(text: str) -> int:
    """The deepest parenthesis nesting of a GBNF grammar (strings, classes, comments skipped)."""
    return _deepest(text, _gbnf_skip)


def _deepest(text: str, skip: Callable[[str, int], int | None]) -> int:
    """The deepest nesting of parentheses in ``text``; ``skip(text, i)`` is the index after a
    construct starting at ``i`` whose parentheses do not count (``None``: none starts there)."""
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        after = skip(text, i)
        if after is not None:
            i = after
            continue
        c = text[i]
        if c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def _regex_skip(text: str, i: int) -> int | None:
    c = text[i]
    if c == "\\":
        return i + 2
    if c == "[":
        return _class_end(text, i + 1)
    return None


def _gbnf_skip(text: str, i: int) -> int | None:
    c = text[i]
    if c == '"':
        i += 1
        while i < len(text) and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        return i + 1
    if c == "[":
        return _class_end(text, i + 1)
    if c == "#":
        end = text.find("\n", i)
        return len(text) if end < 0 else end + 1
    return None


def _class_end(text: str, i: int) -> int:
    """The index after the ``]`` closing a class whose body starts at ``i``."""
    n = len(text)
    if i < n and text[i] == "^":
        i += 1
    if i < n and text[i] == "]":  # a leading ']' is literal in GBNF; ECMA's '[]' is empty: harmless
        i += 1
    while i < n and text[i] != "]":
        i += 2 if text[i] == "\\" else 1
    return i + 1


def check_depth(depth: int, allowed: int, what: str) -> None:
    """Refuse nesting deeper than ``Limits.max_nesting_depth`` before anything recurses on it."""
    if depth > allowed:
        raise LimitExceededError(f"{what} nests {depth} levels deep", limit="max_nesting_depth",
                                 value=depth, allowed=allowed)


SHALLOW_DEPTH = 48
"""Nesting the default recursion limit (1,000 frames) holds with room to spare for the caller's
own frames: grammars this shallow (nearly all) run their steps without a room, at no cost."""

_guard = threading.Lock()
_held: list[int] = []  # the frame counts of the rooms held now, by every thread
_base_limit = [1000]  # the limit before the first room of those was taken


def _frames(depth: int) -> int:
    return depth * FRAMES_PER_LEVEL + 2000


def _take(needed: int) -> bool:
    """Hold room for ``needed`` frames; False when the limit already gives it (nothing held)."""
    with _guard:
        limit = sys.getrecursionlimit()
        if needed <= (_base_limit[0] if _held else limit):
            return False
        if not _held:
            _base_limit[0] = limit
        _held.append(needed)
        if needed > limit:
            sys.setrecursionlimit(needed)
        return True


def _give(needed: int) -> None:
    """Release a room taken by :func:`_take`: the limit goes back to the largest room still held
    (by any thread), or to what it was before the first one."""
    with _guard:
        _held.remove(needed)
        target = max(max(_held, default=0), _base_limit[0])
        if target < sys.getrecursionlimit():
            try:
                sys.setrecursionlimit(target)
            except RecursionError:  # this thread is deeper than that right now: lower it later
                pass


@contextmanager
def recursion_room(depth: int) -> Iterator[None]:
    """Room on Python's recursion limit for passes that recurse ``depth`` levels deep (the depth
    was checked against ``Limits`` before). Rooms nest and may be held by several threads at
    once: the limit is the largest room held, back to where it was once none is."""
    needed = _frames(depth)
    taken = _take(needed)
    try:
        yield
    finally:
        if taken:
            _give(needed)


class RoomLock:
    """A grammar's lock for a deep grammar: holding it also holds recursion room for the
    grammar's depth, so every step (which may derive, lower or measure expressions as deep as
    the grammar nests) has the room its compile had. Shallow grammars use the plain lock."""

    __slots__ = ("_lock", "_needed", "_taken")

    def __init__(self, lock: threading.RLock, depth: int):
        self._lock = lock
        self._needed = _frames(depth)
        self._taken: list[bool] = []  # per nested acquisition (the lock is reentrant)

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._taken.append(_take(self._needed))
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._taken.pop():
                _give(self._needed)
        finally:
            self._lock.release()
