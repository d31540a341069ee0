"""The grammar intermediate representation every front end compiles to.

JSON Schema, regular expressions and GBNF grammars all lower to these few node types, so the
automaton builder and the engine only ever see one form. Nodes are immutable and hashable: a
front end may share sub-trees freely, and the automaton builder may memoise on them.

Two alphabets live side by side on purpose:

* ``Bytes`` and ``ByteClass`` are byte-level terminals: exact bytes of the output.
* ``Special`` is one special token (no bytes at all): an out-of-band symbol of its own.
* ``CharClass`` is one Unicode scalar value, emitted as its UTF-8 bytes. Regular expressions are
  written over characters, not bytes; keeping the character level explicit lets the JSON Schema
  front end re-encode a regex character as JSON string syntax (raw, ``\\n`` or ``\\uXXXX``) before
  the automaton builder lowers it to bytes.

Ranges are inclusive ``(lo, hi)`` pairs, sorted and non-overlapping (use :func:`normalize_ranges`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterable, Iterator, Mapping, Union

MAX_CODE_POINT = 0x10FFFF
SURROGATES = (0xD800, 0xDFFF)

Ranges = tuple[tuple[int, int], ...]


def normalize_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sort, merge overlapping and adjacent ranges; drop empty ones."""
    merged: list[list[int]] = []
    for lo, hi in sorted((lo, hi) for lo, hi in ranges if lo <= hi):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def complement_ranges(ranges: Ranges, universe: tuple[int, int] = (0, MAX_CODE_POINT)) -> Ranges:
    """The ranges of ``universe`` not covered by ``ranges`` (which must be normalised)."""
    out: list[tuple[int, int]] = []
    start = universe[0]
    for lo, hi in ranges:
        if lo > start:
            out.append((start, min(lo - 1, universe[1])))
        start = max(start, hi + 1)
    if start <= universe[1]:
        out.append((start, universe[1]))
    return tuple(out)


@dataclass(frozen=True)
class Empty:
    """Matches the empty string."""


@dataclass(frozen=True)
class Never:
    """Matches nothing (the empty language): an unsatisfiable branch."""


@dataclass(frozen=True)
class Bytes:
    """An exact byte string."""

    value: bytes


@dataclass(frozen=True)
class ByteClass:
    """One byte out of a set of byte ranges (values 0..255)."""

    ranges: Ranges


@dataclass(frozen=True)
class Divisible:
    """A decimal integer of 1 to ``width`` ASCII digits, without leading zeros, whose value is
    a multiple of ``k``: integer ``multipleOf``. The engine runs it as the remainder automaton
    (state: remainder ``r`` and digits left; digit ``d`` -> ``(10 r + d) % k``), building a
    state when a derivative first reaches it and never one from which no multiple can be
    completed in the digits left; none is built at compile time, and every grammar of a
    compiler shares them."""

    k: int
    width: int


@dataclass(frozen=True)
class CharClass:
    """One Unicode scalar value out of a set of code point ranges, emitted as UTF-8.

    Surrogates (U+D800..U+DFFF) have no UTF-8 form and are never emitted, even if a range
    covers them.
    """

    ranges: Ranges


@dataclass(frozen=True)
class Special:
    """One special (control) token of the vocabulary, named by its text (``<|python_tag|>``,
    ``[TOOL_CALLS]``). Special tokens have no bytes, so a grammar can only allow one by naming
    it; the engine resolves the name against the vocabulary at compile time."""

    text: str


@dataclass(frozen=True)
class Seq:
    """The items one after another."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    """Any one of the items."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Repeat:
    """``item`` repeated between ``min`` and ``max`` times (``max=None``: unbounded)."""

    item: Node
    min: int = 0
    max: int | None = None


@dataclass(frozen=True)
class Intersect:
    """Strings matched by every item. Items must be regular (no ``Ref`` inside)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Complement:
    """Every string ``item`` does not match; useful only inside an :class:`Intersect`
    (e.g. "a JSON string, but not one of the declared property names")."""

    item: Node


@dataclass(frozen=True)
class Lexeme:
    """``item`` is one lexical unit: a regular piece (no ``Ref`` inside) that recurs across
    grammars, such as a JSON string value, a number or an object key. The language is
    ``item``'s; the mark lets the engine share the token masks of the lexeme between grammars
    and walk only the tokens that cross into what follows it."""

    item: Node


@dataclass(frozen=True)
class Lazy:
    """``item``, lowered to engine expressions only when generation first reaches it. Front ends
    wrap large parts that may never be used (an optional property's value, one ``anyOf``
    branch), so compiling costs what the schema says, not what its every branch would."""

    item: Node


@dataclass(frozen=True)
class Ref:
    """A reference to a named rule of the enclosing :class:`Rules`; the way to express recursion.

    ``depth`` is relative nesting for pretty-printed layouts: the rule is used ``depth`` levels
    deeper than the rule holding the reference (see :class:`Indent`)."""

    name: Hashable
    depth: int = 0


@dataclass(frozen=True)
class Indent:
    """A newline and the indentation of nesting level ``base + depth``, where ``base`` is the
    level the enclosing rule is used at and the unit is :attr:`Rules.indent`.

    Pretty-printed JSON (``json.dumps(indent=2)``) indents by depth, so a recursive schema
    needs its rules at every depth; rules are written once, with relative depths, and the
    engine instantiates each at the depths generation reaches."""

    depth: int = 0


@dataclass(frozen=True)
class JsonChar:
    """One character of a JSON string's content out of ``ranges``, in every JSON spelling
    ``spelled`` allows (raw, short escape, ``\\uXXXX``). The engine knows the JSON string
    spellings per vocabulary (which tokens are how many whole characters) and decides string
    masks from tables instead of walking the vocabulary; ``spelled`` is the byte-level truth."""

    ranges: Ranges
    spelled: "Node"


@dataclass(frozen=True, eq=False)
class Words:
    """Exactly one of ``words`` (distinct byte strings): an enum's values, the declared keys of an
    object. The engine builds them as one compressed trie of bytes (shared prefixes once), in a
    loop over the sorted words: 100,000 values are one node here, not a tree of IR nodes."""

    words: tuple[bytes, ...]


@dataclass(frozen=True)
class Members:
    """The members of a JSON object (or the items of a ``uniqueItems`` array), each at most once.

    ``members``: ``(first, later, required)`` per declared property: the text of the member when
    it comes first (after the opening brace) and after another one (with the separator).
    ``extra``: the same pair for a member whose key is not declared (repeatable), or ``None``.
    ``min``/``max`` bound the number of members. At least one member is written (the empty
    object is the container's business).

    ``ordered``: the declared members come in their order here (each may be skipped unless
    required), the extra ones after them; otherwise in any order.

    The engine builds a state when generation reaches it: in any order it tracks which members
    remain (``n`` members have ``2**n`` subsets), in order only the next one allowed. An object
    with thousands of properties is one node, not a chain as long as its member list."""

    members: tuple[tuple["Node", "Node", bool], ...]
    extra: tuple["Node", "Node"] | None
    min: int = 0
    max: int | None = None
    ordered: bool = False


Node = Union[Empty, Never, Bytes, ByteClass, CharClass, Divisible, JsonChar, Special, Seq, Alt, Repeat, Intersect, Complement,
             Lexeme, Lazy, Ref, Indent, Members, Words]


@dataclass(frozen=True, eq=False)
class Rules:
    """A grammar: named rules and the start rule."""

    rules: Mapping[Hashable, Node]
    start: Hashable
    indent: str = ""
    """The text of one indentation level, for :class:`Indent` nodes."""
    depth: int = 0
    """How deep the engine may recurse into these rules, in nesting levels, as the front end
    measured it (see :func:`enforcer.grammar.analysis.recursion_depth`); 0: not measured, the
    compiler measures it."""


# Small constructors that simplify as they build, so front ends can compose freely.

EMPTY = Empty()
NEVER = Never()


def seq(*items: Node) -> Node:
    flat: list[Node] = []
    for item in items:
        if isinstance(item, Never):
            return NEVER
        if isinstance(item, Empty):
            continue
        if isinstance(item, Seq):
            flat.extend(item.items)
        elif isinstance(item, Bytes) and flat and isinstance(flat[-1], Bytes):
            flat[-1] = Bytes(flat[-1].value + item.value)
        else:
            flat.append(item)
    if not flat:
        return EMPTY
    return flat[0] if len(flat) == 1 else Seq(tuple(flat))


def alt(*items: Node) -> Node:
    flat: list[Node] = []
    seen: set[int] = set()  # by identity: structural == would recurse through deep trees
    for item in items:
        if isinstance(item, Never):
            continue
        for sub in item.items if isinstance(item, Alt) else (item,):
            if id(sub) not in seen:
                seen.add(id(sub))
                flat.append(sub)
    if not flat:
        return NEVER
    return flat[0] if len(flat) == 1 else Alt(tuple(flat))


def repeat(item: Node, min: int = 0, max: int | None = None) -> Node:
    if max is not None and max < min:
        return NEVER
    if max == 0 or isinstance(item, Empty):
        return EMPTY
    if isinstance(item, Never):
        return EMPTY if min == 0 else NEVER
    if min == 1 and max == 1:
        return item
    if isinstance(item, Repeat) and _powers_merge(item.min, item.max, min):
        # (x{a,b}){c,d} is x{ca,db} when the counts leave no gap: ((a{1,100}){1,100}){1,100}
        # is one counter, not three nested ones whose derivatives multiply
        return repeat(item.item, item.min * min, None if item.max is None or max is None else item.max * max)
    return Repeat(item, min, max)


def _powers_merge(a: int, b: int | None, c: int) -> bool:
    """Whether the counts k*[a, b], for every k >= c, cover an interval without gaps: then
    (x{a,b}){c,d} == x{ca,db} (concatenation powers of one language add up)."""
    if c == 0 and a > 1:
        return False  # {0} and [a, b] leave a gap
    return b is None or max(c, 1) * (b - a) >= a - 1


def lexeme(item: Node) -> Node:
    if isinstance(item, (Empty, Never, Lexeme)):
        return item
    return Lexeme(item)


def optional(item: Node) -> Node:
    return repeat(item, 0, 1)


def literal(text: str | bytes) -> Node:
    value = text.encode("utf-8") if isinstance(text, str) else text
    return Bytes(value) if value else EMPTY


def char_class(ranges: Iterable[tuple[int, int]]) -> Node:
    normalized = normalize_ranges(ranges)
    return CharClass(normalized) if normalized else NEVER


def walk(roots: "Iterable[Node]") -> "Iterator[Node]":
    """Every node of the DAGs below ``roots``, each once, in no particular order (a loop, not
    recursion: IR may nest as deep as its input)."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, (Seq, Alt, Intersect)):
            stack.extend(node.items)
        elif isinstance(node, (Repeat, Complement, Lexeme, Lazy)):
            stack.append(node.item)
        elif isinstance(node, JsonChar):
            stack.append(node.spelled)
        elif isinstance(node, Members):
            for first, later, _ in node.members:
                stack.extend((first, later))
            if node.extra is not None:
                stack.extend(node.extra)
