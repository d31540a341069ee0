"""Lowering the grammar IR to byte-level expressions.

The IR keeps characters (``CharClass``) so front ends can reason in code points; the engine reads
bytes. Here each character class becomes the alternatives of its UTF-8 byte sequences (the
``utf8-ranges`` construction: split the code point range until every piece is a product of byte
ranges), which is what lets a token that ends in the middle of a character be judged exactly.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Hashable

from . import ir
from .expr import Expr, ExprFactory

_MAX_BY_LENGTH = (0x7F, 0x7FF, 0xFFFF, 0x10FFFF)


def utf8_sequences(lo: int, hi: int) -> list[list[tuple[int, int]]]:
    """Code points ``lo..hi`` (surrogates skipped) as a list of byte-range sequences."""
    out: list[list[tuple[int, int]]] = []
    stack = [(lo, hi)]
    while stack:
        lo, hi = stack.pop()
        if lo > hi:
            continue
        if lo <= 0xDFFF and hi >= 0xD800:  # surrogates have no UTF-8 form
            stack.append((0xE000, hi))
            stack.append((lo, 0xD7FF))
            continue
        split = False
        for limit in _MAX_BY_LENGTH[:-1]:  # one encoded length per piece
            if lo <= limit < hi:
                stack.append((limit + 1, hi))
                stack.append((lo, limit))
                split = True
                break
        if split:
            continue
        if hi <= 0x7F:
            out.append([(lo, hi)])
            continue
        n = len(chr(lo).encode("utf-8"))
        for i in range(1, n):
            m = (1 << (6 * i)) - 1
            if lo & ~m != hi & ~m:
                if lo & m:
                    stack.append(((lo | m) + 1, hi))
                    stack.append((lo, lo | m))
                    split = True
                    break
                if hi & m != m:
                    stack.append((hi & ~m, hi))
                    stack.append((lo, (hi & ~m) - 1))
                    split = True
                    break
        if split:
            continue
        a, b = chr(lo).encode("utf-8"), chr(hi).encode("utf-8")
        out.append(list(zip(a, b)))
    out.sort()
    return out


@lru_cache(maxsize=4096)
def _class_sequences(ranges: ir.Ranges) -> tuple[tuple[tuple[int, int], ...], ...]:
    seqs: list[tuple[tuple[int, int], ...]] = []
    for lo, hi in ranges:
        seqs.extend(tuple(s) for s in utf8_sequences(lo, hi))
    return tuple(seqs)


class Lowering:
    """Turns IR nodes (and the rules they reference) into expressions of one factory."""

    def __init__(self, rules: ir.Rules | None = None):
        self.rules = rules
        self.factory = ExprFactory(resolve=self._resolve_rule)
        self._memo: dict[int, tuple[ir.Node, Expr]] = {}

    def _resolve_rule(self, key: Hashable) -> Expr:
        if self.rules is None or key not in self.rules.rules:
            from ..errors import SchemaError

            raise SchemaError(f"reference to undefined rule {key!r}")
        return self.lower(self.rules.rules[key])

    def start(self) -> Expr:
        assert self.rules is not None
        return self.factory.ref(self.rules.start)

    def char_class(self, ranges: ir.Ranges) -> Expr:
        f = self.factory
        return f.alt(*(f.seq(*(f.byte_ranges([r]) for r in seq)) for seq in _class_sequences(ranges)))

    def lower(self, node: ir.Node) -> Expr:
        # Memoise by identity: IR trees are DAGs with heavy sharing, and hashing a frozen
        # dataclass tree is itself recursive. The node is kept alive with its result.
        hit = self._memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        f = self.factory
        if isinstance(node, ir.Empty):
            result = f.empty
        elif isinstance(node, ir.Never):
            result = f.never
        elif isinstance(node, ir.Bytes):
            result = f.literal(node.value)
        elif isinstance(node, ir.ByteClass):
            result = f.byte_ranges(node.ranges)
        elif isinstance(node, ir.CharClass):
            result = self.char_class(node.ranges)
        elif isinstance(node, ir.Special):
            result = f.special(node.text)
        elif isinstance(node, ir.Seq):
            result = f.seq(*(self.lower(x) for x in node.items))
        elif isinstance(node, ir.Alt):
            result = f.alt(*(self.lower(x) for x in node.items))
        elif isinstance(node, ir.Repeat):
            result = f.repeat(self.lower(node.item), node.min, node.max)
        elif isinstance(node, ir.Intersect):
            result = f.both(*(self.lower(x) for x in node.items))
        elif isinstance(node, ir.Complement):
            result = f.complement(self.lower(node.item))
        elif isinstance(node, ir.Ref):
            result = f.ref(node.name)
        else:
            raise TypeError(f"not a grammar IR node: {node!r}")
        self._memo[id(node)] = (node, result)
        return result
