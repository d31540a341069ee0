"""The typed schema model: what a schema says about each JSON type, once ``$ref`` and ``allOf``
are resolved.

A JSON Schema object is a conjunction of keywords, each about one JSON type (``minLength`` about
strings, ``properties`` about objects...). :class:`Typed` keeps exactly that: the allowed types
and one record per type, so two schemas meet by meeting record by record (:meth:`Typed.meet`)
and a new keyword has one obvious home. ``anyOf``/``oneOf`` become :class:`AnyOf`, distributed
over meets. Subschemas (property values, items) stay unread (:class:`Sub`, a conjunction of raw
schemas with their places) until the emitter needs them, which is what lets a recursive schema
become a finite set of grammar rules.

The records are closed under complement (see :mod:`.logic`), so ``not``, an exact ``oneOf`` and
``if``/``then``/``else`` are model nodes too, never text-level operations: each positive
constraint has its negative form beside it (``patterns`` and ``not_patterns``, ``multiples`` and
``not_multiples``, ``enum`` and ``excluded``), and the existential ones that negating a
universal keyword produces ("some item is not valid under ``items``": :class:`Contains`; "some
member is not valid under ``properties``": :class:`Exists`). The complement of a subschema stays
unread as well (a :class:`Neg` part of a :class:`Sub`), so negating a recursive schema is as
lazy as reading it.

The model is the front end's only truth: the emitter turns it into grammar IR and
:func:`accepts` validates ``enum`` candidates with it, so both agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Union

from .document import Where

TYPES = ("null", "boolean", "object", "array", "string", "number", "integer")
ALL_TYPES = frozenset(TYPES) - {"integer"}  # "number" includes the integers


@dataclass(frozen=True, eq=False)
class Raw:
    """One raw subschema (a dict or a boolean) and its place."""

    schema: Any
    where: Where


@dataclass(frozen=True, eq=False)
class Neg:
    """The complement of a subschema, read (and negated) when reached."""

    sub: "Sub"


@dataclass(frozen=True, eq=False)
class Fixed:
    """A part that is already a model node (a key class, a constant's model); ``key`` identifies it
    for the emitter's memo (the owner keeps the node alive)."""

    node: "Node"
    pointer: str = "#"


Part = Union[Raw, Neg, Fixed]


@dataclass(frozen=True, eq=False)
class Sub:
    """A subschema not read yet: the conjunction of ``parts``."""

    parts: tuple[Part, ...] = ()

    def meet(self, other: "Sub") -> "Sub":
        if not other.parts:
            return self
        if not self.parts:
            return other
        return Sub(self.parts + other.parts)

    @property
    def is_true(self) -> bool:
        return all(isinstance(p, Raw) and (p.schema is True or p.schema == {}) for p in self.parts)

    @property
    def is_false(self) -> bool:
        return any((isinstance(p, Raw) and p.schema is False) or (isinstance(p, Neg) and p.sub.is_true)
                   or (isinstance(p, Fixed) and isinstance(p.node, Nothing)) for p in self.parts)

    @property
    def pointer(self) -> str:
        for p in self.parts:
            if isinstance(p, Raw):
                return p.where.pointer
            if isinstance(p, Fixed):
                return p.pointer
            if isinstance(p, Neg):
                return p.sub.pointer
        return "#"


TRUE = Sub()


def negated(sub: Sub) -> Sub:
    """The complement of ``sub`` as a subschema (unread)."""
    if len(sub.parts) == 1 and isinstance(sub.parts[0], Neg):
        return sub.parts[0].sub
    return Sub((Neg(sub),))


def fixed(node: "Node", pointer: str = "#") -> Sub:
    """A subschema that is the model node ``node``."""
    return Sub((Fixed(node, pointer),))


@dataclass(frozen=True, eq=False)
class StringC:
    min_length: int = 0
    max_length: int | None = None
    patterns: tuple[tuple[str, str], ...] = ()  # (pattern, JSON pointer of its schema)
    formats: tuple[str, ...] = ()
    not_patterns: tuple[tuple[str, str], ...] = ()  # patterns the string must not match
    not_formats: tuple[str, ...] = ()  # formats the string must not be in

    def meet(self, o: "StringC") -> "StringC":
        return StringC(max(self.min_length, o.min_length), _min(self.max_length, o.max_length),
                       _union(self.patterns, o.patterns), _union(self.formats, o.formats),
                       _union(self.not_patterns, o.not_patterns), _union(self.not_formats, o.not_formats))


Bound = tuple[Decimal, bool]  # (value, exclusive)


@dataclass(frozen=True, eq=False)
class NumberC:
    minimum: Bound | None = None
    maximum: Bound | None = None
    multiples: tuple[Decimal, ...] = ()
    fraction: bool = False  # not an integer (a non-zero fractional part)
    not_multiples: tuple[Decimal, ...] = ()

    def meet(self, o: "NumberC") -> "NumberC":
        return NumberC(tighter(self.minimum, o.minimum, lower=True), tighter(self.maximum, o.maximum, lower=False),
                       _union(self.multiples, o.multiples), self.fraction or o.fraction,
                       _union(self.not_multiples, o.not_multiples))

    @property
    def plain(self) -> bool:
        """Written in plain decimal notation (no exponent): a bound, a step or a negative
        constraint needs the value of every prefix (see :mod:`.numbers`)."""
        return (self.minimum is not None or self.maximum is not None or bool(self.multiples) or self.fraction
                or bool(self.not_multiples))


@dataclass(frozen=True, eq=False)
class Contains:
    """Between ``min`` and ``max`` items at positions ``start`` and later are valid under ``sub``
    (``contains`` with ``minContains``/``maxContains``; "some item is not valid under ``items``"
    is ``Contains(not items, 1, None, len(prefixItems))``)."""

    sub: Sub
    min: int = 1
    max: int | None = None
    start: int = 0
    pointer: str = "#"
    annotates: bool = False  # a schema's own ``contains``: its matches count as evaluated items


@dataclass(frozen=True, eq=False)
class ArrayC:
    prefix: tuple[Sub, ...] = ()
    items: Sub = TRUE  # every position past ``prefix``
    min_items: int = 0
    max_items: int | None = None
    contains: tuple[Contains, ...] = ()
    unique: bool = False
    pointer: str = "#"
    evaluated: int | None = 0  # leading items a schema's own keywords evaluate (None: all), for unevaluatedItems

    def at(self, i: int) -> Sub:
        return self.prefix[i] if i < len(self.prefix) else self.items

    def meet(self, o: "ArrayC") -> "ArrayC":
        n = max(len(self.prefix), len(o.prefix))
        prefix = tuple(self.at(i).meet(o.at(i)) for i in range(n))
        evaluated = None if self.evaluated is None or o.evaluated is None else max(self.evaluated, o.evaluated)
        return ArrayC(prefix, self.items.meet(o.items), max(self.min_items, o.min_items),
                      _min(self.max_items, o.max_items), _union(self.contains, o.contains), self.unique or o.unique,
                      self.pointer if self.unique or self.contains else o.pointer, evaluated)


@dataclass(frozen=True, eq=False)
class ObjectPart:
    """The key-dependent keywords of one schema object: which schema a key's value follows is
    decided per schema object (``additionalProperties`` governs the keys *that object* does not
    declare), so a meet keeps the parts side by side."""

    properties: tuple[tuple[str, Sub], ...] = ()
    patterns: tuple[tuple["str | Node", Sub], ...] = ()  # a regex, or a key class (a model node of strings)
    additional: Sub = TRUE
    pointer: str = "#"
    annotates: bool = False  # a schema's own keywords: the keys it names count as evaluated
    additional_given: bool = False  # ``additionalProperties`` was given: every key is evaluated

    def declared(self, name: str) -> Sub | None:
        for n, sub in self.properties:
            if n == name:
                return sub
        return None


@dataclass(frozen=True, eq=False)
class Exists:
    """Some member's key is in the key class ``key`` (a model node of strings) and its value is
    valid under ``value``: what negating ``patternProperties``, ``additionalProperties`` or
    ``propertyNames`` asks for."""

    key: "Node"
    value: Sub = TRUE
    pointer: str = "#"


@dataclass(frozen=True, eq=False)
class ObjectC:
    parts: tuple[ObjectPart, ...] = ()
    required: tuple[str, ...] = ()
    names: Sub = TRUE  # propertyNames
    min_properties: int = 0
    max_properties: int | None = None
    exists: tuple[Exists, ...] = ()

    def meet(self, o: "ObjectC") -> "ObjectC":
        return ObjectC(self.parts + o.parts, tuple(dict.fromkeys(self.required + o.required)),
                       self.names.meet(o.names), max(self.min_properties, o.min_properties),
                       _min(self.max_properties, o.max_properties), _union(self.exists, o.exists))


NO_STRING, NO_NUMBER, NO_ARRAY, NO_OBJECT = StringC(), NumberC(), ArrayC(), ObjectC()


@dataclass(frozen=True, eq=False)
class Typed:
    """A conjunction of constraints: the JSON types allowed and, per type, its record.
    ``enum``: the finite set of values allowed, if one was given (candidates; those the other
    constraints reject are dropped when emitted)."""

    types: frozenset[str] = ALL_TYPES
    string: StringC = NO_STRING
    number: NumberC = NO_NUMBER
    array: ArrayC = NO_ARRAY
    object: ObjectC = NO_OBJECT
    enum: tuple[Any, ...] | None = None
    pointer: str = "#"
    excluded: tuple[Any, ...] = ()  # values not allowed (the complement of an enum)

    def meet(self, o: "Typed") -> "Typed":
        types = meet_types(self.types, o.types)
        enum = self.enum
        if o.enum is not None:
            enum = o.enum if enum is None else intersect_values(enum, o.enum)
        excluded = self.excluded if not o.excluded else unique_values(self.excluded + o.excluded)
        if enum is not None:  # candidates of another type, or excluded, are out now
            out = {canonical(v) for v in excluded}
            enum = tuple(v for v in enum if _type_allowed(types, v) and canonical(v) not in out)
            excluded = ()
        return Typed(types, _meet(self.string, o.string, NO_STRING), _meet(self.number, o.number, NO_NUMBER),
                     _meet(self.array, o.array, NO_ARRAY), _meet(self.object, o.object, NO_OBJECT), enum,
                     self.pointer, excluded)

    @property
    def unconstrained(self) -> bool:
        return (self.types == ALL_TYPES and self.enum is None and self.string is NO_STRING and
                self.number is NO_NUMBER and self.array is NO_ARRAY and self.object is NO_OBJECT
                and not self.excluded)

    @property
    def empty(self) -> bool:
        """Provably no value (cheap checks only)."""
        return not self.types or (self.enum is not None and not self.enum)


def _meet(a: Any, b: Any, none: Any) -> Any:
    if a is none:
        return b
    if b is none:
        return a
    return a.meet(b)


@dataclass(frozen=True, eq=False)
class AnyOf:
    options: tuple["Node", ...]


@dataclass(frozen=True, eq=False)
class Nothing:
    """No value is valid."""


NOTHING = Nothing()
ANY = Typed()
Node = Union[Typed, AnyOf, Nothing]


def meet(a: Node, b: Node, *, limit: int) -> Node:
    """The values both ``a`` and ``b`` accept; ``anyOf`` distributes (at most ``limit``
    alternatives, else ``OverflowError``)."""
    if isinstance(a, Nothing) or isinstance(b, Nothing):
        return NOTHING
    if isinstance(a, AnyOf) or isinstance(b, AnyOf):
        left = a.options if isinstance(a, AnyOf) else (a,)
        right = b.options if isinstance(b, AnyOf) else (b,)
        if len(left) * len(right) > limit:
            raise OverflowError(len(left) * len(right))
        return any_of([meet(x, y, limit=limit) for x in left for y in right])
    if a.unconstrained:
        return b
    if b.unconstrained:
        return a
    met = a.meet(b)
    return NOTHING if met.empty else met


def any_of(options: list[Node]) -> Node:
    flat: list[Node] = []
    for o in options:
        if isinstance(o, AnyOf):
            flat.extend(o.options)
        elif not isinstance(o, Nothing):
            flat.append(o)
    if not flat:
        return NOTHING
    return flat[0] if len(flat) == 1 else AnyOf(tuple(flat))


def meet_types(a: frozenset[str], b: frozenset[str]) -> frozenset[str]:
    """``integer`` is a subset of ``number``."""
    ea = a | {"integer"} if "number" in a else a
    eb = b | {"integer"} if "number" in b else b
    both = ea & eb
    return both - {"integer"} if "number" in both else both


def tighter(a: Bound | None, b: Bound | None, *, lower: bool) -> Bound | None:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] != b[0]:
        return a if (a[0] > b[0]) == lower else b
    return a if a[1] else b  # same value: the exclusive one is tighter


def _union(a: tuple, b: tuple) -> tuple:
    if not b:
        return a
    if not a:
        return b
    return a + tuple(x for x in b if x not in a)


def _type_allowed(types: frozenset[str], value: Any) -> bool:
    kind = json_type(value)
    return kind in types or (kind == "integer" and "number" in types)


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


# -- JSON values ----------------------------------------------------------------------------------

def canonical(value: Any) -> Any:
    """A hashable key equal for values JSON Schema calls equal: ``1 == 1.0``, ``True != 1``,
    objects unordered. Makes ``enum`` deduplication and intersection linear."""
    if isinstance(value, bool) or value is None:
        return ("lit", value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            return ("num", repr(value))
        return ("num", Decimal(str(value)).normalize())
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        return ("arr", tuple(canonical(v) for v in value))
    if isinstance(value, dict):
        return ("obj", frozenset((k, canonical(v)) for k, v in value.items()))
    return ("other", repr(value))


def unique_values(values: Any) -> tuple[Any, ...]:
    seen: set = set()
    out = []
    for v in values:
        key = canonical(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return tuple(out)


def intersect_values(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    keys = {canonical(v) for v in b}
    return tuple(v for v in a if canonical(v) in keys)


def json_type(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


__all__ = ["TYPES", "ALL_TYPES", "Raw", "Neg", "Fixed", "Sub", "TRUE", "negated", "fixed", "StringC", "NumberC",
           "Contains", "ArrayC", "ObjectPart", "Exists", "ObjectC", "NO_STRING", "NO_NUMBER", "NO_ARRAY",
           "NO_OBJECT", "Typed", "AnyOf", "Nothing", "NOTHING", "ANY", "Node", "meet", "any_of", "meet_types",
           "tighter", "canonical", "unique_values", "intersect_values", "json_type", "replace"]
