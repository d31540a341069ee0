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
from typing import Any, Hashable

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
        self._memo: dict[int, dict[int, tuple[ir.Node, Expr]]] = {}  # depth -> id(node) -> (node, expr)
        self.refs: dict[Hashable, Expr] = {}  # (rule name, depth) -> its reference expression
        self.specials: set[str] = set()  # the special tokens named so far
        self._orders: list[tuple] = []  # any-order objects: (members, extra, lo, hi)
        self._keep: list[ir.Node] = []
        self._depths = bool(rules is not None and rules.indent)  # without indentation, depth changes nothing
        self._builders = self._builder_table()

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
        memo = self._memo.get(depth)
        if memo is None:
            memo = self._memo[depth] = {}
        hit = memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        builders = self._builders
        stack: list[tuple[ir.Node, bool]] = [(node, False)]
        while stack:
            n, expanded = stack.pop()
            hit = memo.get(id(n))
            if hit is not None and hit[0] is n:
                continue
            kind = type(n)
            if not expanded and kind in _CHILDREN:
                stack.append((n, True))
                for child in _CHILDREN[kind](n):
                    hit = memo.get(id(child))
                    if hit is None or hit[0] is not child:
                        stack.append((child, False))
                continue
            build = builders.get(kind)
            if build is None:
                raise TypeError(f"not a grammar IR node: {n!r}")
            memo[id(n)] = (n, build(n, depth, memo))
        return memo[id(node)][1]

    def _builder_table(self) -> dict[type, Any]:
        """One function per IR node type (a dict lookup instead of a chain of isinstance)."""
        f = self.factory

        def char_class(n: Any, depth: int, memo: dict) -> Expr:
            ranges = n.ranges
            if len(ranges) == 1 and ranges[0][1] < 0x80:
                return f.byte_ranges(ranges)
            return self.char_class(ranges)

        def json_char(n: Any, depth: int, memo: dict) -> Expr:
            expr = memo[id(n.spelled)][1]
            f.json_chars.setdefault(expr, n.ranges)
            return expr

        def special(n: Any, depth: int, memo: dict) -> Expr:
            self.specials.add(n.text)
            return f.special(n.text)

        def indent(n: Any, depth: int, memo: dict) -> Expr:
            unit = self.rules.indent if self.rules is not None else ""
            return f.literal(("\n" + unit * (depth + n.depth)).encode())

        def lazy(n: Any, depth: int, memo: dict) -> Expr:
            ref = f.ref((self._namespace, ("lazy", id(n)), depth))
            if ref.body is None and ref.resolve is None:
                self._keep.append(n)  # the id in the key stays this node's
                ref.resolve = lambda: self.lower(n.item, depth)
            return ref

        return {
            ir.Seq: lambda n, d, m: f.seq(*[m[id(x)][1] for x in n.items]),
            ir.Alt: lambda n, d, m: f.alt(*[m[id(x)][1] for x in n.items]),
            ir.Bytes: lambda n, d, m: f.literal(n.value),
            ir.CharClass: char_class,
            ir.Repeat: lambda n, d, m: f.repeat(m[id(n.item)][1], n.min, n.max),
            ir.Lexeme: lambda n, d, m: f.lexeme(m[id(n.item)][1]),
            ir.JsonChar: json_char,
            ir.Empty: lambda n, d, m: f.empty,
            ir.Never: lambda n, d, m: f.never,
            ir.ByteClass: lambda n, d, m: f.byte_ranges(n.ranges),
            ir.Special: special,
            ir.Intersect: lambda n, d, m: f.both(*[m[id(x)][1] for x in n.items]),
            ir.Complement: lambda n, d, m: f.complement(m[id(n.item)][1]),
            ir.Ref: lambda n, d, m: self.reference(n.name, d + n.depth),
            ir.Indent: indent,
            ir.AnyOrder: lambda n, d, m: self._any_order(n, d),
            ir.Lazy: lazy,
        }

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


_CHILDREN: dict[type, Any] = {
    ir.Seq: lambda n: n.items, ir.Alt: lambda n: n.items, ir.Intersect: lambda n: n.items,
    ir.Repeat: lambda n: (n.item,), ir.Complement: lambda n: (n.item,), ir.Lexeme: lambda n: (n.item,),
    ir.JsonChar: lambda n: (n.spelled,),
}
