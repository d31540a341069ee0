"""The typed schema model: what a schema says about each JSON type, once ``$ref`` and ``allOf``
are resolved.

A JSON Schema object is a conjunction of keywords, each about one JSON type (``minLength`` about
strings, ``properties`` about objects...). :class:`Typed` keeps exactly that: the allowed types
and one record per type, so two schemas meet by meeting record by record (:meth:`Typed.meet`)
and a new keyword has one obvious home. ``anyOf``/``oneOf`` become :class:`AnyOf`, distributed
over meets. Subschemas (property values, items) stay unread (:class:`Sub`, a conjunction of raw
schemas with their places) until the emitter needs them, which is what lets a recursive schema
become a finite set of grammar rules.

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
class Sub:
    """A subschema not read yet: the conjunction of ``parts``."""

    parts: tuple[Raw, ...] = ()

    def meet(self, other: "Sub") -> "Sub":
        if not other.parts:
            return self
        if not self.parts:
            return other
        return Sub(self.parts + other.parts)

    @property
    def is_true(self) -> bool:
        return all(p.schema is True or p.schema == {} for p in self.parts)

    @property
    def is_false(self) -> bool:
        return any(p.schema is False for p in self.parts)


TRUE = Sub()


@dataclass(frozen=True, eq=False)
class StringC:
    min_length: int = 0
    max_length: int | None = None
    patterns: tuple[tuple[str, str], ...] = ()  # (pattern, JSON pointer of its schema)
    formats: tuple[str, ...] = ()

    def meet(self, o: "StringC") -> "StringC":
        return StringC(max(self.min_length, o.min_length), _min(self.max_length, o.max_length),
                       self.patterns + o.patterns, self.formats + o.formats)


Bound = tuple[Decimal, bool]  # (value, exclusive)


@dataclass(frozen=True, eq=False)
class NumberC:
    minimum: Bound | None = None
    maximum: Bound | None = None
    multiples: tuple[Decimal, ...] = ()

    def meet(self, o: "NumberC") -> "NumberC":
        return NumberC(tighter(self.minimum, o.minimum, lower=True), tighter(self.maximum, o.maximum, lower=False),
                       self.multiples + tuple(m for m in o.multiples if m not in self.multiples))


@dataclass(frozen=True, eq=False)
class ArrayC:
    prefix: tuple[Sub, ...] = ()
    items: Sub = TRUE  # every position past ``prefix``
    min_items: int = 0
    max_items: int | None = None

    def at(self, i: int) -> Sub:
        return self.prefix[i] if i < len(self.prefix) else self.items

    def meet(self, o: "ArrayC") -> "ArrayC":
        n = max(len(self.prefix), len(o.prefix))
        prefix = tuple(self.at(i).meet(o.at(i)) for i in range(n))
        return ArrayC(prefix, self.items.meet(o.items), max(self.min_items, o.min_items),
                      _min(self.max_items, o.max_items))


@dataclass(frozen=True, eq=False)
class ObjectPart:
    """The key-dependent keywords of one schema object: which schema a key's value follows is
    decided per schema object (``additionalProperties`` governs the keys *that object* does not
    declare), so a meet keeps the parts side by side."""

    properties: tuple[tuple[str, Sub], ...] = ()
    patterns: tuple[tuple[str, Sub], ...] = ()
    additional: Sub = TRUE
    pointer: str = "#"

    def declared(self, name: str) -> Sub | None:
        for n, sub in self.properties:
            if n == name:
                return sub
        return None


@dataclass(frozen=True, eq=False)
class ObjectC:
    parts: tuple[ObjectPart, ...] = ()
    required: tuple[str, ...] = ()
    names: Sub = TRUE  # propertyNames
    min_properties: int = 0
    max_properties: int | None = None

    def meet(self, o: "ObjectC") -> "ObjectC":
        return ObjectC(self.parts + o.parts, tuple(dict.fromkeys(self.required + o.required)),
                       self.names.meet(o.names), max(self.min_properties, o.min_properties),
                       _min(self.max_properties, o.max_properties))


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

    def meet(self, o: "Typed") -> "Typed":
        types = meet_types(self.types, o.types)
        enum = self.enum
        if o.enum is not None:
            enum = o.enum if enum is None else intersect_values(enum, o.enum)
        return Typed(types, _meet(self.string, o.string, NO_STRING), _meet(self.number, o.number, NO_NUMBER),
                     _meet(self.array, o.array, NO_ARRAY), _meet(self.object, o.object, NO_OBJECT), enum, self.pointer)

    @property
    def unconstrained(self) -> bool:
        return (self.types == ALL_TYPES and self.enum is None and self.string is NO_STRING and
                self.number is NO_NUMBER and self.array is NO_ARRAY and self.object is NO_OBJECT)


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
    return NOTHING if not met.types else met


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


__all__ = ["TYPES", "ALL_TYPES", "Raw", "Sub", "TRUE", "StringC", "NumberC", "ArrayC", "ObjectPart", "ObjectC",
           "NO_STRING", "NO_NUMBER", "NO_ARRAY", "NO_OBJECT", "Typed", "AnyOf", "Nothing", "NOTHING", "ANY", "Node", "meet", "any_of", "meet_types", "tighter",
           "canonical", "unique_values", "intersect_values", "json_type", "replace"]
