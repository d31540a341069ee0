"""Parse a JSON Schema ``pattern`` into a character-level grammar IR node.

Why a hand-written parser: the IR needs the *language* of the regex, not a matcher, and the
Python ``re`` module neither exposes its parse tree as a stable API nor speaks the dialect JSON
Schema prescribes. JSON Schema says ``pattern`` is an ECMA-262 regular expression; this module
reads it with the ``u`` flag semantics (the pattern is a sequence of code points, ``\\u{...}``
escapes exist, ``\\p{...}`` property escapes exist, and ``.`` or ``[^...]`` match one code point,
never half a surrogate pair), because a constrained generator emits code points, not UTF-16 units.

Dialect choices:

* Class escapes use the ECMA definitions, which differ from Python's: ``\\d`` and ``\\w`` are
  ASCII only, ``\\s`` is exactly WhiteSpace + LineTerminator, and ``.`` excludes only ``\\n``,
  ``\\r``, U+2028 and U+2029 (no ``s`` flag).
* Strict ``u`` mode rejects a few spellings that every other dialect (ECMA without ``u``, Python,
  PCRE) reads the same way; schemas written for those validators use them, so they are accepted:
  a backslash before any ASCII punctuation or space is that character (``\\-``, ``\\"``, ``\\#``),
  and ``]``, ``}`` and a ``{`` that does not start a quantifier are literals. Spellings the
  dialects read *differently* are errors instead of a guess: a backslash before an unknown letter
  or digit (``\\a`` is BEL in Python, ``a`` in ECMA without ``u``), ``\\0`` followed by a digit
  (octal) and ``{,n}`` (a quantifier in Python, a literal in ECMA).
* ``^`` and ``$`` are not multiline anchors: they match only at the very start and end.
  ``$`` does not match before a final newline, unlike Python's.
* Lazy quantifiers (``*?`` ...) match the same language as greedy ones; only the language counts.
* ``\\p{...}`` supports the General_Category values (``L``, ``Lu``, ``Letter``, ``gc=Nd`` ...) and
  ``Any``, ``ASCII``, ``Assigned``, computed from :mod:`unicodedata` (so from the Unicode version
  of this Python), not scripts or other binary properties.

Assertions are exact wherever they sit outside a quantified group: ``^`` and ``$`` (also in the
middle: ``a^b`` matches nothing), word boundaries ``\\b`` and ``\\B`` (ECMA's ASCII ``\\w``), and
lookahead ``(?=...)``/``(?!...)`` (whose body has no assertion). A lookahead constrains the rest
of the *whole* string, a word boundary the characters on both sides, so they are not atoms:
each top-level alternative (groups holding assertions distributed into alternatives) is built
from its end, per *context*, the kind of character before the current position (none, a word
character, another): ``\\b`` is then the intersection of what follows with "starts with a word
character" or its opposite, a lookahead the intersection with "starts with a match", ``$`` with
the empty string. Intersection and complement are exact in the engine, and the result stays one
regular character-level node.

Unsupported constructs raise :class:`~enforcer.errors.UnsupportedSchemaError` because they are
not regular, or not expressible exactly as one character-level node: backreferences
(``\\1``, ``\\k<name>``), lookbehind, assertions inside a quantified group or inside a
lookahead, and inline flag modifiers. Malformed patterns raise
:class:`~enforcer.errors.SchemaError` naming the position.

``search=True`` gives the JSON Schema meaning (a string is valid if it *contains* a match):
``.*`` over every code point before and after the pattern (``^`` and ``$`` then pin them to the
edges). ``search=False`` gives full-match semantics.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Union

from enforcer.errors import SchemaError, UnsupportedSchemaError
from enforcer.grammar.nesting import recursion_room, regex_depth
from enforcer.grammar.ir import (
    EMPTY,
    MAX_CODE_POINT,
    NEVER,
    Alt,
    CharClass,
    Complement,
    Empty,
    Intersect,
    Never,
    Node,
    Repeat,
    Seq,
    Ranges,
    alt,
    char_class,
    complement_ranges,
    normalize_ranges,
    repeat,
    seq,
)

__all__ = ["parse_regex"]

# --- character sets -------------------------------------------------------------------------

ALL_CODE_POINTS: Ranges = ((0, MAX_CODE_POINT),)
_LINE_TERMINATORS: Ranges = ((0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029))
_DOT: Ranges = complement_ranges(_LINE_TERMINATORS)
_DIGIT: Ranges = ((0x30, 0x39),)
_WORD: Ranges = normalize_ranges([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)])
_SPACE: Ranges = normalize_ranges(
    [
        (0x09, 0x0D),  # \t \n \v \f \r
        (0x20, 0x20),
        (0xA0, 0xA0),
        (0x1680, 0x1680),
        (0x2000, 0x200A),
        (0x2028, 0x2029),
        (0x202F, 0x202F),
        (0x205F, 0x205F),
        (0x3000, 0x3000),
        (0xFEFF, 0xFEFF),
    ]
)
_CLASS_ESCAPES: dict[str, Ranges] = {
    "d": _DIGIT,
    "D": complement_ranges(_DIGIT),
    "w": _WORD,
    "W": complement_ranges(_WORD),
    "s": _SPACE,
    "S": complement_ranges(_SPACE),
}
_CONTROL_ESCAPES = {"t": 0x09, "n": 0x0A, "v": 0x0B, "f": 0x0C, "r": 0x0D}
_ANY_STAR = repeat(CharClass(ALL_CODE_POINTS))

# --- Unicode properties ---------------------------------------------------------------------

_CATEGORY_GROUPS: dict[str, tuple[str, ...]] = {
    "L": ("Lu", "Ll", "Lt", "Lm", "Lo"),
    "LC": ("Lu", "Ll", "Lt"),
    "M": ("Mn", "Mc", "Me"),
    "N": ("Nd", "Nl", "No"),
    "P": ("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"),
    "S": ("Sm", "Sc", "Sk", "So"),
    "Z": ("Zs", "Zl", "Zp"),
    "C": ("Cc", "Cf", "Cs", "Co", "Cn"),
}
_CATEGORY_LONG_NAMES: dict[str, str] = {
    "Letter": "L", "Cased_Letter": "LC", "Uppercase_Letter": "Lu", "Lowercase_Letter": "Ll",
    "Titlecase_Letter": "Lt", "Modifier_Letter": "Lm", "Other_Letter": "Lo",
    "Mark": "M", "Combining_Mark": "M", "Nonspacing_Mark": "Mn", "Spacing_Mark": "Mc",
    "Enclosing_Mark": "Me",
    "Number": "N", "Decimal_Number": "Nd", "digit": "Nd", "Letter_Number": "Nl",
    "Other_Number": "No",
    "Punctuation": "P", "punct": "P", "Connector_Punctuation": "Pc", "Dash_Punctuation": "Pd",
    "Open_Punctuation": "Ps", "Close_Punctuation": "Pe", "Initial_Punctuation": "Pi",
    "Final_Punctuation": "Pf", "Other_Punctuation": "Po",
    "Symbol": "S", "Math_Symbol": "Sm", "Currency_Symbol": "Sc", "Modifier_Symbol": "Sk",
    "Other_Symbol": "So",
    "Separator": "Z", "Space_Separator": "Zs", "Line_Separator": "Zl",
    "Paragraph_Separator": "Zp",
    "Other": "C", "Control": "Cc", "cntrl": "Cc", "Format": "Cf", "Surrogate": "Cs",
    "Private_Use": "Co", "Unassigned": "Cn",
}  # fmt: skip
_CATEGORIES = frozenset(c for k, group in _CATEGORY_GROUPS.items() if k != "LC" for c in group)


@lru_cache(maxsize=1)
def _category_table() -> dict[str, Ranges]:
    """Code point ranges of every two-letter General_Category, from one scan of the code space."""
    table: dict[str, list[tuple[int, int]]] = {}
    start, current = 0, unicodedata.category("\0")
    for cp, cat in enumerate(map(unicodedata.category, map(chr, range(MAX_CODE_POINT + 1)))):
        if cat != current:
            table.setdefault(current, []).append((start, cp - 1))
            start, current = cp, cat
    table.setdefault(current, []).append((start, MAX_CODE_POINT))
    return {cat: normalize_ranges(ranges) for cat, ranges in table.items()}


def _general_category(value: str) -> Ranges | None:
    """Ranges of a General_Category value (short or long name), ``None`` if it is not one."""
    short = _CATEGORY_LONG_NAMES.get(value, value)
    if short not in _CATEGORY_GROUPS and short not in _CATEGORIES:
        return None
    table = _category_table()
    members = _CATEGORY_GROUPS.get(short, (short,))
    return normalize_ranges(r for m in members for r in table.get(m, ()))


@lru_cache(maxsize=None)
def _property_ranges(body: str) -> Ranges | None:
    """Ranges of the ``\\p{body}`` property, ``None`` if unsupported."""
    name, _, value = body.partition("=")
    if value:
        return _general_category(value) if name in ("General_Category", "gc") else None
    if name == "Any":
        return ALL_CODE_POINTS
    if name == "ASCII":
        return ((0, 0x7F),)
    if name == "Assigned":
        return complement_ranges(_category_table().get("Cn", ()))
    return _general_category(name)


# --- parse tree with anchors ----------------------------------------------------------------
# Anchors cannot be IR nodes, so the parser keeps them (and groups that contain them) as
# separate terms until the edges of the pattern are known.


@dataclass(frozen=True)
class _Anchor:
    kind: str  # "^", "$", "b" (word boundary), "B" (not one)
    pos: int


@dataclass(frozen=True)
class _Look:
    """A lookahead: the rest of the string starts (``negative``: does not start) with a match of
    ``branches`` (which may hold assertions themselves)."""

    branches: tuple[tuple["_Term", ...], ...]
    negative: bool
    pos: int


@dataclass(frozen=True)
class _AnchoredGroup:
    """A group with an anchor somewhere inside: kept as branches of terms."""

    branches: tuple[tuple[_Term, ...], ...]
    pos: int


_Term = Union[Node, _Anchor, _Look, _AnchoredGroup]
_Branches = tuple[tuple[_Term, ...], ...]
_ClassItem = Union[int, Ranges]  # one code point, or the ranges of a class escape

_SIMPLE_QUANTIFIERS: dict[str, tuple[int, int | None]] = {
    "*": (0, None),
    "+": (1, None),
    "?": (0, 1),
}
_BRACE_QUANTIFIER = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_AMBIGUOUS_BRACE = re.compile(r"\{,[0-9]*\}")
_GROUP_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_INLINE_FLAGS = re.compile(r"\(\?([a-zA-Z]+(-[a-zA-Z]*)?|-[a-zA-Z]+)[:)]")
_HEX = frozenset("0123456789abcdefABCDEF")


def _has_anchor(terms: tuple[_Term, ...]) -> bool:
    return any(isinstance(t, (_Anchor, _Look, _AnchoredGroup)) for t in terms)


def _single(cp: int) -> Node:
    return CharClass(((cp, cp),))


class _Parser:
    """Recursive descent over the ECMA-262 ``Pattern`` grammar (``u`` mode)."""

    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0

    # errors

    def error(self, message: str, pos: int | None = None) -> SchemaError:
        where = self.pos if pos is None else pos
        return SchemaError(f"{message} at position {where} of {self.src!r}", keyword="pattern")

    def unsupported(self, construct: str, pos: int, why: str) -> UnsupportedSchemaError:
        return UnsupportedSchemaError(
            f"{construct} at position {pos} of {self.src!r} is not supported: {why}",
            keyword="pattern",
        )

    # low-level reading

    def peek(self, offset: int = 0) -> str | None:
        i = self.pos + offset
        return self.src[i] if i < len(self.src) else None

    def startswith(self, text: str) -> bool:
        return self.src.startswith(text, self.pos)

    def take(self) -> str:
        c = self.src[self.pos]
        self.pos += 1
        return c

    def literal_code_point(self) -> int:
        """One source character; a surrogate pair in the Python string is one code point."""
        cp = ord(self.take())
        nxt = self.peek()
        if 0xD800 <= cp <= 0xDBFF and nxt is not None and 0xDC00 <= ord(nxt) <= 0xDFFF:
            self.pos += 1
            return 0x10000 + ((cp - 0xD800) << 10) + (ord(nxt) - 0xDC00)
        return cp

    # structure

    def parse(self) -> _Branches:
        branches = self.disjunction()
        if self.pos < len(self.src):  # only a ')' stops a top-level disjunction early
            raise self.error("unmatched ')'")
        return branches

    def disjunction(self) -> _Branches:
        branches = [self.alternative()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.alternative())
        return tuple(branches)

    def alternative(self) -> tuple[_Term, ...]:
        terms: list[_Term] = []
        while self.peek() is not None and self.peek() not in "|)":
            terms.append(self.term())
        return tuple(terms)

    def term(self) -> _Term:
        start = self.pos
        if self.peek() in ("^", "$"):
            anchor = _Anchor(self.take(), start)
            if self.quantifier_ahead():
                raise self.error(f"nothing to repeat: quantifier after the anchor {anchor.kind!r}")
            return anchor
        atom = self.atom()
        return self.quantified(atom, start)

    def quantifier_ahead(self) -> bool:
        c = self.peek()
        return c in _SIMPLE_QUANTIFIERS or (c == "{" and self.brace_quantifier() is not None)

    def brace_quantifier(self) -> tuple[int, int | None, int] | None:
        """``(min, max, end)`` of a ``{n}``/``{n,}``/``{n,m}`` at the cursor, without consuming."""
        m = _BRACE_QUANTIFIER.match(self.src, self.pos)
        if m is None:
            if _AMBIGUOUS_BRACE.match(self.src, self.pos):
                raise self.error(
                    "'{,n}' is a literal in ECMA-262 but a quantifier in other dialects; "
                    "write '{0,n}' or escape the brace"
                )
            return None
        lo = int(m.group(1))
        if m.group(2) is None:
            return lo, lo, m.end()
        return lo, (int(m.group(3)) if m.group(3) else None), m.end()

    def quantified(self, atom: _Term, start: int) -> _Term:
        bounds = self.quantifier()
        if bounds is None:
            return atom
        if self.quantifier_ahead():
            raise self.error("nothing to repeat: a quantifier cannot follow a quantifier")
        if isinstance(atom, _AnchoredGroup):
            raise self.unsupported(
                "a quantified group containing an assertion", start,
                "an assertion inside a repetition is not expressible as one regular language here"
            )
        if isinstance(atom, _Look):
            raise self.error("nothing to repeat: a quantifier after a lookahead")
        assert not isinstance(atom, _Anchor)
        return repeat(atom, *bounds)

    def quantifier(self) -> tuple[int, int | None] | None:
        qpos = self.pos
        c = self.peek()
        bounds: tuple[int, int | None]
        if c is not None and c in _SIMPLE_QUANTIFIERS:
            bounds = _SIMPLE_QUANTIFIERS[c]
            self.pos += 1
        elif c == "{" and (brace := self.brace_quantifier()) is not None:
            lo, hi, self.pos = brace
            if hi is not None and hi < lo:
                raise self.error(f"numbers out of order in quantifier {{{lo},{hi}}}", qpos)
            bounds = (lo, hi)
        else:
            return None
        if self.peek() == "?":  # lazy: same language
            self.pos += 1
        return bounds

    # atoms

    def atom(self) -> _Term:
        c = self.peek()
        assert c is not None
        if c == ".":
            self.pos += 1
            return CharClass(_DOT)
        if c == "[":
            return self.char_class_atom()
        if c == "(":
            return self.group()
        if c == "\\":
            return self.atom_escape()
        if self.quantifier_ahead():
            raise self.error(f"nothing to repeat: quantifier {c!r} without an atom before it")
        return _single(self.literal_code_point())  # includes lenient literal ] } {

    def group(self) -> _Term:
        start = self.pos
        self.pos += 1  # (
        look = None
        if self.startswith("?=") or self.startswith("?!"):
            look = self.src[self.pos + 1] == "!"
            self.pos += 2
        elif self.startswith("?"):
            self.group_prefix(start)
        branches = self.disjunction()
        if self.peek() != ")":
            raise self.error("missing ')' for the group opened", start)
        self.pos += 1
        if look is not None:
            return _Look(branches, look, start)
        if any(_has_anchor(b) for b in branches):
            return _AnchoredGroup(branches, start)
        return alt(*(seq(*b) for b in branches))  # type: ignore[arg-type]

    def group_prefix(self, start: int) -> None:
        """Consume what follows ``(?`` of a non-capturing or named group; raise for the rest."""
        if self.startswith("?:"):
            self.pos += 2
            return
        for prefix, what in (("?<=", "lookbehind '(?<='"), ("?<!", "negative lookbehind '(?<!'")):
            if self.startswith(prefix):
                raise self.unsupported(what, start, "lookbehind is not implemented")
        if self.startswith("?<"):
            m = _GROUP_NAME.match(self.src, self.pos + 2)
            end = m.end() if m else self.pos + 2
            if m is None or self.src[end : end + 1] != ">":
                raise self.error("invalid group name in '(?<name>'", start)
            self.pos = end + 1
            return
        if _INLINE_FLAGS.match(self.src, start):
            why = "only the default flags are implemented"
            raise self.unsupported("inline flag modifier '(?flags'", start, why)
        raise self.error(f"invalid group syntax {self.src[start : start + 3]!r}", start)

    def atom_escape(self) -> _Term:
        start = self.pos
        self.pos += 1  # backslash
        c = self.peek()
        if c is None:
            raise self.error("'\\' at end of pattern", start)
        if c in "bB":
            self.pos += 1
            if self.quantifier_ahead():
                raise self.error(f"nothing to repeat: quantifier after the assertion '\\{c}'")
            return _Anchor(c, start)
        if c in "123456789k":
            what = "named backreference '\\k'" if c == "k" else f"backreference '\\{c}'"
            raise self.unsupported(what, start, "backreferences are not regular")
        item = self.escape_item(start, in_class=False)
        return _single(item) if isinstance(item, int) else char_class(item)

    # escapes shared by atoms and classes

    def escape_item(self, start: int, *, in_class: bool) -> _ClassItem:
        """What follows a backslash (cursor just past it): a code point or class-escape ranges."""
        c = self.take()
        if c in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[c]
        if c in "pP":
            return self.property_escape(start, negate=c == "P")
        if c in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[c]
        if c == "0":
            if self.peek() is not None and self.peek() in "0123456789":
                raise self.error("octal escape '\\0<digit>' is not allowed", start)
            return 0
        if c == "x":
            return int(self.hex_digits(2, start), 16)
        if c == "u":
            return self.unicode_escape(start)
        if c == "c":
            letter = self.peek()
            if letter is None or not ("a" <= letter.lower() <= "z"):
                raise self.error("'\\c' must be followed by an ASCII letter", start)
            self.pos += 1
            return ord(letter) % 32
        if in_class and c == "b":
            return 0x08
        if c.isascii() and not c.isalnum():
            return ord(c)  # identity escape: syntax characters, '/', '-', other punctuation
        raise self.error(f"invalid escape '\\{c}'", start)

    def hex_digits(self, count: int, start: int) -> str:
        digits = self.src[self.pos : self.pos + count]
        if len(digits) != count or not set(digits) <= _HEX:
            raise self.error(f"expected {count} hex digits in escape", start)
        self.pos += count
        return digits

    def unicode_escape(self, start: int) -> int:
        if self.peek() == "{":
            end = self.src.find("}", self.pos)
            digits = self.src[self.pos + 1 : end] if end != -1 else ""
            if not digits or not set(digits) <= _HEX or int(digits, 16) > MAX_CODE_POINT:
                raise self.error("invalid '\\u{...}' escape", start)
            self.pos = end + 1
            return int(digits, 16)
        cp = int(self.hex_digits(4, start), 16)
        if 0xD800 <= cp <= 0xDBFF and self.startswith("\\u"):
            trail = self.src[self.pos + 2 : self.pos + 6]
            if len(trail) == 4 and set(trail) <= _HEX and 0xDC00 <= int(trail, 16) <= 0xDFFF:
                self.pos += 6
                return 0x10000 + ((cp - 0xD800) << 10) + (int(trail, 16) - 0xDC00)
        return cp

    def property_escape(self, start: int, *, negate: bool) -> Ranges:
        end = self.src.find("}", self.pos)
        if self.peek() != "{" or end == -1 or end == self.pos + 1:
            raise self.error("'\\p' and '\\P' need a property in braces, like \\p{L}", start)
        body = self.src[self.pos + 1 : end]
        self.pos = end + 1
        ranges = _property_ranges(body)
        if ranges is None:
            raise self.unsupported(
                f"Unicode property '\\p{{{body}}}'", start,
                "only General_Category values (L, Lu, Nd, Letter, gc=P ...), Any, ASCII and "
                "Assigned are implemented",
            )
        return complement_ranges(ranges) if negate else ranges

    # character classes

    def char_class_atom(self) -> Node:
        start = self.pos
        self.pos += 1  # [
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        while self.peek() != "]":
            if self.peek() is None:
                raise self.error("unterminated character class '['", start)
            ranges.extend(self.class_range())
        self.pos += 1
        normalized = normalize_ranges(ranges)
        return char_class(complement_ranges(normalized) if negate else normalized)

    def class_range(self) -> Ranges:
        """One ClassAtom, or ``a-b``; returns the ranges it adds."""
        lo_pos = self.pos
        lo = self.class_item()
        if self.peek() != "-" or self.peek(1) in (None, "]"):
            return ((lo, lo),) if isinstance(lo, int) else lo
        self.pos += 1  # -
        hi = self.class_item()
        if not isinstance(lo, int) or not isinstance(hi, int):
            raise self.error("a class escape like \\d cannot bound a range", lo_pos)
        if hi < lo:
            raise self.error("range out of order in character class", lo_pos)
        return ((lo, hi),)

    def class_item(self) -> _ClassItem:
        if self.peek() != "\\":
            return self.literal_code_point()
        start = self.pos
        self.pos += 1
        c = self.peek()
        if c is None:
            raise self.error("'\\' at end of pattern", start)
        if c in "123456789Bk":
            raise self.error(f"invalid escape '\\{c}' in a character class", start)
        return self.escape_item(start, in_class=True)


# --- assertions -----------------------------------------------------------------------------

_START, _WORD_BEFORE, _OTHER_BEFORE = range(3)  # the context: what precedes the current position
_WORD_CHAR = CharClass(_WORD)
_NON_WORD_CHAR = CharClass(complement_ranges(_WORD))
_ENDS_WORD = seq(_ANY_STAR, _WORD_CHAR)
_ENDS_OTHER = seq(_ANY_STAR, _NON_WORD_CHAR)
_STARTS_WORD = seq(_WORD_CHAR, _ANY_STAR)
_NOT_STARTS_WORD = alt(EMPTY, seq(_NON_WORD_CHAR, _ANY_STAR))
_MAX_SEQUENCES = 64  # top-level alternatives after distributing the groups that hold assertions


def _flatten(pattern: str, terms: tuple[_Term, ...]) -> list[list[_Term]]:
    """The sequences of a branch with its assertion-holding groups distributed (``a(^b|c)`` is
    ``a^b`` or ``ac``)."""
    out: list[list[_Term]] = [[]]
    for term in terms:
        if isinstance(term, _AnchoredGroup):
            options = [f for b in term.branches for f in _flatten(pattern, b)]
            out = [s + f for s in out for f in options]
            if len(out) > _MAX_SEQUENCES:
                raise UnsupportedSchemaError(
                    f"the groups holding assertions in {pattern!r} expand to more than {_MAX_SEQUENCES} "
                    "alternatives", keyword="pattern")
        else:
            for s in out:
                s.append(term)
    return out


def _nullable(node: Node) -> bool:
    """Does a character-level node match the empty string?"""
    if isinstance(node, Empty):
        return True
    if isinstance(node, Seq):
        return all(_nullable(x) for x in node.items)
    if isinstance(node, Alt):
        return any(_nullable(x) for x in node.items)
    if isinstance(node, Repeat):
        return node.min == 0 or _nullable(node.item)
    if isinstance(node, Intersect):
        return all(_nullable(x) for x in node.items)
    if isinstance(node, Complement):
        return not _nullable(node.item)
    return False


def _both(a: Node, b: Node) -> Node:
    if isinstance(a, Never) or isinstance(b, Never):
        return NEVER
    return Intersect((a, b))


def _sequence(terms: list[_Term], pattern: str) -> Node:
    """One flat sequence of atoms and assertions (see :func:`_contexts`)."""
    terms = [t for i, t in enumerate(terms) if not (t is _ANY_STAR and i and terms[i - 1] is _ANY_STAR)]
    if not any(isinstance(t, (_Anchor, _Look)) for t in terms):
        return seq(*terms)  # type: ignore[arg-type]
    return _contexts(terms, [EMPTY, EMPTY, EMPTY], pattern)[_START]


def _look(pattern: str, term: _Look) -> list[Node]:
    """Per context, the strings a lookahead body starts (its match, then anything)."""
    out = [NEVER, NEVER, NEVER]
    tail = [_ANY_STAR, _ANY_STAR, _ANY_STAR]
    for branch in term.branches:
        for terms in _flatten(pattern, branch):
            out = [alt(a, b) for a, b in zip(out, _contexts(terms, tail, pattern))]
    return out


def _contexts(terms: list[_Term], after: list[Node], pattern: str = "") -> list[Node]:
    """A flat sequence of atoms and assertions, followed by ``after``, built from its end per
    context (see the module docstring): ``after[c]`` is what may follow the current position
    when the character before it is of kind ``c``. While no assertion that looks back (``^``,
    ``\\b``, ``\\B``) remains on the right, the three are one node and nothing is intersected."""
    for term in reversed(terms):
        if isinstance(term, _Look):
            starts = _look(pattern, term)
            after = [_both(a, Complement(x) if term.negative else x) for a, x in zip(after, starts)]
        elif isinstance(term, _Anchor):
            if term.kind == "^":
                after = [after[_START], NEVER, NEVER]
            elif term.kind == "$":
                after = [EMPTY if _nullable(a) else NEVER for a in after]
            else:  # \b: a word character on exactly one side; \B: on both or neither
                word_after = [_STARTS_WORD, _NOT_STARTS_WORD, _STARTS_WORD]  # what \b wants after
                if term.kind == "B":
                    word_after = [_NOT_STARTS_WORD, _STARTS_WORD, _NOT_STARTS_WORD]
                after = [_both(a, w) for a, w in zip(after, word_after)]
        else:
            node = term
            if after[0] is after[1] is after[2]:
                after = [seq(node, after[0])] * 3
                continue
            ends_word = seq(_both(node, _ENDS_WORD), after[_WORD_BEFORE])
            ends_other = seq(_both(node, _ENDS_OTHER), after[_OTHER_BEFORE])
            empty = _nullable(node)
            after = [alt(after[c] if empty else NEVER, ends_word, ends_other) for c in range(3)]
    return after


def parse_regex(pattern: str, *, search: bool = False) -> Node:
    """The character-level IR node of an ECMA-262 ``pattern``.

    ``search=False``: the strings the whole pattern matches (``^``/``$`` at the edges are
    no-ops). ``search=True``: the strings containing a match, which is what JSON Schema's
    ``pattern`` keyword accepts.

    Raises :class:`SchemaError` for a malformed pattern and :class:`UnsupportedSchemaError` for
    a construct that cannot be enforced exactly (see the module docstring).
    """
    with recursion_room(regex_depth(pattern)):
        branches = _Parser(pattern).parse()
        options = []
        edge: list[_Term] = [_ANY_STAR] if search else []
        for branch in branches:
            for terms in _flatten(pattern, branch):
                if not search and terms and isinstance(terms[0], _Anchor) and terms[0].kind == "^":
                    terms = terms[1:]  # full match: edge anchors are no-ops
                if not search and terms and isinstance(terms[-1], _Anchor) and terms[-1].kind == "$":
                    terms = terms[:-1]
                options.append(_sequence(edge + terms + edge, pattern))
        return alt(*options)
