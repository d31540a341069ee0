"""A string of an expression, chosen by structure: a proof that its language is not empty.

Sequences concatenate their items' texts, an alternative takes its shortest, ``x{lo,hi}`` is
``lo`` copies of ``x``'s, a byte class gives one of its bytes, a rule its body's. An
intersection takes the text of one part that every other part accepts (checked by derivatives);
special tokens, complements and intersections where no part's text fits have none (``None``).
Every text built is a string of its expression, by construction.

Two readers:

* the token budget's witness (:mod:`enforcer.engine.witness`) spells a state's text in tokens
  to bound how many a completion needs; it prefers bytes that are tokens alone;
* the automaton's liveness (:meth:`~enforcer.engine.automaton.Automaton.is_live`) asks whether
  an intersection can still accept. A search over derivatives decides it exactly, but goes
  depth first in byte order: for an ``idn-hostname`` (an ASCII host name or one with a Latin-1
  letter) it explored every ASCII label before the first ``ß``, some twenty thousand
  derivatives for one state (MaskBench o69992, 20-30 ms of one mask). The text of the part
  ``.*[ß-ÿ].*`` is ``ß``, which the other part accepts: two derivatives. The search stays for
  the intersections this does not settle.
"""

from __future__ import annotations

from .expr import ALT, AND, BYTES, CLASS, EMPTY, LEX, NEVER, REF, REPEAT, SEQ, Expr, ExprFactory, class_byte
from .fold import fold, least_parts, sequence_parts

MAX_TEXT = 4096    # longer texts are not built (``None``), unless a reader asks for fewer
_MEMO = 500_000    # entries kept before the memo is cleared
_PREFERRED = b"a0 "  # a byte class gives one of these when it can (and the reader prefers it)
_MISSING = object()


class Texts:
    """Texts of expressions of one factory, memoised per expression (a bounded table).

    ``prefer``: a bit per byte value; a byte class gives one of :data:`_PREFERRED`, then its
    lowest byte, among the bytes in ``prefer`` when it has any. Texts longer than ``max_text``
    bytes are not built. ``rules=False``: a reference to a rule has no text (its body is not
    read: some are built on demand, one per remainder of a ``multipleOf``, and a text read
    through them would build millions). Not thread-safe by itself (its owners call it under
    the grammar's lock)."""

    def __init__(self, factory: ExprFactory, prefer: int = (1 << 256) - 1, memo: int = _MEMO,
                 max_text: int = MAX_TEXT, rules: bool = True):
        self.factory = factory
        self.prefer = prefer
        self.max_text = max_text
        self.rules = rules
        self._memo_limit = memo
        self._texts: dict[Expr, bytes | None] = {}

    def text(self, e: Expr) -> bytes | None:
        """A string of ``e`` chosen by structure (``None``: none is built, see the module docstring)."""
        found = self._texts.get(e, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        if len(self._texts) > self._memo_limit:
            self._texts.clear()
        return fold(e, self._texts, self._parts, self._text_of, None)

    def accepts(self, e: Expr, text: bytes) -> bool:
        """Whether ``text`` is a string of ``e``, by its derivatives (by each byte's class, so
        the derivatives are the ones the automaton keeps)."""
        f = self.factory
        for byte in text:
            cuts = e._cuts if e._cuts is not None else f.cuts(e)
            e = f.derive(e, class_byte(cuts, byte))
            if e.kind == NEVER:
                return False
        return f.nullable(e)

    def _parts(self, e: Expr) -> list[Expr]:
        if e.kind == SEQ:
            return sequence_parts(e)
        return [] if e.kind == REF and not self.rules else least_parts(e, self.factory)

    def _text_of(self, e: Expr) -> bytes | None:
        """``e``'s text from its parts' texts (all known when :func:`fold` calls it)."""
        texts, k = self._texts, e.kind
        result: bytes | None
        if k == SEQ:
            pieces = [texts[x] for x in sequence_parts(e)]
            result = None if None in pieces else b"".join(pieces)  # type: ignore[arg-type]
        elif k == ALT:
            options = [t for t in (texts[x] for x in e.args) if t is not None]
            result = min(options, key=len) if options else None
        elif k == REPEAT:
            inner, lo, _ = e.args
            one = texts[inner] if lo else b""
            result = None if one is None or len(one) * lo > self.max_text else one * lo
        elif k == LEX:
            result = texts[e.args[0]]
        elif k == REF:
            result = texts[self.factory.body(e)] if self.rules else None
        elif k == BYTES:
            result = e.args[0]
        elif k == CLASS:
            result = bytes([self._class_byte(e.args[0])])
        elif k == EMPTY:
            result = b""
        elif k == AND:  # a text of one part that every other part accepts (a format's length
            result = None  # limits, keys other than the declared ones)
            for x in e.args:
                candidate = texts[x]
                if candidate is not None and all(y is x or self.accepts(y, candidate) for y in e.args):
                    result = candidate
                    break
        else:  # NEVER, SPECIAL, NOT (a complement has no text of its own)
            result = None
        return None if result is not None and len(result) > self.max_text else result

    def _class_byte(self, mask: int) -> int:
        for b in _PREFERRED:
            if (mask >> b) & 1 and (self.prefer >> b) & 1:
                return b
        alone = mask & self.prefer
        pick = alone if alone else mask
        return (pick & -pick).bit_length() - 1
