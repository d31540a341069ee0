"""Reading schema objects into the typed model, keyword by keyword, with their JSON pointers.

Every keyword the draft defines is either read into the model (checked as it is read: a
``minLength`` of ``-1`` is a :class:`~enforcer.errors.SchemaError` naming the keyword and its
pointer; this is the meta-validation, for what the model uses), reported as unsupported (a
keyword no grammar can enforce exactly: :class:`~enforcer.errors.UnsupportedSchemaError`, or
with ``strict=False`` a warning and the closest superset), or an annotation. A keyword the draft
does not define is listed in :attr:`Reader.unknown` (``enforcer check`` shows them; the
``unknown_keywords="error"`` option refuses them).

``$ref``, ``allOf``, ``anyOf``, ``oneOf``, ``not``, ``if``/``then``/``else`` and the property
dependencies are resolved here, at one nesting level at a time (the boolean ones through
:mod:`.logic`, exactly): subschemas of properties and items stay unread
(:class:`~enforcer.schema.model.Sub`) until the emitter reaches them, so a recursive schema
reads each of its parts once. A chain of ``$ref`` that comes back to where it started without
nesting is an error: such a schema could only be satisfied by itself.

Schemas without ``$schema`` are read as 2020-12, with one concession to the many real-world
schemas written for draft-07 without saying so: ``dependencies`` (not a 2020-12 keyword) is
read with its draft-07 meaning (``dependentRequired`` for an array, ``dependentSchemas`` for a
schema) when the same object uses neither of those, and ``items`` given as an array is read as
draft-07's tuple form with ``additionalItems`` (2020-12 would reject the schema). Both are
unambiguous: no 2020-12 schema can mean anything else by them.
"""

from __future__ import annotations

import math
import warnings
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import LimitExceededError, SchemaError, UnsupportedSchemaError
from ..limits import Limits
from ..grammar.nesting import check_depth, recursion_room
from .document import Document, Where
from .model import (ALL_TYPES, ANY, NO_ARRAY, NO_NUMBER, NO_OBJECT, NO_STRING, NOTHING, TYPES, ArrayC, Contains,
                    Fixed, Neg, Node, NumberC, ObjectC, ObjectPart, Raw, StringC, Sub, Typed, any_of,
                    intersect_values, json_type, meet, unique_values)

_IGNORED = frozenset({"$schema", "$id", "id", "$anchor", "$dynamicAnchor", "$recursiveAnchor", "$comment",
                      "$defs", "definitions", "$vocabulary", "title", "description", "default", "examples",
                      "deprecated", "readOnly", "writeOnly", "contentEncoding", "contentMediaType",
                      "contentSchema", "format", "$ref", "allOf", "anyOf", "oneOf"})


_ROOM_HOPS = 128  # schemas a $ref chain may pass before read_raw takes more recursion room


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _at(pointer: str, keyword: str) -> str:
    """The pointer of a keyword's value, for errors about the value."""
    return f"{pointer}/{escape(keyword)}"


class Reader:
    """Reads the schemas of one document into model nodes (see the module docstring)."""

    def __init__(self, doc: Document, *, strict: bool, limits: Limits, unknown_keywords: str = "ignore",
                 depth: int = 0):
        self.doc = doc
        self.strict = strict
        self.limits = limits
        self.unknown_keywords = unknown_keywords
        self.approximations: list[tuple[str, str, str]] = []  # (pointer, keyword, what)
        self.unknown: list[tuple[str, str]] = []  # (pointer, keyword)
        self._memo: dict[tuple[int, str], Node] = {}
        self._negated: dict[int, tuple[Neg, Node]] = {}
        self._chain: list[int] = []  # ids of the schemas whose $ref chain is being followed
        self.depth = depth  # the document's nesting, which the compile has room for (see read_raw)
        self._peeking = 0
        self._validator = None
        from .logic import Logic

        self.logic = Logic(self)

    @property
    def validator(self):
        """Checks values against model nodes (enum candidates, property names)."""
        if self._validator is None:
            from .validate import Validator

            self._validator = Validator(self)
        return self._validator

    # -- entry points -------------------------------------------------------------------------

    def read(self, sub: Sub) -> Node:
        """The model of a conjunction of subschemas."""
        result: Node = ANY
        for part in sub.parts:
            if isinstance(part, Raw):
                node, pointer = self.read_raw(part.schema, part.where), part.where.pointer
            elif isinstance(part, Fixed):
                node, pointer = part.node, part.pointer
            else:
                node, pointer = self._read_negated(part), part.sub.pointer
            result = self.meet(result, node, pointer, "allOf")
        return result

    def _read_negated(self, part: Neg) -> Node:
        found = self._negated.get(id(part))
        if found is not None and found[0] is part:
            return found[1]
        node = self.logic.negate(self.read(part.sub), part.sub.pointer)
        self._negated[id(part)] = (part, node)
        return node

    def peek(self, sub: Sub) -> Node | None:
        """``read(sub)``, or ``None`` where that would need a schema being read right now
        (for checks that may give up, such as pruning)."""
        self._peeking += 1
        try:
            return self.read(sub)
        except _Cycle:
            return None
        finally:
            self._peeking -= 1

    def read_raw(self, schema: Any, where: Where, *, via_ref: bool = False) -> Node:
        """The model of one raw schema; ``via_ref``: reached by a ``$ref``, whose lookup already
        moved the base URI to the target's own."""
        if schema is True:
            return ANY
        if schema is False:
            return NOTHING
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, got {type(schema).__name__}",
                              pointer=where.pointer)
        key = (id(schema), _base(where))
        found = self._memo.get(key)
        if found is not None:
            return found
        if id(schema) in self._chain:
            if self._peeking:
                raise _Cycle
            raise SchemaError("this schema refers back to itself through $ref/allOf/anyOf/oneOf without "
                              "nesting: no value could satisfy it", pointer=where.pointer, keyword="$ref")
        self._chain.append(id(schema))
        try:
            hops = len(self._chain)
            if hops % _ROOM_HOPS:
                node = self._read_object(schema, where if via_ref else self.doc.enter(schema, where))
            else:  # a long $ref/allOf chain recurses beyond the document's nesting: more room
                levels = self.depth + hops + _ROOM_HOPS
                check_depth(levels, self.limits.max_nesting_depth, f"the $ref/allOf chain at {where.pointer}")
                with recursion_room(levels):
                    node = self._read_object(schema, where if via_ref else self.doc.enter(schema, where))
        finally:
            self._chain.pop()
        self._memo[key] = node
        return node

    # -- one schema object --------------------------------------------------------------------

    def _read_object(self, schema: dict, where: Where) -> Node:
        doc, pointer = self.doc, where.pointer
        if "$ref" in schema:
            ref = schema["$ref"]
            if not isinstance(ref, str):
                raise SchemaError("must be a string (a URI reference)", pointer=_at(pointer, "$ref"), keyword="$ref")
            target, target_where = doc.lookup(ref, where)
            referenced = self.read_raw(target, target_where, via_ref=True)
            if doc.ref_overrides_siblings:
                return referenced
        else:
            referenced = ANY
        self._check_keywords(schema, pointer)
        node: Node = self._own(schema, where)
        node = self.meet(node, referenced, pointer, "$ref")
        for keyword in ("$dynamicRef", "$recursiveRef"):
            if keyword in schema and keyword in doc.keywords:
                node = self.meet(node, self._dynamic(schema, keyword, where), pointer, keyword)
        logic = self.logic
        for keyword in ("allOf", "anyOf"):
            if keyword not in schema:
                continue
            read = self._read_list(schema, keyword, where)
            if keyword == "allOf":
                for part in read:
                    node = logic.meet(node, part, pointer, keyword)
            elif doc.unevaluated:  # which branches hold decides what is evaluated
                node = logic.any_of_exactly(node, read, pointer)
            else:
                node = logic.meet(node, any_of(read), pointer, keyword)
        known = doc.keywords
        if "not" in schema and "not" in known:
            inner = self.read_raw(_schema(schema["not"], pointer, "not"), Where(f"{pointer}/not", where.resolver))
            node = logic.meet(node, logic.negate(inner, f"{pointer}/not"), pointer, "not")
        for name, then, keyword in self._dependencies(schema, where):
            node = logic.meet(node, logic.dependent(name, then, pointer, keyword), pointer, keyword)
        if "if" in schema and "if" in known:
            parts = {}
            for keyword in ("if", "then", "else"):
                if keyword in schema:
                    parts[keyword] = self.read_raw(_schema(schema[keyword], pointer, keyword),
                                                   Where(f"{pointer}/{keyword}", where.resolver))
            condition = logic.conditional(parts["if"], parts.get("then", ANY), parts.get("else", ANY), pointer)
            node = logic.meet(node, condition, pointer, "if")
        if "oneOf" in schema:
            node = logic.one_of(node, self._read_list(schema, "oneOf", where), pointer)
        for keyword in ("unevaluatedProperties", "unevaluatedItems"):
            if keyword in schema and keyword in known:
                sub = _sub(_schema(schema[keyword], pointer, keyword), f"{pointer}/{keyword}", where)
                node = logic.unevaluated(node, sub, keyword, pointer)
        return node

    def _dynamic(self, schema: dict, keyword: str, where: Where) -> Node:
        """A ``$dynamicRef`` (``$recursiveRef``) that can only end at one schema is a ``$ref`` to
        it: its anchor name (``$recursiveAnchor: true``) is defined at most once in the document
        (only references inside it resolve). Otherwise the dynamic scope decides, which a
        grammar compiled once cannot follow: refused."""
        pointer = where.pointer
        ref = schema[keyword]
        if not isinstance(ref, str):
            raise SchemaError("must be a string (a URI reference)", pointer=_at(pointer, keyword), keyword=keyword)
        if keyword == "$dynamicRef":
            name = ref.rpartition("#")[2]
            ambiguous = "/" not in name and self.doc.dynamic_anchors.get(name, 0) > 1
        else:
            ambiguous = self.doc.recursive_anchors > 1
        if ambiguous:
            self.unsupported(keyword, pointer, f"a dynamic reference ({ref!r}) whose anchor several schemas define",
                             "depends on the dynamic scope and cannot be compiled once")
            return ANY  # strict=False: no constraint (a superset)
        target, target_where = self.doc.lookup(ref, where)
        return self.read_raw(target, target_where, via_ref=True)

    def _read_list(self, schema: dict, keyword: str, where: Where) -> list[Node]:
        pointer = where.pointer
        subs = schema[keyword]
        if not isinstance(subs, list) or not subs:
            raise SchemaError("must be a non-empty array of schemas", pointer=_at(pointer, keyword), keyword=keyword)
        return [self.read_raw(s, Where(f"{pointer}/{keyword}/{i}", where.resolver)) for i, s in enumerate(subs)]

    def _dependencies(self, schema: dict, where: Where) -> list[tuple[str, Node, str]]:
        """``(key, what an object with that key must also satisfy, keyword)`` per dependency."""
        pointer = where.pointer
        out: list[tuple[str, Node, str]] = []
        for keyword in ("dependentRequired", "dependentSchemas", "dependencies"):
            if keyword not in schema or not self._dependency_keyword(schema, keyword):
                continue
            value = schema[keyword]
            if not isinstance(value, dict):
                raise SchemaError("must be an object", pointer=_at(pointer, keyword), keyword=keyword)
            for name, dep in value.items():
                at = f"{pointer}/{keyword}/{escape(name)}"
                if isinstance(dep, list) and keyword != "dependentSchemas":
                    if not all(isinstance(d, str) for d in dep):
                        raise SchemaError("must be an array of strings", pointer=at, keyword=keyword)
                    then: Node = Typed(object=ObjectC(required=tuple(dict.fromkeys(dep))), pointer=at) if dep else ANY
                elif isinstance(dep, (dict, bool)) and keyword != "dependentRequired":
                    then = self.read_raw(dep, Where(at, where.resolver))
                else:
                    what = "an array of strings" if keyword == "dependentRequired" else (
                        "a schema" if keyword == "dependentSchemas" else "an array of strings or a schema")
                    raise SchemaError(f"must be {what}", pointer=at, keyword=keyword)
                out.append((name, then, keyword))
        return out

    def _dependency_keyword(self, schema: dict, keyword: str) -> bool:
        """Is ``keyword`` a dependency keyword here (see the module docstring for
        ``dependencies`` without ``$schema``)?"""
        if keyword in self.doc.keywords:
            return True
        return (keyword == "dependencies" and not self.doc.explicit
                and "dependentRequired" not in schema and "dependentSchemas" not in schema)

    def meet(self, a: Node, b: Node, pointer: str, keyword: str) -> Node:
        try:
            return meet(a, b, limit=self.limits.max_disjuncts)
        except OverflowError as exc:
            raise LimitExceededError(f"'{keyword}' at {pointer}: the combination of allOf/anyOf/oneOf expands to "
                                     f"{exc.args[0]} alternatives", limit="max_disjuncts", value=exc.args[0],
                                     allowed=self.limits.max_disjuncts) from None

    def _check_keywords(self, schema: dict, pointer: str) -> None:
        known = self.doc.keywords
        for keyword in schema:
            if keyword not in known and not self._dependency_keyword(schema, keyword) and not (
                    keyword == "additionalItems" and isinstance(schema.get("items"), list)):
                if self.unknown_keywords == "error":
                    raise SchemaError(f"unknown keyword for {self.doc.draft} (unknown_keywords='error')",
                                      pointer=pointer, keyword=keyword)
                self.unknown.append((pointer, keyword))

    def unsupported(self, keyword: str, pointer: str, what: str, why: str = "cannot be enforced by a grammar") -> None:
        message = f"{what} {why}"
        if self.strict:
            raise UnsupportedSchemaError(message + " (pass strict=False to enforce a superset)",
                                         pointer=pointer, keyword=keyword)
        self.approximations.append((pointer, keyword, what))
        warnings.warn(f"{keyword!r} at {pointer}: {message}; enforcing a superset", stacklevel=5)

    def _own(self, schema: dict, where: Where) -> Node:
        """The keywords of this object itself (no ``$ref``/combinators) as a :class:`Typed`."""
        pointer = where.pointer
        known = self.doc.keywords
        types = ALL_TYPES
        if "type" in schema:
            types = _types(schema["type"], pointer)
        string = _string(schema, pointer, known)
        number = self._number(schema, pointer)
        array = self._array(schema, where)
        obj = self._object(schema, where)
        enum = None
        if not types:
            return NOTHING
        if "enum" in schema:
            values = schema["enum"]
            if not isinstance(values, list):
                raise SchemaError("must be an array", pointer=_at(pointer, "enum"), keyword="enum")
            if len(values) > self.limits.max_enum_values:
                raise LimitExceededError(f"'enum' at {pointer} has {len(values)} values", limit="max_enum_values",
                                         value=len(values), allowed=self.limits.max_enum_values)
            enum = unique_values(values)
        if "const" in schema and "const" in known:
            const = (schema["const"],)
            enum = const if enum is None else intersect_values(enum, const)
        if enum is not None:  # candidates of another type are out now
            enum = tuple(v for v in enum if json_type(v) in types or (json_type(v) == "integer" and "number" in types))
            if not enum:
                return NOTHING
        typed = Typed(types, string, number, array, obj, enum, pointer)
        return ANY if typed.unconstrained else typed

    # -- per type -----------------------------------------------------------------------------

    def _number(self, schema: dict, pointer: str) -> NumberC:
        lo = hi = None
        for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
            if keyword in schema and keyword in self.doc.keywords:
                break
        else:
            return NO_NUMBER
        draft4 = self.doc.draft == "draft4"
        if "minimum" in schema:
            lo = (_decimal(schema["minimum"], pointer, "minimum"),
                  _flag(schema.get("exclusiveMinimum", False), pointer, "exclusiveMinimum") if draft4 else False)
        if "maximum" in schema:
            hi = (_decimal(schema["maximum"], pointer, "maximum"),
                  _flag(schema.get("exclusiveMaximum", False), pointer, "exclusiveMaximum") if draft4 else False)
        if not draft4:
            from .model import tighter

            if "exclusiveMinimum" in schema:
                lo = tighter(lo, (_decimal(schema["exclusiveMinimum"], pointer, "exclusiveMinimum"), True), lower=True)
            if "exclusiveMaximum" in schema:
                hi = tighter(hi, (_decimal(schema["exclusiveMaximum"], pointer, "exclusiveMaximum"), True), lower=False)
        multiples: tuple[Decimal, ...] = ()
        if "multipleOf" in schema:
            m = _decimal(schema["multipleOf"], pointer, "multipleOf")
            if m <= 0:
                raise SchemaError("must be greater than 0", pointer=_at(pointer, "multipleOf"), keyword="multipleOf")
            multiples = (m,)
        return NumberC(lo, hi, multiples)

    def _array(self, schema: dict, where: Where) -> ArrayC:
        pointer = where.pointer
        known = self.doc.keywords
        prefix: tuple[Sub, ...] = ()
        items = TRUE_SUB
        if "prefixItems" in schema and "prefixItems" in known:
            prefix = tuple(_sub(s, f"{pointer}/prefixItems/{i}", where)
                           for i, s in enumerate(_schema_list(schema["prefixItems"], pointer, "prefixItems")))
        if "items" in schema:
            value = schema["items"]
            if isinstance(value, list) and ("prefixItems" not in known
                                            or (not self.doc.explicit and "prefixItems" not in schema)):
                # the array form of older drafts (also without $schema: see the module docstring)
                prefix = tuple(_sub(s, f"{pointer}/items/{i}", where) for i, s in enumerate(value))
                if "additionalItems" in schema:
                    items = _sub(_schema(schema["additionalItems"], pointer, "additionalItems"),
                                 f"{pointer}/additionalItems", where)
            else:
                items = _sub(_schema(value, pointer, "items"), f"{pointer}/items", where)
        lo = _count(schema, "minItems", pointer) or 0
        hi = _count(schema, "maxItems", pointer)
        contains: tuple[Contains, ...] = ()
        if "contains" in schema and "contains" in known:
            sub = _sub(_schema(schema["contains"], pointer, "contains"), f"{pointer}/contains", where)
            least = _count(schema, "minContains", pointer) if "minContains" in known else None
            most = _count(schema, "maxContains", pointer) if "maxContains" in known else None
            least = 1 if least is None else least
            if least > 0 or most is not None or self.doc.unevaluated:  # else only an annotation
                contains = (Contains(sub, least, most, 0, pointer, True),)
        unique = False
        if "uniqueItems" in schema:
            if not isinstance(schema["uniqueItems"], bool):
                raise SchemaError("must be a boolean", pointer=_at(pointer, "uniqueItems"), keyword="uniqueItems")
            unique = schema["uniqueItems"] and hi != 0 and hi != 1  # at most one item: always unique
        items_given = self.doc.unevaluated and ("items" in schema and not isinstance(schema["items"], list) or (
            "additionalItems" in schema and isinstance(schema.get("items"), list)))
        if not prefix and items.is_true and not items_given and lo == 0 and hi is None and not contains and not unique:
            return NO_ARRAY
        return ArrayC(prefix, items, lo, hi, contains, unique, pointer, None if items_given else len(prefix))

    def _object(self, schema: dict, where: Where) -> ObjectC:
        pointer = where.pointer
        props: tuple[tuple[str, Sub], ...] = ()
        patterns: tuple[tuple[str, Sub], ...] = ()
        additional = TRUE_SUB
        if "properties" in schema:
            value = _schema_map(schema["properties"], pointer, "properties")
            props = tuple((name, _sub(s, f"{pointer}/properties/{escape(name)}", where)) for name, s in value.items())
        if "patternProperties" in schema:
            value = _schema_map(schema["patternProperties"], pointer, "patternProperties")
            patterns = tuple((p, _sub(s, f"{pointer}/patternProperties/{escape(p)}", where)) for p, s in value.items())
        if "additionalProperties" in schema:
            additional = _sub(_schema(schema["additionalProperties"], pointer, "additionalProperties"),
                              f"{pointer}/additionalProperties", where)
        required: tuple[str, ...] = ()
        if "required" in schema:
            value = schema["required"]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SchemaError("must be an array of strings", pointer=_at(pointer, "required"), keyword="required")
            required = tuple(dict.fromkeys(value))
        names = TRUE_SUB
        if "propertyNames" in schema and "propertyNames" in self.doc.keywords:
            names = _sub(_schema(schema["propertyNames"], pointer, "propertyNames"), f"{pointer}/propertyNames", where)
        lo = _count(schema, "minProperties", pointer) or 0
        hi = _count(schema, "maxProperties", pointer)
        given = "additionalProperties" in schema and self.doc.unevaluated  # only unevaluated* asks
        parts = ((ObjectPart(props, patterns, additional, pointer, True, given),)
                 if (props or patterns or given or not additional.is_true) else ())
        if not parts and not required and names.is_true and lo == 0 and hi is None:
            return NO_OBJECT
        return ObjectC(parts, required, names, lo, hi)


TRUE_SUB = Sub()


class _Cycle(Exception):
    """A peek reached a schema being read (see :meth:`Reader.peek`)."""


def _base(where: Where) -> str:
    return str(getattr(where.resolver, "_base_uri", ""))


def _sub(schema: Any, pointer: str, where: Where) -> Sub:
    if schema is True or schema == {}:
        return TRUE_SUB
    return Sub((Raw(schema, Where(pointer, where.resolver)),))


def _schema(value: Any, pointer: str, keyword: str) -> Any:
    if not isinstance(value, (dict, bool)):
        raise SchemaError("must be a schema (an object or a boolean)", pointer=_at(pointer, keyword), keyword=keyword)
    return value


def _schema_list(value: Any, pointer: str, keyword: str) -> list:
    if not isinstance(value, list) or not all(isinstance(v, (dict, bool)) for v in value):
        raise SchemaError("must be an array of schemas", pointer=_at(pointer, keyword), keyword=keyword)
    return value


def _schema_map(value: Any, pointer: str, keyword: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(v, (dict, bool)) for v in value.values()):
        raise SchemaError("must be an object whose values are schemas", pointer=_at(pointer, keyword), keyword=keyword)
    return value


def _types(value: Any, pointer: str) -> frozenset[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SchemaError("must be a type name or an array of them", pointer=_at(pointer, "type"), keyword="type")
    bad = [n for n in names if n not in TYPES]
    if bad:
        raise SchemaError(f"unknown type {bad[0]!r} (one of {', '.join(TYPES)})", pointer=_at(pointer, "type"), keyword="type")
    out = frozenset(names)
    return out - {"integer"} if "number" in out else out


def _string(schema: dict, pointer: str, known: frozenset[str]) -> StringC:
    lo = _count(schema, "minLength", pointer)
    hi = _count(schema, "maxLength", pointer)
    patterns: tuple[tuple[str, str], ...] = ()
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            raise SchemaError("must be a string (a regular expression)", pointer=_at(pointer, "pattern"), keyword="pattern")
        patterns = ((schema["pattern"], pointer),)
    formats: tuple[str, ...] = ()
    if "format" in schema:
        if not isinstance(schema["format"], str):
            raise SchemaError("must be a string", pointer=_at(pointer, "format"), keyword="format")
        formats = (schema["format"],)
    if lo is None and hi is None and not patterns and not formats:
        return NO_STRING
    return StringC(lo or 0, hi, patterns, formats)


def _count(schema: dict, keyword: str, pointer: str) -> int | None:
    if keyword not in schema:
        return None
    value = schema[keyword]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SchemaError("must be a non-negative integer", pointer=_at(pointer, keyword), keyword=keyword)
    return value


def _decimal(value: Any, pointer: str, keyword: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError("must be a number", pointer=_at(pointer, keyword), keyword=keyword)
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError("must be a finite number", pointer=_at(pointer, keyword), keyword=keyword)
    try:
        return Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - str() of a finite number always parses
        raise SchemaError("must be a number", pointer=_at(pointer, keyword), keyword=keyword) from None


def _flag(value: Any, pointer: str, keyword: str) -> bool:
    if not isinstance(value, bool):
        raise SchemaError("must be a boolean in draft-04", pointer=_at(pointer, keyword), keyword=keyword)
    return value
