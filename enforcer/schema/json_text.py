"""JSON text as grammar IR: string escapes, literals, and the whitespace layout.

A JSON string can spell the same character several ways: ``é`` raw, ``\\u00e9`` or ``\\u00E9``;
a quote only as ``\\"`` or ``\\u0022``; a newline as ``\\n`` or ``\\u000a``. Validators see the
decoded string, so the grammar accepts the spellings models use: a model that escapes non-ASCII
(as many were trained to) must not be cut off mid-output. :func:`json_char` turns a set of code
points into those spellings (printable ASCII raw only, see its docstring); :func:`encode_chars` maps a whole character-level
IR (a regex, a format) into the language of its JSON string bodies.

Whitespace is a policy, never unbounded (an unconstrained newline loop is how constrained models
ramble until ``max_new_tokens``): :class:`Layout` is compact, flexible with a bound per gap, or
pretty-printed with a fixed indent, exactly like ``json.dumps(indent=n)``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

from ..errors import OptionError, SchemaError
from ..grammar import ir
from ..grammar.ir import (EMPTY, NEVER, Alt, CharClass, Complement, Intersect, Node, Repeat, Seq,
                          alt, char_class, literal, normalize_ranges, repeat, seq)

ALL_CHARS: ir.Ranges = ((0, ir.MAX_CODE_POINT),)
_SHORT_ESCAPES = {0x22: b'\\"', 0x5C: b"\\\\", 0x2F: b"\\/", 0x08: b"\\b", 0x0C: b"\\f",
                  0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}
# Characters that may appear raw inside a JSON string: everything but controls, '"' and '\'.
_RAW_ALLOWED: ir.Ranges = ((0x20, 0x21), (0x23, 0x5B), (0x5D, 0xD7FF), (0xE000, ir.MAX_CODE_POINT))
# Characters that may also be written as \uXXXX: controls, '"', '\', and everything non-ASCII.
_ESCAPED_AS_UNICODE: ir.Ranges = ((0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C), (0x7F, ir.MAX_CODE_POINT))


def _intersect_ranges(a: ir.Ranges, b: ir.Ranges) -> ir.Ranges:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _hex_digits(lo: int, hi: int) -> Node:
    """One hex digit with value in lo..hi, either case."""
    ranges = []
    for a, b in ((lo, min(hi, 9)), (max(lo, 10), hi)):
        if a > b:
            continue
        if b <= 9:
            ranges.append((ord("0") + a, ord("0") + b))
        else:
            ranges.append((ord("a") + a - 10, ord("a") + b - 10))
            ranges.append((ord("A") + a - 10, ord("A") + b - 10))
    return char_class(ranges)


@lru_cache(maxsize=4096)
def hex_range(lo: int, hi: int, width: int = 4) -> Node:
    """Fixed-width hex numerals (either case) whose value is in ``lo..hi``."""
    if lo > hi:
        return NEVER
    if width == 0:
        return EMPTY
    step = 16 ** (width - 1)
    lo_d, lo_rest = divmod(lo, step)
    hi_d, hi_rest = divmod(hi, step)
    if lo_d == hi_d:
        return seq(_hex_digits(lo_d, lo_d), hex_range(lo_rest, hi_rest, width - 1))
    parts = []
    if lo_rest:
        parts.append(seq(_hex_digits(lo_d, lo_d), hex_range(lo_rest, step - 1, width - 1)))
        lo_d += 1
    tail = None
    if hi_rest != step - 1:
        tail = seq(_hex_digits(hi_d, hi_d), hex_range(0, hi_rest, width - 1))
        hi_d -= 1
    if lo_d <= hi_d:
        parts.append(seq(_hex_digits(lo_d, hi_d), hex_range(0, step - 1, width - 1)))
    if tail is not None:
        parts.append(tail)
    return alt(*parts)


def _unicode_escapes(ranges: ir.Ranges) -> Node:
    r"""``\uXXXX`` spellings of BMP characters and surrogate pairs of astral ones."""
    parts = []
    for lo, hi in ranges:
        for a, b in ((lo, min(hi, 0xD7FF)), (max(lo, 0xE000), min(hi, 0xFFFF))):
            if a <= b:
                parts.append(seq(literal("\\u"), hex_range(a, b)))
        a, b = max(lo, 0x10000), hi
        if a > b:
            continue
        # astral: a high surrogate picks a block of 1024, the low one the place in it
        high_a, low_a = divmod(a - 0x10000, 0x400)
        high_b, low_b = divmod(b - 0x10000, 0x400)
        blocks = [(high_a, high_a, low_a, low_b if high_a == high_b else 0x3FF)]
        if high_b > high_a:
            if high_b - high_a > 1:
                blocks.append((high_a + 1, high_b - 1, 0, 0x3FF))
            blocks.append((high_b, high_b, 0, low_b))
        for h1, h2, l1, l2 in blocks:
            parts.append(seq(literal("\\u"), hex_range(0xD800 + h1, 0xD800 + h2),
                             literal("\\u"), hex_range(0xDC00 + l1, 0xDC00 + l2)))
    return alt(*parts)


@lru_cache(maxsize=8192)
def json_char(ranges: ir.Ranges) -> Node:
    """The JSON-string spellings of one character out of ``ranges``, as an :class:`~ir.JsonChar`.

    Non-ASCII characters: raw UTF-8 or ``\\uXXXX`` (surrogate pairs above the BMP). Control
    characters, ``"`` and ``\\``: their short escape or ``\\uXXXX``. Printable ASCII: raw only
    (plus ``\\/``): no model writes ``\\u0061`` for ``a``, and admitting it would only widen every
    mask and multiply automaton states. This is the one place where the grammar is narrower than
    JSON itself; decoders see the same strings either way.
    """
    ranges = normalize_ranges(ranges)
    if not ranges:
        return NEVER
    raw = _intersect_ranges(ranges, _RAW_ALLOWED)
    parts: list[Node] = [CharClass(raw)] if raw else []
    for cp, escape in _SHORT_ESCAPES.items():
        if any(lo <= cp <= hi for lo, hi in ranges):
            parts.append(literal(escape))
    parts.append(_unicode_escapes(_intersect_ranges(ranges, _ESCAPED_AS_UNICODE)))
    return ir.JsonChar(ranges, alt(*parts))


ANY_JSON_CHAR = json_char(ALL_CHARS)
_NOT_PLAIN = re.compile(r'[^\x20\x21\x23-\x2e\x30-\x5b\x5d-\x7e]')  # what has other spellings


def encode_chars(node: Node) -> Node:
    """Map a character-level IR (what a decoded string must be) to JSON string-body bytes.
    Post-order with an explicit stack: a pattern may nest as deep as its author likes."""
    memo: dict[int, tuple[Node, Node]] = {}
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        n, expanded = stack.pop()
        if id(n) in memo and memo[id(n)][0] is n:
            continue
        children: tuple[Node, ...] = ()
        if isinstance(n, (Seq, Alt, Intersect)):
            children = n.items
        elif isinstance(n, (Repeat, Complement)):
            children = (n.item,)
        if children and not expanded:
            stack.append((n, True))
            stack.extend((c, False) for c in children)
            continue

        def done(c: Node) -> Node:
            return memo[id(c)][1]

        if isinstance(n, CharClass):
            out = json_char(n.ranges)
        elif isinstance(n, ir.Bytes):
            out = string_body(n.value.decode("utf-8"))
        elif isinstance(n, Seq):
            out = seq(*[done(x) for x in n.items])
        elif isinstance(n, Alt):
            out = alt(*[done(x) for x in n.items])
        elif isinstance(n, Repeat):
            out = repeat(done(n.item), n.min, n.max)
        elif isinstance(n, Intersect):
            out = Intersect(tuple(done(x) for x in n.items))
        elif isinstance(n, Complement):
            out = Complement(done(n.item))
        elif isinstance(n, (ir.Empty, ir.Never)):
            out = n
        else:
            raise SchemaError(f"cannot use {type(n).__name__} inside a JSON string")
        memo[id(n)] = (n, out)
    return memo[id(node)][1]


def string_body(text: str) -> Node:
    """The body (between quotes) of a JSON string equal to ``text``, in every spelling."""
    parts: list[Node] = []
    start = 0
    for special in _NOT_PLAIN.finditer(text):  # long enums: the plain runs are found in C
        if special.start() > start:
            parts.append(literal(text[start:special.start()]))
        parts.append(json_char(((ord(special.group()), ord(special.group())),)))
        start = special.end()
    if start < len(text):
        parts.append(literal(text[start:]))
    return parts[0] if len(parts) == 1 else seq(*parts)


def string_bodies(values: Iterable[str]) -> Node:
    """The bodies of JSON strings equal to one of ``values`` (an enum, declared keys): the plain
    ones (a single spelling) as one :class:`~enforcer.grammar.ir.Words` trie, the others each
    in every spelling."""
    plain: list[bytes] = []
    others: list[Node] = []
    for text in dict.fromkeys(values):
        if _NOT_PLAIN.search(text) is None:
            plain.append(text.encode())
        else:
            others.append(string_body(text))
    if plain:
        others.append(ir.Words(tuple(plain)))
    return alt(*others)


def quoted(body: Node) -> Node:
    return seq(literal('"'), body, literal('"'))


class Layout:
    """Where whitespace may go between JSON tokens, and which lexeme carries it.

    ``"compact"``: none (``{"a":1,"b":[1,2]}``). ``"flexible"``: up to ``max_ws`` JSON whitespace
    characters in every gap. An ``int``: pretty-printed like ``json.dumps(value, indent=n)``.

    Whitespace belongs to the lexeme after it (a value, a key, a comma, a closing bracket): a
    *lead*. So every lexeme of a layout has a fixed shape, the same in every schema, and the
    engine shares its token masks. Leads come in three kinds: ``"none"`` (the root value, and
    anything in the compact layout), ``"gap"`` (the flexible layout's bounded run) and ``"nl"``
    (a newline and the indentation of the lexeme's depth, pretty-printed); the depth of an
    ``"nl"`` lead is relative to the rule it is in (:class:`~enforcer.grammar.ir.Indent`).
    """

    def __init__(self, whitespace: str | int = "compact", max_ws: int = 8):
        if isinstance(whitespace, bool) or not (whitespace in ("compact", "flexible") or isinstance(whitespace, int)):
            raise OptionError(f"whitespace must be 'compact', 'flexible' or an indent (int), got {whitespace!r}")
        if isinstance(whitespace, int) and whitespace < 0:
            raise OptionError("indent must be >= 0")
        if isinstance(max_ws, bool) or not isinstance(max_ws, int) or max_ws < 0:
            raise OptionError(f"max_whitespace must be an integer >= 0, got {max_ws!r}")
        self.mode = whitespace
        self.max_ws = max_ws
        self.gap = repeat(char_class([(0x20, 0x20), (0x09, 0x0A), (0x0D, 0x0D)]), 0, max_ws)

    @property
    def pretty(self) -> bool:
        return isinstance(self.mode, int) and not isinstance(self.mode, bool)

    @property
    def indent_unit(self) -> str:
        return " " * self.mode if self.pretty else ""  # type: ignore[operator]

    # -- leads --------------------------------------------------------------------------------

    def item_lead(self) -> str:
        """The lead kind of a value or key inside a container (after ``[``, ``{`` or ``,``)."""
        return "gap" if self.mode == "flexible" else "nl" if self.pretty else "none"

    def colon_lead(self) -> str:
        """The lead kind of a value after a key."""
        return "gap" if self.mode == "flexible" else "none"

    def lead(self, kind: str, depth: int) -> Node:
        """The text of a lead of ``kind`` for a lexeme at ``depth``."""
        if kind == "gap":
            return self.gap
        if kind == "nl":
            return ir.Indent(depth)
        return EMPTY

    # -- lexemes ------------------------------------------------------------------------------

    def lexeme(self, lead: str, depth: int, *text: Node) -> Node:
        """One lexeme: its lead, then ``text``."""
        return ir.lexeme(seq(self.lead(lead, depth), *text))

    def inner_gap(self) -> Node:
        """Whitespace inside an empty container (``{ }``)."""
        return self.gap if self.mode == "flexible" else EMPTY

    def comma(self) -> Node:
        return ir.lexeme(seq(self.gap, literal(","))) if self.mode == "flexible" else ir.lexeme(literal(","))

    def colon(self) -> Node:
        """What follows a key: ``:`` (with the space of the pretty layout)."""
        if self.mode == "flexible":
            return seq(self.gap, literal(":"))
        return literal(": ") if self.pretty else literal(":")

    def close(self, bracket: str, depth: int) -> Node:
        """The closing bracket of a non-empty container at ``depth``."""
        if self.mode == "flexible":
            return ir.lexeme(seq(self.gap, literal(bracket)))
        if self.pretty:
            return ir.lexeme(seq(ir.Indent(depth), literal(bracket)))
        return ir.lexeme(literal(bracket))

    def container(self, lead: str, depth: int, open_: str, close: str, items: Node, allow_empty: bool) -> Node:
        """``open_ items close``, or the empty container; ``items`` is the non-empty content
        (its first item carries the item lead)."""
        empty = self.lexeme(lead, depth, literal(open_), self.inner_gap(), literal(close)) if allow_empty else NEVER
        if isinstance(items, ir.Never):
            return empty
        filled = seq(self.lexeme(lead, depth, literal(open_)), items, self.close(close, depth))
        return alt(empty, filled)
