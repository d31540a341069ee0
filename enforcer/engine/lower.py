"""Lowering the grammar IR to byte-level expressions.

The IR keeps characters (``CharClass``) so front ends can reason in code points; the engine reads
bytes. Here each character class becomes the alternatives of its UTF-8 byte sequences (the
``utf8-ranges`` construction: split the code point range until every piece is a product of byte
ranges), which is what lets a token that ends in the middle of a character be judged exactly.

The walk over the IR is iterative (an explicit stack), so an IR as deep as the input allows
lowers without touching Python's recursion limit. Rule names are prefixed with a token unique to
this lowering: one expression factory serves many grammars, and two grammars' ``root`` rules
must not meet.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Hashable

from ..grammar import ir
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


_COMPOSITE = (ir.Seq, ir.Alt, ir.Repeat, ir.Intersect, ir.Complement, ir.Lexeme, ir.JsonChar)


class Lowering:
    """Turns IR nodes (and the rules they reference) into expressions of one factory.

    Rule bodies are lowered when a derivative first enters them (a reference gets a ``resolve``
    callable): a pretty-printed recursive grammar has a copy of its rules per depth, and an
    any-order object a state per subset of its members, built as generation reaches them. All
    of it is IR the front end finished at compile time; nothing here can fail on valid IR.
    """

    def __init__(self, factory: ExprFactory, rules: ir.Rules | None = None):
        self.factory = factory
        self.rules = rules
        self._namespace = object()  # makes this grammar's rule keys unique in a shared factory
        self._memo: dict[tuple[int, int], tuple[ir.Node, Expr]] = {}
        self.refs: dict[Hashable, Expr] = {}  # (rule name, depth) -> its reference expression
        self.specials: set[str] = set()  # the special tokens named so far
        self._orders: list[tuple] = []  # any-order objects: (members, extra, lo, hi)
        self._keep: list[ir.Node] = []
        self._depths = bool(rules is not None and rules.indent)  # without indentation, depth changes nothing

    def start(self) -> Expr:
        assert self.rules is not None
        return self.reference(self.rules.start, 0)

    def reference(self, name: Hashable, depth: int = 0) -> Expr:
        if not self._depths:
            depth = 0
        ref = self.refs.get((name, depth))
        if ref is None:
            ref = self.factory.ref((self._namespace, name, depth))
            self.refs[(name, depth)] = ref
            ref.resolve = lambda: self._rule_body(name, depth)
        return ref

    def _rule_body(self, name: Hashable, depth: int) -> Expr:
        if self.rules is None or name not in self.rules.rules:
            from ..errors import SchemaError

            raise SchemaError(f"reference to undefined rule {name!r}")
        return self.lower(self.rules.rules[name], depth)

    def char_class(self, ranges: ir.Ranges) -> Expr:
        f = self.factory
        return f.alt(*(f.seq(*(f.byte_ranges([r]) for r in seq)) for seq in _class_sequences(ranges)))

    def lower(self, node: ir.Node, depth: int = 0) -> Expr:
        """The expression of ``node`` used at nesting ``depth``. Memoised by identity: IR trees
        are DAGs with heavy sharing. Post-order with an explicit stack."""
        if not self._depths:
            depth = 0
        memo = self._memo
        hit = memo.get((id(node), depth))
        if hit is not None and hit[0] is node:
            return hit[1]
        stack: list[tuple[ir.Node, bool]] = [(node, False)]
        while stack:
            n, expanded = stack.pop()
            hit = memo.get((id(n), depth))
            if hit is not None and hit[0] is n:
                continue
            if isinstance(n, _COMPOSITE) and not expanded:
                stack.append((n, True))
                for child in _children(n):
                    hit = memo.get((id(child), depth))
                    if hit is None or hit[0] is not child:
                        stack.append((child, False))
                continue
            memo[(id(n), depth)] = (n, self._build(n, depth))
        return memo[(id(node), depth)][1]

    def _build(self, node: ir.Node, depth: int) -> Expr:
        f = self.factory
        memo = self._memo

        def low(n: ir.Node) -> Expr:
            return memo[(id(n), depth)][1]

        if isinstance(node, ir.Seq):
            return f.seq(*[low(x) for x in node.items])
        if isinstance(node, ir.Alt):
            return f.alt(*[low(x) for x in node.items])
        if isinstance(node, ir.Bytes):
            return f.literal(node.value)
        if isinstance(node, ir.CharClass):
            ranges = node.ranges
            if len(ranges) == 1 and ranges[0][1] < 0x80:
                return f.byte_ranges(ranges)
            return self.char_class(ranges)
        if isinstance(node, ir.Repeat):
            return f.repeat(low(node.item), node.min, node.max)
        if isinstance(node, ir.Lexeme):
            return f.lexeme(low(node.item))
        if isinstance(node, ir.JsonChar):
            expr = low(node.spelled)
            f.json_chars.setdefault(expr, node.ranges)
            return expr
        if isinstance(node, ir.Empty):
            return f.empty
        if isinstance(node, ir.Never):
            return f.never
        if isinstance(node, ir.ByteClass):
            return f.byte_ranges(node.ranges)
        if isinstance(node, ir.Special):
            self.specials.add(node.text)
            return f.special(node.text)
        if isinstance(node, ir.Intersect):
            return f.both(*[low(x) for x in node.items])
        if isinstance(node, ir.Complement):
            return f.complement(low(node.item))
        if isinstance(node, ir.Ref):
            return self.reference(node.name, depth + node.depth)
        if isinstance(node, ir.Indent):
            unit = self.rules.indent if self.rules is not None else ""
            return f.literal(("\n" + unit * (depth + node.depth)).encode())
        if isinstance(node, ir.AnyOrder):
            return self._any_order(node, depth)
        if isinstance(node, ir.Lazy):
            ref = self.factory.ref((self._namespace, ("lazy", id(node)), depth))
            if ref.body is None and ref.resolve is None:
                self._keep.append(node)  # the id in the key stays this node's
                ref.resolve = lambda: self.lower(node.item, depth)
            return ref
        raise TypeError(f"not a grammar IR node: {node!r}")

    # -- any-order objects --------------------------------------------------------------------

    def _any_order(self, node: ir.AnyOrder, depth: int) -> Expr:
        members = tuple((self.lower(first, depth), self.lower(later, depth), required)
                        for first, later, required in node.members)
        extra = None if node.extra is None else (self.lower(node.extra[0], depth), self.lower(node.extra[1], depth))
        index = len(self._orders)
        self._orders.append((members, extra, node.min, node.max))
        return self._order_ref(index, (1 << len(members)) - 1, 0, False)

    def _order_ref(self, index: int, remaining: int, count: int, started: bool) -> Expr:
        _, _, lo, hi = self._orders[index]
        cap = hi if hi is not None else lo
        key = (self._namespace, ("any-order", index, remaining, min(count, cap), started), 0)
        ref = self.factory.ref(key)
        if ref.body is None and ref.resolve is None:
            ref.resolve = lambda: self._order_body(index, remaining, count, started)
        return ref

    def _order_body(self, index: int, remaining: int, count: int, started: bool) -> Expr:
        """Any remaining declared member next, or an extra one, or the end. A step is offered
        only if the object can still be completed after it (room for the required members
        under the maximum, enough left for the minimum): every state must be completable."""
        f = self.factory
        members, extra, lo, hi = self._orders[index]
        never = f.never

        def feasible(left: int, n: int) -> bool:
            required = [i for i in _bits(left) if members[i][2]]
            if any(members[i][0] is never for i in required):
                return False
            if hi is not None and n + len(required) > hi:
                return False
            available = sum(1 for i in _bits(left) if members[i][0] is not never)
            return extra is not None or n + available >= lo

        options = []
        for i in _bits(remaining):
            first, later, _ = members[i]
            if first is not never and feasible(remaining & ~(1 << i), count + 1):
                options.append(f.seq(later if started else first,
                                     self._order_ref(index, remaining & ~(1 << i), count + 1, True)))
        if extra is not None and feasible(remaining, count + 1):
            options.append(f.seq(extra[1] if started else extra[0], self._order_ref(index, remaining, count + 1, True)))
        if started and count >= lo and not any(members[i][2] for i in _bits(remaining)):
            options.append(f.empty)
        return f.alt(*options)


def _bits(mask: int) -> list[int]:
    out = []
    i = 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return out


def _children(node: ir.Node) -> tuple[ir.Node, ...]:
    if isinstance(node, (ir.Seq, ir.Alt, ir.Intersect)):
        return node.items
    if isinstance(node, ir.JsonChar):
        return (node.spelled,)
    return (node.item,)  # Repeat, Complement, Lexeme
