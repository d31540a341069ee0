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

import bisect
from functools import lru_cache
from typing import Any, Hashable, Iterable

from ..grammar import ir
from .expr import NEVER, SEQ, Expr, ExprFactory

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

    def __init__(self, factory: ExprFactory, rules: ir.Rules | None = None,
                 shared: dict[int, tuple[ir.Node, Expr]] | None = None):
        self.factory = factory
        self.rules = rules
        # what other grammars of the factory lowered: the IR parts that need no rule set and
        # no depth (format bodies, patterns, numbers, string classes) are cached by the front
        # ends, so the same node objects come back schema after schema
        self._shared = shared
        self._impure: set[int] = set()  # ids of nodes whose expression belongs to this grammar
        self._namespace = object()  # makes this grammar's rule keys unique in a shared factory
        self._memo: dict[int, dict[int, tuple[ir.Node, Expr]]] = {}  # depth -> id(node) -> (node, expr)
        self.refs: dict[Hashable, Expr] = {}  # (rule name, depth) -> its reference expression
        self.specials: set[str] = set()  # the special tokens named so far
        self._orders: list[_MemberList] = []  # the ir.Members nodes lowered, by index
        self._keep: list[ir.Node] = []
        self._depths = bool(rules is not None and rules.indent)  # without indentation, depth changes nothing
        self._builders = self._builder_table()

    @property
    def memo_size(self) -> int:
        """IR nodes this lowering remembers (at every depth)."""
        return sum(len(memo) for memo in self._memo.values())

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
        builders, shared, impure = self._builders, self._shared, self._impure
        stack: list[tuple[ir.Node, bool]] = [(node, False)]
        while stack:
            n, expanded = stack.pop()
            hit = memo.get(id(n))
            if hit is not None and hit[0] is n:
                continue
            kind = type(n)
            if not expanded:
                if shared is not None:
                    hit = shared.get(id(n))
                    if hit is not None and hit[0] is n:
                        memo[id(n)] = hit
                        continue
                if kind in _CHILDREN:
                    stack.append((n, True))
                    for child in _CHILDREN[kind](n):
                        hit = memo.get(id(child))
                        if hit is None or hit[0] is not child:
                            stack.append((child, False))
                    continue
            build = builders.get(kind)
            if build is None:
                raise TypeError(f"not a grammar IR node: {n!r}")
            entry = memo[id(n)] = (n, build(n, depth, memo))
            if kind in _OWN or (kind in _CHILDREN and any(id(c) in impure for c in _CHILDREN[kind](n))):
                impure.add(id(n))
            elif shared is not None:
                shared[id(n)] = entry
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

        def divisible(n: Any, depth: int, memo: dict) -> Expr:
            return self._remainder(n.k, None, n.width)

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
            ir.Members: lambda n, d, m: self._members(n, d),
            ir.Lazy: lazy,
            ir.Divisible: divisible,
            ir.Words: lambda n, d, m: word_trie(f, n.words),
        }

    # -- remainder automata (integer multipleOf) ------------------------------------------------

    def _remainder(self, k: int, r: int | None, left: int) -> Expr:
        """The state of ``Divisible(k, ...)`` with remainder ``r`` so far and ``left`` digits
        still allowed (``r`` None: no digit yet). The keys name no grammar: every grammar of the
        factory shares the states built."""
        ref = self.factory.ref(("divisible", k, r, left))
        if ref.body is None and ref.resolve is None:
            ref.resolve = lambda: self._remainder_body(k, r, left)
        return ref

    def _remainder_body(self, k: int, r: int | None, left: int) -> Expr:
        f = self.factory
        if r is None:  # the first digit: "0" alone, or no leading zero
            firsts = range(1, 10)
            options = [f.literal(b"0")]
        else:
            firsts = range(10) if left else range(0)
            options = [f.empty] if r == 0 else []
        by_target: dict[int, list[int]] = {}
        for d in firsts:
            by_target.setdefault((10 * (r or 0) + d) % k, []).append(d)
        for t, ds in by_target.items():
            if _completable(k, t, left - 1):
                options.append(f.seq(f.byte_ranges(_digit_ranges(ds)), self._remainder(k, t, left - 1)))
        return f.alt(*options)

    # -- object members (ir.Members) -----------------------------------------------------------

    def _members(self, node: ir.Members, depth: int) -> Expr:
        f = self.factory
        members = tuple((self.lower(first, depth), self.lower(later, depth), required)
                        for first, later, required in node.members)
        extra = None if node.extra is None else (self.lower(node.extra[0], depth), self.lower(node.extra[1], depth))
        index = len(self._orders)
        self._orders.append(_MemberList(f, members, extra, node.min, node.max, node.ordered))
        return self._member_ref(index, 0 if node.ordered else (1 << len(members)) - 1, 0, False)

    def _member_ref(self, index: int, left: int, count: int, started: bool, after_sep: bool = False) -> Expr:
        """The state of members object ``index``: ``left`` is the set of members that remain
        (a bit mask) in any order, the next member allowed in order; ``count`` members written
        (capped where the bounds stop telling counts apart); ``after_sep``: the separator is read."""
        order = self._orders[index]
        key = (self._namespace, ("members", index, left, min(count, order.cap), started, after_sep), 0)
        ref = self.factory.ref(key)
        if ref.body is None and ref.resolve is None:
            ref.resolve = lambda: self._member_body(index, left, count, started, after_sep)
        return ref

    def _member_body(self, index: int, left: int, count: int, started: bool, after_sep: bool) -> Expr:
        """Any member that may come next, or an extra one, or the end. A step is offered only if
        the object can still be completed after it (room for the required members under the
        maximum, enough left for the minimum): every state must be completable.

        After a member, when every member's text is the separator followed by its first text,
        the state is "end, or the separator and then the choice": what follows a value then
        has two branches however many members remain, and only the state after the separator
        lists them (a value's every byte would otherwise see the whole list)."""
        f = self.factory
        order = self._orders[index]
        if started and order.sep is not None and not after_sep:
            options: list[Expr] = []
            if order.steps(left, count):
                options.append(f.seq(order.sep, self._member_ref(index, left, count, True, True)))
            if order.may_end(left, count):
                options.append(f.empty)
            return f.alt(*options)
        options = []
        for member, nxt in order.steps(left, count):
            if member is None:
                first, later = order.extra  # type: ignore[misc]
            else:
                first, later = order.members[member][0], order.members[member][1]
            text = first if after_sep or not started else later
            options.append(f.seq(text, self._member_ref(index, nxt, count + 1, True)))
        if started and not after_sep and order.may_end(left, count):
            options.append(f.empty)
        return f.alt(*options)


class _MemberList:
    """One :class:`ir.Members` node, lowered: its members' texts and what decides a step."""

    def __init__(self, f: ExprFactory, members: tuple, extra: tuple | None, lo: int, hi: int | None,
                 ordered: bool):
        self.members, self.extra, self.lo, self.hi, self.ordered = members, extra, lo, hi, ordered
        self.cap = hi if hi is not None else lo
        n = len(members)
        required = [bool(m[2]) for m in members]
        writable = [m[0] is not f.never for m in members]
        # suffix counts (in order, the members at or after i) of required and writable members,
        # and whether a required member at or after i has no text
        self.required_after = [0] * (n + 1)
        self.available_after = [0] * (n + 1)
        self.blocked_after = [False] * (n + 1)
        for i in range(n - 1, -1, -1):
            self.required_after[i] = self.required_after[i + 1] + required[i]
            self.available_after[i] = self.available_after[i + 1] + writable[i]
            self.blocked_after[i] = self.blocked_after[i + 1] or (required[i] and not writable[i])
        # the same for any order, where ``left`` is a set of members: population counts of these
        # masks (listing the set's members per candidate made a step quadratic in the members)
        self.required_mask = sum(1 << i for i in range(n) if required[i])
        self.writable_mask = sum(1 << i for i in range(n) if writable[i])
        self.blocked_mask = self.required_mask & ~self.writable_mask
        texts = [(m[0], m[1]) for m in members] + ([extra] if extra is not None else [])
        heads = {later.args[0] if later.kind == SEQ and later.args[1] is first else None for first, later in texts}
        self.sep = heads.pop() if len(heads) == 1 else None  # the separator every later text starts with

    def _remaining(self, left: int) -> tuple[int, int, bool]:
        """Required, available members among ``left``, and whether a required one can't be written."""
        if self.ordered:
            return self.required_after[left], self.available_after[left], self.blocked_after[left]
        return ((left & self.required_mask).bit_count(), (left & self.writable_mask).bit_count(),
                bool(left & self.blocked_mask))

    def feasible(self, left: int, count: int) -> bool:
        required, available, blocked = self._remaining(left)
        if blocked or (self.hi is not None and count + required > self.hi):
            return False
        return self.extra is not None or count + available >= self.lo

    def may_end(self, left: int, count: int) -> bool:
        return count >= self.lo and self._remaining(left)[0] == 0

    def steps(self, left: int, count: int) -> list[tuple[int | None, int]]:
        """``(member, left after it)`` for each member that may come next (``None``: an extra
        one); in order, the members up to the first required one, then the extras."""
        out: list[tuple[int | None, int]] = []
        members = self.members
        n = len(members)
        if self.ordered:
            for i in range(left, n):
                if members[i][0].kind != NEVER and self.feasible(i + 1, count + 1):
                    out.append((i, i + 1))
                if members[i][2]:
                    break
            if self.extra is not None and self.required_after[left] == 0 and self.feasible(n, count + 1):
                out.append((None, n))
        else:
            rest = left & self.writable_mask
            while rest:
                bit = rest & -rest
                rest ^= bit
                if self.feasible(left ^ bit, count + 1):
                    out.append((bit.bit_length() - 1, left ^ bit))
            if self.extra is not None and self.feasible(left, count + 1):
                out.append((None, left))
        return out


_EAGER_WORDS = 1024
"""Word sets up to this size are built whole: equal sets of two grammars are then the same
expression (interned), so what one walked the other finds. Larger ones are built lazily."""
_MAX_TRIE_NESTING = 64
"""Branch nodes on one path of a word trie. Deeper (``a``, ``aa``, ``aaa``, ...), the words
below are plain alternatives: the engine's passes over an expression recurse on its nesting,
and words must not set how deep."""


def word_trie(f: ExprFactory, words: Iterable[bytes]) -> Expr:
    """One of ``words`` as a compressed trie: an alternative per first differing byte, one
    literal per run without a branch; a derivative follows one branch.

    Up to :data:`_EAGER_WORDS` words, built whole from the sorted words with a stack of the
    open nodes on the previous word's path (no recursion, one pass). Beyond, each branching
    node is a reference over a range of the sorted words, built when a derivative first enters
    it: an enum of 100,000 values costs its sort at compile and a few nodes per step."""
    ordered = sorted(set(words))
    if len(ordered) > _EAGER_WORDS:
        return _LazyWords(f, ordered).node(0, len(ordered), 0, 0)
    stack: list[_TrieFrame] = [_TrieFrame(0, b"")]
    previous = b""
    for word in ordered:
        shared = _common_prefix(previous, word)
        _close(f, stack, shared)
        if len(word) == shared:
            stack[-1].end = True  # only at the root: sorted unique words extend their prefixes
        else:
            stack.append(_TrieFrame(len(word), word, end=True))
            if len(stack) > _MAX_TRIE_NESTING:
                return f.alt(*[f.literal(w) for w in ordered])
        previous = word
    _close(f, stack, 0)
    root = stack[0]
    return f.alt(*([f.empty] if root.end else []), *root.options)


class _LazyWords:
    """A large sorted word list whose trie nodes are built on demand. A node is a range of the
    list whose words share their first ``depth`` bytes; its children are the sub-ranges by the
    next byte, found by bisection."""

    def __init__(self, f: ExprFactory, words: list[bytes]):
        self.f, self.words = f, words
        self.token = object()  # keys the references of this list in the factory

    def node(self, lo: int, hi: int, depth: int, level: int) -> Expr:
        """``words[lo:hi]`` past their first ``depth`` bytes, ``level`` branch nodes down."""
        f, words = self.f, self.words
        if hi - lo == 1:
            return f.literal(words[lo][depth:])
        if level >= _MAX_TRIE_NESTING:
            return f.alt(*[f.literal(w[depth:]) for w in words[lo:hi]])
        ref = f.ref((self.token, lo, hi, depth))
        if ref.body is None and ref.resolve is None:
            ref.resolve = lambda: self._body(lo, hi, depth, level)
        return ref

    def _body(self, lo: int, hi: int, depth: int, level: int) -> Expr:
        f, words = self.f, self.words
        first = words[lo]
        shared = _common_prefix(first, words[hi - 1])  # sorted: the range's common prefix
        options: list[Expr] = []
        if len(first) == shared:  # the shortest word ends here (it sorts first)
            options.append(f.empty)
            lo += 1
        while lo < hi:
            byte = words[lo][shared]
            end = hi if byte == 255 else bisect.bisect_left(words, first[:shared] + bytes([byte + 1]), lo, hi)
            options.append(f._seq2(f.literal(bytes([byte])), self.node(lo, end, shared + 1, level + 1)))
            lo = end
        return f._seq2(f.literal(first[depth:shared]), f.alt(*options))


class _TrieFrame:
    """A trie node still open: its depth, a word through it, whether a word ends there, and the
    finished branches below it (each with its edge)."""

    __slots__ = ("depth", "word", "end", "options")

    def __init__(self, depth: int, word: bytes, end: bool = False):
        self.depth, self.word, self.end = depth, word, end
        self.options: list[Expr] = []


def _close(f: ExprFactory, stack: list[_TrieFrame], depth: int) -> None:
    """Finish the open nodes deeper than ``depth``, hanging each below its parent; a node at
    ``depth`` itself is opened where the path has none (an edge split in two)."""
    while stack[-1].depth > depth:
        node = stack.pop()
        options = node.options
        if not options:
            body = f.empty  # a leaf: a word ends here
        elif len(options) == 1 and not node.end:
            body = options[0]
        else:
            body = f.alt(f.empty, *options) if node.end else f.alt(*options)
        parent = stack[-1]
        if parent.depth < depth:
            parent = _TrieFrame(depth, node.word)
            stack.append(parent)
        parent.options.append(f._seq2(f.literal(node.word[parent.depth:node.depth]), body))


def _common_prefix(a: bytes, b: bytes) -> int:
    """The length of the common prefix of two byte strings, in C: the first differing byte is
    where the big-endian XOR of the two has its top bit."""
    n = min(len(a), len(b))
    x, y = a[:n], b[:n]
    if x == y:
        return n
    diff = int.from_bytes(x, "big") ^ int.from_bytes(y, "big")
    return n - (diff.bit_length() + 7) // 8


def _completable(k: int, r: int, left: int) -> bool:
    """Whether some ``j <= left`` more digits turn remainder ``r`` into a multiple of ``k``:
    ``r * 10**j + x`` with ``x < 10**j`` and ``x == -r * 10**j (mod k)``. Pruning the other
    states keeps every state live, so no search for acceptance is ever needed."""
    for j in range(left + 1):
        if (-r * 10**j) % k < 10**j:
            return True
        if 10**j >= k:
            return True
    return False


def _digit_ranges(digits: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for d in digits:
        if ranges and ranges[-1][1] == 0x30 + d - 1:
            ranges[-1] = (ranges[-1][0], 0x30 + d)
        else:
            ranges.append((0x30 + d, 0x30 + d))
    return ranges


_OWN = frozenset({ir.Ref, ir.Lazy, ir.Indent, ir.Members, ir.Special})
"""IR node types whose expressions depend on the grammar (its rules, its indentation, its
special tokens): they and what holds them are never shared between grammars."""

_CHILDREN: dict[type, Any] = {
    ir.Seq: lambda n: n.items, ir.Alt: lambda n: n.items, ir.Intersect: lambda n: n.items,
    ir.Repeat: lambda n: (n.item,), ir.Complement: lambda n: (n.item,), ir.Lexeme: lambda n: (n.item,),
    ir.JsonChar: lambda n: (n.spelled,),
}
