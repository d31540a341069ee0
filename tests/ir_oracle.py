"""A test-only matcher for grammar IR nodes: does a node match a whole ``str``?

The oracle works over characters (code points), the level front ends reason at. It is written
for clarity, not speed: it tracks the set of positions where a match of each node can end.

* ``CharClass`` matches one code point in its ranges.
* ``Bytes`` and ``ByteClass`` are byte-level terminals; the oracle accepts them when they stay in
  ASCII, where a byte and a character are the same thing (``Bytes`` is decoded as UTF-8 and
  matched character by character; a ``ByteClass`` reaching above 0x7F raises ``TypeError``,
  because a lone non-ASCII byte is not a character).
* ``Intersect`` matches a span every item matches; ``Complement`` a span its item does not.
* ``Ref`` is looked up in the ``rules`` mapping given to :func:`matches`. Only rules whose
  recursion consumes input first (right-recursive grammars) terminate; left recursion raises
  ``ValueError``.
"""

from __future__ import annotations

import bisect
from typing import Hashable, Mapping

from enforcer.grammar.ir import (
    MAX_CODE_POINT,
    Alt,
    ByteClass,
    Bytes,
    CharClass,
    Complement,
    Divisible,
    Empty,
    Intersect,
    JsonChar,
    Never,
    Node,
    Ref,
    Repeat,
    Rules,
    Seq,
    Words,
)

__all__ = ["matches", "ends", "node_count"]

_Rules = Mapping[Hashable, Node]


def _in_ranges(ranges: tuple[tuple[int, int], ...], cp: int) -> bool:
    i = bisect.bisect_right(ranges, (cp, MAX_CODE_POINT + 1)) - 1
    return i >= 0 and ranges[i][0] <= cp <= ranges[i][1]


class _Matcher:
    def __init__(self, s: str, rules: _Rules | None):
        self.s = s
        self.rules = rules
        self.active: set[tuple[Hashable, frozenset[int]]] = set()

    def ends(self, node: Node, starts: frozenset[int]) -> frozenset[int]:
        """Positions where a match of ``node`` can end, starting at any of ``starts``."""
        s = self.s
        if not starts:
            return starts
        if isinstance(node, Empty):
            return starts
        if isinstance(node, Never):
            return frozenset()
        if isinstance(node, CharClass):
            return frozenset(
                i + 1 for i in starts if i < len(s) and _in_ranges(node.ranges, ord(s[i]))
            )
        if isinstance(node, Bytes):
            text = node.value.decode("utf-8")
            return frozenset(i + len(text) for i in starts if s.startswith(text, i))
        if isinstance(node, ByteClass):
            if node.ranges and node.ranges[-1][1] > 0x7F:
                raise TypeError(f"the str oracle cannot match non-ASCII bytes: {node!r}")
            return frozenset(
                i + 1 for i in starts if i < len(s) and _in_ranges(node.ranges, ord(s[i]))
            )
        if isinstance(node, Words):
            return frozenset(j for i in starts for j in range(i, len(s) + 1) if s[i:j].encode() in node.words)
        if isinstance(node, JsonChar):  # a character in any of its JSON spellings
            return self.ends(node.spelled, starts)
        if isinstance(node, Divisible):
            found = set()
            for i in starts:
                j = i
                while j < len(s) and "0" <= s[j] <= "9" and j - i < node.width:
                    j += 1
                    if int(s[i:j]) % node.k == 0 and (s[i] != "0" or j == i + 1):
                        found.add(j)
            return frozenset(found)
        if isinstance(node, Seq):
            for item in node.items:
                starts = self.ends(item, starts)
            return starts
        if isinstance(node, Alt):
            return frozenset().union(*(self.ends(item, starts) for item in node.items))
        if isinstance(node, Repeat):
            return self._repeat_ends(node, starts)
        if isinstance(node, Intersect):
            out: set[int] = set()
            for i in starts:
                single = frozenset({i})
                common: frozenset[int] | None = None
                for item in node.items:
                    found = self.ends(item, single)
                    common = found if common is None else common & found
                    if not common:
                        break
                out |= common or frozenset()
            return frozenset(out)
        if isinstance(node, Complement):
            out = set()
            for i in starts:
                out |= set(range(i, len(s) + 1)) - self.ends(node.item, frozenset({i}))
            return frozenset(out)
        if isinstance(node, Ref):
            if self.rules is None or node.name not in self.rules:
                raise KeyError(f"undefined rule {node.name!r}")
            key = (node.name, starts)
            if key in self.active:
                raise ValueError(f"left recursion through rule {node.name!r}")
            self.active.add(key)
            try:
                return self.ends(self.rules[node.name], starts)
            finally:
                self.active.discard(key)
        raise TypeError(f"not a grammar IR node: {node!r}")

    def _repeat_ends(self, node: Repeat, starts: frozenset[int]) -> frozenset[int]:
        current = starts
        for _ in range(node.min):
            current = self.ends(node.item, current)
            if not current:
                return current
        result = set(current)
        if node.max is not None:
            for _ in range(node.max - node.min):
                current = self.ends(node.item, current) - result
                if not current:
                    break
                result |= current
            return frozenset(result)
        frontier = current
        while frontier:
            frontier = self.ends(node.item, frontier) - result
            result |= frontier
        return frozenset(result)


def ends(node: Node, s: str, starts: frozenset[int], rules: _Rules | None = None) -> frozenset[int]:
    """Positions of ``s`` where a match of ``node`` can end, starting at any of ``starts``."""
    return _Matcher(s, rules).ends(node, starts)


def matches(node: Node | Rules, s: str, rules: _Rules | None = None) -> bool:
    """Does ``node`` match all of ``s``? A :class:`Rules` grammar is matched from its start rule."""
    if isinstance(node, Rules):
        rules, node = node.rules, Ref(node.start)
    return len(s) in _Matcher(s, rules).ends(node, frozenset({0}))


def node_count(node: Node) -> int:
    """Distinct node objects in the DAG below ``node`` (shared sub-trees counted once)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.extend(getattr(n, "items", ()))
        if isinstance(n, (Repeat, Complement)):
            stack.append(n.item)
    return len(seen)
