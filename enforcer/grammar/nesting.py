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
from typing import Iterator

from ..errors import LimitExceededError

FRAMES_PER_LEVEL = 12
"""Python frames one nesting level may take across parser, IR passes and lowering (measured
on 5,000-level schemas, regexes and grammars, with margin)."""


def regex_depth(pattern: str) -> int:
    """The deepest group nesting of an ECMA-262 pattern (escapes and classes skipped)."""
    depth = deepest = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i + 1)
            continue
        if c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def gbnf_depth(text: str) -> int:
    """The deepest parenthesis nesting of a GBNF grammar (strings, classes, comments skipped)."""
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "[":
            i = _class_end(text, i + 1) - 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth = max(0, depth - 1)
        i += 1
    return deepest


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
