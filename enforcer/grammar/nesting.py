"""How deep a constraint's text nests, measured before parsing it.

The regex and GBNF parsers, the schema emitter and the IR passes after them recurse once per
level of nesting. Rather than rewriting each as a loop, the nesting is measured first with a
flat scan, checked against :class:`~enforcer.Limits` (``max_nesting_depth``), and the parse runs
with room on Python's recursion limit for exactly that depth. Python 3.11 keeps the frames of
Python-to-Python calls on the heap, so raising the limit for a bounded depth is safe.
"""

from __future__ import annotations

import sys
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


@contextmanager
def recursion_room(depth: int) -> Iterator[None]:
    """Room on Python's recursion limit for passes that recurse ``depth`` levels deep (the depth
    was checked against ``Limits`` before). Nested uses only ever raise the limit."""
    needed = depth * FRAMES_PER_LEVEL + 2000
    old = sys.getrecursionlimit()
    if needed > old:
        sys.setrecursionlimit(needed)
    try:
        yield
    finally:
        if needed > old:
            sys.setrecursionlimit(old)
