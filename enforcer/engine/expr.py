"""Byte-level expressions with Brzozowski derivatives: the automaton the engine runs.

Why derivatives instead of building an NFA/DFA up front (the llguidance ``derivre`` idea):

* Nothing is built before it is needed. The state after reading some bytes *is* the expression
  "what may still follow", computed on demand and interned, so compiling costs milliseconds and
  branches never taken cost nothing.
* Bounded repetition stays compact: ``x{0,300}`` is one node, its derivative is
  ``x'·x{0,299}``; no 300 copies of the automaton.
* Intersection and complement are one line each (``d(a & b) = d(a) & d(b)``), which is how
  ``pattern`` + ``minLength``/``maxLength`` and "any key except the declared ones" are expressed
  exactly.
* Special tokens are symbols past the byte range (256, 257, ...): a derivative by such a symbol
  is taken like a byte's, but no byte ever matches one, so a special token can only be produced
  as itself, never spelled out in text.
* References give context-free grammars (without left recursion, which the front ends reject):
  the derivative of a nested value is the inner derivative followed by what remains outside, so
  the expression itself plays the role of the parser stack.
* A *lexeme* node (``LEX``) marks a regular piece the front end knows recurs across grammars (a
  JSON string body, a number, a key): it changes no language, it only tells the engine where one
  lexical unit ends, so token masks can be split into the part inside the lexeme (shared by
  every grammar of the vocabulary) and the few tokens that cross into what follows.

Expressions are hash-consed by an :class:`ExprFactory`: structurally equal expressions are the
same object, so equality is identity and a dict keyed by expressions is a DFA state table. One
factory serves every grammar of a :class:`~enforcer.Compiler` (so grammars share derivatives and
lexemes); it is not thread-safe by itself, its owner serialises access.

No function here recurses along a sequence: a schema with thousands of properties is a
thousands-long sequence, walked in loops. Recursion follows nesting only (bounded by the
compiler's ``Limits``).
"""

from __future__ import annotations

import bisect
from typing import Callable, Hashable, Iterable

from ..errors import SchemaError

NEVER, EMPTY, BYTES, CLASS, SEQ, ALT, REPEAT, AND, NOT, REF, SPECIAL, LEX = range(12)
KIND_NAMES = ("never", "empty", "bytes", "class", "seq", "alt", "repeat", "and", "not", "ref", "special",
              "lexeme")
FIRST_SPECIAL_SYMBOL = 256  # symbols 0..255 are bytes; special tokens are numbered from here
_IN_PROGRESS = object()


def class_byte(cuts: tuple[int, ...], byte: int) -> int:
    """The lowest byte of ``byte``'s class (classes start at 0 and at each cut, see
    :meth:`ExprFactory.cuts`): a derivative by it stands for the whole class, so every byte of a
    class shares one memo entry."""
    k = bisect.bisect_right(cuts, byte)
    return cuts[k - 1] if k else 0


class Expr:
    """An interned expression node. Never build one directly: use an :class:`ExprFactory`.

    ``live`` caches whether the language is non-empty once known (see the automaton);
    ``body``/``resolve`` belong to references: the rule's expression, or how to build it.
    """

    __slots__ = ("kind", "args", "uid", "_nullable", "_cuts", "_derivs", "_clamped",
                 "has_bool", "live", "body", "resolve")

    # Identity hashing and equality (object's, in C): expressions are interned, so structurally
    # equal ones are the same object; dicts keyed by them cost no Python call.

    def __init__(self, kind: int, args: tuple, uid: int, has_bool: bool):
        self.kind = kind
        self.args = args
        self.uid = uid
        self._nullable: bool | None = None
        self._cuts: tuple[int, ...] | None = None
        self._derivs: dict[int, object] = {}
        self._clamped: dict[int, Expr] | None = None  # by bound
        self.has_bool = has_bool
        self.live: bool | None = None
        self.body: Expr | None = None
        self.resolve: Callable[[], Expr] | None = None

    def __repr__(self) -> str:
        return f"Expr#{self.uid}({KIND_NAMES[self.kind]})"


class ExprFactory:
    """Builds, interns and differentiates expressions."""

    def __init__(self) -> None:
        self._table: dict[tuple, Expr] = {}
        self.specials: dict[str, int] = {}  # special token text -> its symbol (>= 256)
        self.json_chars: dict[Expr, tuple] = {}  # expression of one JSON string character -> its ranges
        self.derivations = 0  # derivatives computed (not looked up): the work-count gate reads it
        self.never = self._make(NEVER, ())
        self.empty = self._make(EMPTY, ())

    # -- interning ----------------------------------------------------------------------------

    def _make(self, kind: int, args: tuple, has_bool: bool = False, key: tuple | None = None) -> Expr:
        """The interned node; ``key`` identifies it by value (children by uid, so the table's
        hashing and comparing stay in C)."""
        if key is None:
            key = (kind, *args)
        found = self._table.get(key)
        if found is None:
            found = Expr(kind, args, len(self._table), has_bool)
            self._table[key] = found
        return found

    def __len__(self) -> int:
        return len(self._table)

    # -- constructors -------------------------------------------------------------------------

    def literal(self, data: bytes) -> Expr:
        if not data:
            return self.empty
        return self._make(BYTES, (bytes(data),))

    def byte_set(self, mask: int) -> Expr:
        """One byte whose bit is set in the 256-bit ``mask``."""
        if mask == 0:
            return self.never
        if mask & (mask - 1) == 0:
            return self.literal(bytes([mask.bit_length() - 1]))
        return self._make(CLASS, (mask,))

    def byte_ranges(self, ranges: Iterable[tuple[int, int]]) -> Expr:
        mask = 0
        for lo, hi in ranges:
            mask |= ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)
        return self.byte_set(mask)

    def special(self, text: str) -> Expr:
        """The special token spelled ``text`` (a symbol of its own, see the module docstring)."""
        symbol = self.specials.setdefault(text, FIRST_SPECIAL_SYMBOL + len(self.specials))
        return self._make(SPECIAL, (symbol,))

    def seq(self, *items: Expr) -> Expr:
        result = self.empty
        for item in reversed(items):
            result = self._seq2(item, result)
        return result

    def _seq2(self, head: Expr, tail: Expr) -> Expr:
        hk = head.kind
        if hk == NEVER or tail.kind == NEVER:
            return self.never
        if hk == EMPTY:
            return tail
        if tail.kind == EMPTY:
            return head
        if hk == SEQ:  # keep sequences right-nested: (a b) c -> a (b c), in a loop
            heads: list[Expr] = []
            while head.kind == SEQ:
                heads.append(head.args[0])
                head = head.args[1]
            tail = self._seq2(head, tail)
            for item in reversed(heads):
                tail = self._seq2(item, tail)
            return tail
        if hk == BYTES:  # merge adjacent literals so equal languages meet as one node
            if tail.kind == BYTES:
                return self.literal(head.args[0] + tail.args[0])
            if tail.kind == SEQ and tail.args[0].kind == BYTES:
                return self._seq2(self.literal(head.args[0] + tail.args[0].args[0]), tail.args[1])
        return self._make(SEQ, (head, tail), head.has_bool or tail.has_bool, (SEQ, head.uid, tail.uid))

    def alt(self, *items: Expr) -> Expr:
        flat: dict[Expr, None] = {}
        byte_mask = 0
        for item in items:
            for sub in item.args if item.kind == ALT else (item,):
                k = sub.kind
                if k == NEVER:
                    continue
                if k == CLASS:
                    byte_mask |= sub.args[0]
                elif k == BYTES and len(sub.args[0]) == 1:
                    byte_mask |= 1 << sub.args[0][0]
                else:
                    flat[sub] = None
        if byte_mask:
            flat[self.byte_set(byte_mask)] = None
        if len(flat) > 1 and self.empty in flat and any(
                x is not self.empty and x.kind != REF and not x.has_bool and self._nullable_no_refs(x)
                for x in flat):
            del flat[self.empty]  # "ε | x" is x when x already accepts the empty string
        if not flat:
            return self.never
        if len(flat) == 1:
            return next(iter(flat))
        members = tuple(sorted(flat, key=_uid))
        return self._make(ALT, members, any(m.has_bool for m in members), (ALT, *[m.uid for m in members]))

    def repeat(self, item: Expr, lo: int = 0, hi: int | None = None) -> Expr:
        if hi is not None and hi < lo:
            return self.never
        if hi == 0 or item.kind == EMPTY:
            return self.empty
        if item.kind == NEVER:
            return self.empty if lo == 0 else self.never
        if lo == 1 and hi == 1:
            return item
        if item.kind == REPEAT and item.args[1] == 0 and item.args[2] is None:
            return item  # (x*){lo,hi} is x*: counting copies of a star adds nothing
        return self._make(REPEAT, (item, lo, hi), item.has_bool, (REPEAT, item.uid, lo, hi))

    def both(self, *items: Expr) -> Expr:
        """Intersection: strings every item matches."""
        flat: dict[Expr, None] = {}
        for item in items:
            for sub in item.args if item.kind == AND else (item,):
                if sub.kind == NEVER:
                    return self.never
                if sub.kind == NOT and sub.args[0].kind == NEVER:
                    continue  # the complement of nothing: every string, no constraint
                flat[sub] = None
        if not flat:
            return self.complement(self.never)
        if len(flat) > 1 and not self._subsume(flat):
            return self.never
        if len(flat) == 1:
            return next(iter(flat))
        members = tuple(sorted(flat, key=_uid))
        return self._make(AND, members, True, (AND, *[m.uid for m in members]))

    @staticmethod
    def _subsume(flat: dict[Expr, None]) -> bool:
        """Drop the members of an intersection that another member implies; ``False`` if the
        intersection is empty for the same reason.

        A member that is an alternative with another member among its branches holds whatever
        that member holds (``(x | y) & y`` is ``y``), and the complement of such a member, or of
        another member itself, leaves nothing (``¬(x | y) & y`` is empty). Both shapes are what
        a search pattern becomes once it has matched inside a key: ``.*p.*`` derives to
        ``… | .*``, the very string body the key is intersected with. Without this, the key's
        states would go on telling apart positions that differ only inside patterns already
        decided, and proving a dead one empty would take a search through all of them.
        """
        drop: list[Expr] = []
        for x in flat:
            if x.kind == NOT:
                inner = x.args[0]
                if inner in flat or (inner.kind == ALT and any(y in flat for y in inner.args)):
                    return False
            elif x.kind == ALT and any(y in flat for y in x.args):
                drop.append(x)
        for x in drop:  # a branch is never an alternative itself (they are flat): no cycles
            del flat[x]
        return True

    def complement(self, item: Expr) -> Expr:
        """Every byte string ``item`` does not match (intersect it with something useful)."""
        if item.kind == NOT:
            return item.args[0]
        return self._make(NOT, (item,), True, (NOT, item.uid))

    def lexeme(self, item: Expr) -> Expr:
        """``item`` marked as one lexical unit (same language; see the module docstring)."""
        if item.kind in (NEVER, EMPTY, LEX):
            return item
        return self._make(LEX, (item,), item.has_bool, (LEX, item.uid))

    def ref(self, key: Hashable) -> Expr:
        """A reference to rule ``key``; keys must be unique across the factory's grammars (the
        lowering prefixes them with a grammar-unique token). Give it a ``resolve`` callable
        (or a ``body``) before it is differentiated."""
        return self._make(REF, (key,))

    @staticmethod
    def body(ref: Expr) -> Expr:
        body = ref.body
        if body is None:
            if ref.resolve is None:
                raise SchemaError(f"reference to undefined rule {ref.args[0]!r}")
            body = ref.body = ref.resolve()
            ref.resolve = None
        return body

    # -- properties ---------------------------------------------------------------------------

    def _nullable_no_refs(self, e: Expr) -> bool:
        """Nullability, for use while rules may still be undefined: refs count as non-nullable."""
        while True:
            k = e.kind
            if k == EMPTY:
                return True
            if k in (NEVER, BYTES, CLASS, REF, SPECIAL):
                return False
            if k == SEQ:
                if not self._nullable_no_refs(e.args[0]):
                    return False
                e = e.args[1]
                continue
            if k == ALT:
                return any(self._nullable_no_refs(x) for x in e.args)
            if k == REPEAT:
                return e.args[1] == 0 or self._nullable_no_refs(e.args[0])
            if k == AND:
                return all(self._nullable_no_refs(x) for x in e.args)
            if k == LEX:
                e = e.args[0]
                continue
            return not self._nullable_no_refs(e.args[0])  # NOT

    def nullable(self, e: Expr) -> bool:
        """Whether ``e`` matches the empty string: the state accepts, EOS may come now."""
        found = e._nullable
        if found is not None:
            return found
        k = e.kind
        if k == SEQ:
            result = True
            x = e
            while x.kind == SEQ:
                if not self.nullable(x.args[0]):
                    result = False
                    break
                x = x.args[1]
            else:
                result = self.nullable(x)
        elif k == REF:
            e._nullable = False  # least fixpoint: assume not while the rule is being examined
            result = self.nullable(self.body(e))
        elif k == EMPTY:
            result = True
        elif k in (NEVER, BYTES, CLASS, SPECIAL):
            result = False
        elif k == ALT:
            result = any(self.nullable(x) for x in e.args)
        elif k == REPEAT:
            result = e.args[1] == 0 or self.nullable(e.args[0])
        elif k == AND:
            result = all(self.nullable(x) for x in e.args)
        elif k == LEX:
            result = self.nullable(e.args[0])
        else:
            result = not self.nullable(e.args[0])
        e._nullable = result
        return result

    def cuts(self, e: Expr) -> tuple[int, ...]:
        """Byte values where the derivative may change: bytes between two cuts behave alike.

        Lets a whole DFA row (256 bytes) be filled with one derivative per class, typically a
        handful, instead of 256.
        """
        found = e._cuts
        if found is not None:
            return found
        k = e.kind
        if k in (NEVER, EMPTY, SPECIAL):  # no byte matches a special token: all bytes alike
            result: tuple[int, ...] = ()
        elif k == BYTES:
            b = e.args[0][0]
            result = (b, b + 1)
        elif k == CLASS:
            mask = e.args[0]
            result = tuple(i for i in range(1, 256) if ((mask >> i) & 1) != ((mask >> (i - 1)) & 1))
        elif k == SEQ:
            merged: set[int] = set()
            x = e
            while x.kind == SEQ:
                merged.update(self.cuts(x.args[0]))
                if not self.nullable(x.args[0]):
                    break
                x = x.args[1]
            else:
                merged.update(self.cuts(x))
            result = tuple(sorted(merged))
        elif k in (ALT, AND):
            merged = set()
            for x in e.args:
                merged.update(self.cuts(x))
            result = tuple(sorted(merged))
        elif k in (REPEAT, NOT, LEX):
            result = self.cuts(e.args[0])
        else:  # REF
            e._cuts = ()  # a cycle back here is left recursion; derive() reports it
            result = self.cuts(self.body(e))
        e._cuts = result
        return result

    def derive(self, e: Expr, byte: int) -> Expr:
        """The expression matching ``{s : byte + s in L(e)}``; ``byte`` may be a special token's
        symbol (>= 256), which only a SPECIAL node of that symbol matches."""
        found = e._derivs.get(byte)
        if found is not None:
            if found is _IN_PROGRESS:
                raise SchemaError(f"left recursion through rule {e.args[0]!r}: a rule may not "
                                  "reach itself without consuming input")
            return found  # type: ignore[return-value]
        k = e.kind
        if k == SEQ:
            parts: list[Expr] = []
            x = e
            while True:
                head, tail = x.args
                parts.append(self._seq2(self.derive(head, byte), tail))
                if not self.nullable(head):
                    break
                if tail.kind != SEQ:
                    parts.append(self.derive(tail, byte))
                    break
                known = tail._derivs.get(byte)
                if known is not None and known is not _IN_PROGRESS:
                    parts.append(known)  # type: ignore[arg-type]
                    break
                x = tail
            result = parts[0] if len(parts) == 1 else self.alt(*parts)
        elif k == LEX:
            result = self.lexeme(self.derive(e.args[0], byte))
        elif k in (NEVER, EMPTY):
            result = self.never
        elif k == BYTES:
            data = e.args[0]
            result = self.literal(data[1:]) if data[0] == byte else self.never
        elif k == CLASS:
            result = self.empty if (e.args[0] >> byte) & 1 else self.never
        elif k == SPECIAL:
            result = self.empty if e.args[0] == byte else self.never
        elif k == ALT:
            result = self.alt(*[self.derive(x, byte) for x in e.args])
        elif k == REPEAT:
            item, lo, hi = e.args
            if lo > 0 and self.nullable(item):
                lo = 0
            rest = self.repeat(item, max(lo - 1, 0), None if hi is None else hi - 1)
            result = self._seq2(self.derive(item, byte), rest)
        elif k == AND:
            result = self.both(*[self.derive(x, byte) for x in e.args])
        elif k == NOT:
            result = self.complement(self.derive(e.args[0], byte))
        else:  # REF
            e._derivs[byte] = _IN_PROGRESS
            try:
                result = self.derive(self.body(e), byte)
            finally:
                del e._derivs[byte]
        e._derivs[byte] = result
        self.derivations += 1
        return result

    def derive_bytes(self, e: Expr, data: bytes) -> Expr:
        for byte in data:
            e = self.derive(e, byte)
            if e.kind == NEVER:
                break
        return e

    def matches(self, e: Expr, data: bytes) -> bool:
        """Whether ``data`` is in the language of ``e`` (for compile-time checks on keys)."""
        return self.nullable(self.derive_bytes(e, data))

    def clamp(self, e: Expr, bound: int) -> Expr:
        """``e`` with every repetition count above ``bound`` treated as "many".

        Any string of at most ``bound`` bytes is a viable prefix of ``e`` (and a member of it)
        exactly when it is one of ``clamp(e, bound)`` (each repetition of a non-nullable item
        eats at least one byte, so counts beyond ``bound`` cannot be told apart within ``bound``
        bytes). With ``bound`` = the longest token, the token mask of ``e`` is the mask of its
        clamp: the 300 states of a ``maxLength: 300`` string share one mask until the last few
        characters.
        """
        if e._clamped is not None:
            found = e._clamped.get(bound)
            if found is not None:
                return found
        k = e.kind
        if k == SEQ:
            heads: list[Expr] = []
            x = e
            while x.kind == SEQ:
                heads.append(x.args[0])
                x = x.args[1]
            result = self.clamp(x, bound)
            for item in reversed(heads):
                result = self._seq2(self.clamp(item, bound), result)
        elif k == ALT:
            result = self.alt(*[self.clamp(x, bound) for x in e.args])
        elif k == AND:
            result = self.both(*[self.clamp(x, bound) for x in e.args])
        elif k == LEX:
            result = self.lexeme(self.clamp(e.args[0], bound))
        elif k == REPEAT:
            item, lo, hi = e.args
            if self.nullable(item):
                result = e
            else:
                inner = self.clamp(item, bound)
                lo = min(lo, bound + 1)
                hi = None if hi is None or hi > bound else hi
                result = self.repeat(inner, lo, hi)
        else:  # NOT: the complement of a clamp is not the clamp of a complement; leaves as is
            result = e
        if e._clamped is None:
            e._clamped = {}
        e._clamped[bound] = result
        return result


def _uid(e: Expr) -> int:
    return e.uid
