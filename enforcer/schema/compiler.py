"""JSON Schema (draft 2020-12) to grammar IR.

The compiler works in two passes per subschema:

1. **Normalise** into disjunctive form: ``$ref`` (when not recursive), ``allOf``, ``anyOf`` and
   ``oneOf`` are expanded and each conjunction is *merged keyword by keyword* (types intersected,
   ``required`` united, bounds tightened, per-property schemas conjoined). ``allOf`` is an
   intersection of *values*, not of texts: two object schemas with different property orders
   must still meet, which a byte-level intersection would miss.
2. **Emit** each merged schema per JSON type: strings (length, patterns and formats intersected
   at the character level, then JSON-escaped), numbers (exact ranges), arrays, objects.

Recursion (``$ref`` back into a schema being compiled) becomes a grammar rule, built lazily; with
a pretty-printing layout the rule is keyed by depth too, since indentation depends on it.

What cannot be enforced exactly raises :class:`UnsupportedSchemaError` naming the keyword and the
JSON pointer, or with ``strict=False`` warns and enforces the closest superset (the keyword is
dropped). ``oneOf`` is enforced as ``anyOf``: exact when its branches are disjoint, as they are in
tagged unions; a value matching two branches is let through.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Hashable, Iterator

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema

from ..errors import SchemaError, UnsupportedSchemaError
from ..grammar import ir
from ..grammar.ir import (EMPTY, NEVER, Complement, Intersect, Node, alt, literal, repeat, seq)
from ..grammar.regex import parse_regex
from . import numbers
from .formats import format_language
from .json_text import ANY_JSON_CHAR, Layout, encode_chars, quoted, string_body

ANNOTATIONS = frozenset({
    "$schema", "$id", "$anchor", "$dynamicAnchor", "$comment", "$defs", "definitions", "$vocabulary",
    "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
    "contentEncoding", "contentMediaType", "contentSchema",
})
UNSUPPORTED = {
    "not": "negation of a schema",
    "if": "conditional schemas", "then": "conditional schemas", "else": "conditional schemas",
    "dependentSchemas": "property-dependent schemas",
    "dependentRequired": "property-dependent requirements",
    "uniqueItems": "uniqueness of array items",
    "contains": "'contains'", "minContains": "'contains'", "maxContains": "'contains'",
    "unevaluatedProperties": "unevaluated properties", "unevaluatedItems": "unevaluated items",
    "$dynamicRef": "dynamic references", "$recursiveRef": "dynamic references",
}
TYPES = ("null", "boolean", "object", "array", "string", "integer", "number")
_COMBINATORS = ("allOf", "anyOf", "oneOf", "$ref")
_MAX_DISJUNCTS = 256
_ZERO_FRACTION = ir.optional(seq(literal("."), repeat(literal("0"), 1, 16)))
_MAX_PATTERN_KEYS = 4


class _Merged(dict):
    """A merged conjunction of schema objects: plain keywords, plus lists for keywords that may
    occur several times (``_patterns``, ``_formats``, ``_enums``, ``_rules``)."""


class SchemaCompiler:
    def __init__(self, schema: Any, *, whitespace: str | int = "compact", property_order: str = "schema",
                 strict: bool = True, max_ws: int = 8):
        if property_order not in ("schema", "any"):
            raise ValueError(f"property_order must be 'schema' or 'any', got {property_order!r}")
        self.root = schema
        self.layout = Layout(whitespace, max_ws=max_ws)
        self.property_order = property_order
        self.strict = strict
        self.approximations: list[tuple[str, str, str]] = []  # (pointer, keyword, what)
        _check_schema(schema)
        resource = referencing.jsonschema.DRAFT202012.create_resource(schema)
        base = schema.get("$id", "") if isinstance(schema, dict) else ""
        self.registry = referencing.Registry().with_resource(base or "urn:enforcer:root", resource)
        self.root_resolver = self.registry.resolver(base or "urn:enforcer:root")
        self.validator = jsonschema.Draft202012Validator(
            schema, registry=self.registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        self._in_progress: dict[int, int] = {}  # id(target schema) -> nesting count
        self._rule_defs: dict[Hashable, tuple] = {}
        self._objects: dict[Hashable, tuple] = {}  # any-order objects: members, extras, bounds
        self._object_ids = itertools.count()
        self.rules = _LazyRules(self)

    # -- entry --------------------------------------------------------------------------------

    def compile(self) -> ir.Rules:
        self._rule_defs["start"] = ("schema", self.root, "#", 0, self.root_resolver)
        return ir.Rules(self.rules, "start")

    def _build_rule(self, key: Hashable) -> Node:
        spec = self._rule_defs[key]
        kind = spec[0]
        if kind == "schema":
            _, schema, pointer, depth, resolver = spec
            target = id(schema)
            self._in_progress[target] = self._in_progress.get(target, 0) + 1
            try:
                return self.value(schema, pointer, depth, resolver)
            finally:
                self._in_progress[target] -= 1
        if kind == "any":
            return self._any_value_body(spec[1])
        if kind == "props":
            return self._any_order_members(*spec[1:])
        raise KeyError(key)

    # -- helpers ------------------------------------------------------------------------------

    def _unsupported(self, keyword: str, pointer: str, what: str) -> None:
        message = f"{what} cannot be enforced by a grammar"
        if self.strict:
            raise UnsupportedSchemaError(message + " (pass strict=False to enforce a superset)",
                                         pointer=pointer, keyword=keyword)
        self.approximations.append((pointer, keyword, what))
        warnings.warn(f"{keyword!r} at {pointer}: {message}; enforcing a superset", stacklevel=4)

    def _depth_key(self, depth: int) -> int:
        return depth if self.layout.depth_dependent else 0

    def _ref_rule(self, schema: Any, pointer: str, depth: int, resolver) -> Node:
        key = ("ref", id(schema), self._depth_key(depth))
        if key not in self._rule_defs:
            self._rule_defs[key] = ("schema", schema, pointer, depth, resolver)
        return ir.Ref(key)

    def any_value(self, depth: int) -> Node:
        key = ("any", self._depth_key(depth))
        self._rule_defs.setdefault(key, ("any", depth))
        return ir.Ref(key)

    # -- normalisation ------------------------------------------------------------------------

    def value(self, schema: Any, pointer: str, depth: int, resolver) -> Node:
        """The JSON texts valid under ``schema``, written at nesting ``depth``."""
        if schema is True or schema == {}:
            return self.any_value(depth)
        disjuncts = list(self._normalize(schema, pointer, resolver))
        return alt(*(self._emit(d, pointer, depth, resolver) for d in disjuncts))

    def _normalize(self, schema: Any, pointer: str, resolver, *, via_ref: bool = False) -> list[_Merged]:
        if schema is True:
            return [_Merged()]
        if schema is False:
            return []
        if not isinstance(schema, dict):
            raise SchemaError("a schema must be an object or a boolean", pointer=pointer)
        for keyword in schema:
            if keyword in UNSUPPORTED:
                self._unsupported(keyword, pointer, UNSUPPORTED[keyword])
        if isinstance(schema.get("$id"), str) and pointer != "#" and not via_ref:
            # a nested $id is a new base URI for the refs inside (a $ref lookup already moved it)
            resolver = resolver.in_subresource(referencing.jsonschema.DRAFT202012.create_resource(schema))
        own = _Merged({k: v for k, v in schema.items()
                       if k not in ANNOTATIONS and k not in UNSUPPORTED and k not in _COMBINATORS})
        own["_resolver"] = resolver
        own["_pointer"] = pointer
        conjuncts: list[list[_Merged]] = [[own]]
        if "$ref" in schema:
            conjuncts.append(self._normalize_ref(schema["$ref"], pointer, resolver))
        for i, sub in enumerate(schema.get("allOf", ())):
            conjuncts.append(self._normalize(sub, f"{pointer}/allOf/{i}", resolver))
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                options: list[_Merged] = []
                for i, sub in enumerate(schema[keyword]):
                    options.extend(self._normalize(sub, f"{pointer}/{keyword}/{i}", resolver))
                conjuncts.append(options)
        out: list[_Merged] = []
        combos = 1
        for c in conjuncts:
            combos *= max(len(c), 1)
        if combos > _MAX_DISJUNCTS:
            raise UnsupportedSchemaError(
                f"the combination of allOf/anyOf/oneOf expands to {combos} alternatives "
                f"(limit {_MAX_DISJUNCTS})", pointer=pointer, keyword="anyOf")
        for combo in itertools.product(*conjuncts):
            merged = self._merge(combo, pointer)
            if merged is not None:
                out.append(merged)
        return out

    def _normalize_ref(self, ref: str, pointer: str, resolver) -> list[_Merged]:
        try:
            resolved = resolver.lookup(ref)
        except referencing.exceptions.Unresolvable as exc:
            raise UnsupportedSchemaError(
                f"cannot resolve {ref!r} (only references inside the schema document are "
                f"supported): {exc}", pointer=pointer, keyword="$ref") from None
        target = resolved.contents
        target_pointer = ref if ref.startswith("#") else f"{ref}"
        if self._in_progress.get(id(target)):
            # Recursion: the target is being compiled further up; refer to it as a rule.
            return [_Merged(_rules=[(target, target_pointer, resolved.resolver)],
                            _resolver=resolver, _pointer=pointer)]
        self._in_progress[id(target)] = self._in_progress.get(id(target), 0) + 1
        try:
            inner = self._normalize(target, target_pointer, resolved.resolver, via_ref=True)
        finally:
            self._in_progress[id(target)] -= 1
        # Keep the target marked while its parts compile: a nested $ref back to it is recursion.
        for merged in inner:
            merged.setdefault("_guards", []).append(target)
        return inner

    def _merge(self, parts: tuple[_Merged, ...], pointer: str) -> _Merged | None:
        """Conjunction of flat schemas as one flat schema; ``None`` if plainly unsatisfiable."""
        if len(parts) == 1:
            return parts[0]
        out = _Merged()
        where: dict[str, str] = {}  # keyword -> pointer of the schema it came from, for errors
        out["_where"] = where
        for part in parts:
            for key, value in part.items():
                if not key.startswith("_"):
                    where.setdefault(key, part.get("_pointer", pointer))
                if key not in out:
                    out[key] = value
                    continue
                if key in ("_rules", "_guards"):
                    out[key] = out[key] + value
                elif key in ("_resolver", "_pointer", "_where"):
                    continue
                elif key == "type":
                    a, b = _type_set(out[key]), _type_set(value)
                    both = (a & b) | ({"integer"} if ("integer" in a and "number" in b) or
                                      ("number" in a and "integer" in b) else set())
                    if not both:
                        return None
                    out[key] = sorted(both)
                elif key == "required":
                    out[key] = list(dict.fromkeys([*out[key], *value]))
                elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
                    out[key] = max(out[key], value)
                elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
                    out[key] = min(out[key], value)
                elif key == "additionalProperties":
                    continue  # see _merge_object_keywords
                elif key in ("pattern", "format", "enum", "const", "propertyNames", "multipleOf"):
                    out.setdefault("_extra", []).append((key, value, part.get("_resolver")))
                elif key == "properties":
                    props = dict(out[key])
                    for name, sub in value.items():
                        props[name] = {"allOf": [props[name], sub]} if name in props else sub
                    out[key] = props
                elif key in ("prefixItems", "items"):
                    continue  # see _merge_array_keywords
                elif key == "patternProperties":
                    merged = dict(out[key])
                    for pat, sub in value.items():
                        merged[pat] = {"allOf": [merged[pat], sub]} if pat in merged else sub
                    out[key] = merged
                else:
                    out.setdefault("_extra", []).append((key, value, part.get("_resolver")))
        self._merge_object_keywords(out, parts, pointer)
        self._merge_array_keywords(out, parts)
        return self._fold_extras(out, parts, pointer)

    @staticmethod
    def _merge_array_keywords(out: _Merged, parts: tuple[_Merged, ...]) -> None:
        """``items`` of one conjunct covers every position past *its own* ``prefixItems``, so
        positions another conjunct's prefix declares get it too: conjoin per position."""
        owners = [p for p in parts if "prefixItems" in p or "items" in p]
        if len(owners) < 2:
            return
        length = max(len(p.get("prefixItems", ())) for p in owners)

        def at(p: _Merged, i: int) -> Any:
            prefix = p.get("prefixItems", ())
            return prefix[i] if i < len(prefix) else p.get("items", True)

        def conj(schemas: list) -> Any:
            schemas = [x for x in schemas if x is not True]
            return True if not schemas else schemas[0] if len(schemas) == 1 else {"allOf": schemas}

        if length:
            out["prefixItems"] = [conj([at(p, i) for p in owners]) for i in range(length)]
        else:
            out.pop("prefixItems", None)
        out["items"] = conj([p.get("items", True) for p in owners])

    def _fold_extras(self, out: _Merged, parts: tuple[_Merged, ...], pointer: str) -> _Merged | None:
        """Second occurrences of keywords that need more than min/max to combine."""
        for key, value, resolver in out.pop("_extra", ()):
            if key == "pattern":
                out.setdefault("_patterns", []).append(value)
            elif key == "format":
                out.setdefault("_formats", []).append(value)
            elif key in ("enum", "const"):
                out.setdefault("_enums", []).append([value] if key == "const" else list(value))
            elif key == "propertyNames":
                out[key] = {"allOf": [out[key], value]}
            elif key == "multipleOf":
                a, b = out[key], value
                if isinstance(a, int) and isinstance(b, int):
                    out[key] = a * b // math.gcd(a, b)
                else:
                    self._unsupported("multipleOf", pointer, "two non-integer multipleOf together")
            else:
                self._unsupported(key, pointer, f"combining two {key!r} keywords in allOf")
        return out

    def _merge_object_keywords(self, out: _Merged, parts: tuple[_Merged, ...], pointer: str) -> None:
        """``additionalProperties`` of one conjunct governs the keys it does not declare itself,
        including keys only *other* conjuncts declare: conjoin per declared name."""
        owners = [p for p in parts if "additionalProperties" in p]
        if not owners:
            return
        if sum(1 for p in parts if "patternProperties" in p or "properties" in p or p in owners) > 1 and \
                any("patternProperties" in p for p in parts):
            self._unsupported("allOf", pointer, "additionalProperties with patternProperties across allOf")
        props = {}
        for name in dict.fromkeys(n for p in parts for n in p.get("properties", {})):
            schemas = [p["properties"][name] if name in p.get("properties", {}) else p["additionalProperties"]
                       for p in parts if name in p.get("properties", {}) or "additionalProperties" in p]
            props[name] = schemas[0] if len(schemas) == 1 else {"allOf": schemas}
        out["properties"] = props
        extra = [p["additionalProperties"] for p in owners]
        out["additionalProperties"] = extra[0] if len(extra) == 1 else {"allOf": extra}

    # -- emission -----------------------------------------------------------------------------

    def _emit(self, d: _Merged, pointer: str, depth: int, resolver) -> Node:
        pointer = d.get("_pointer", pointer)
        resolver = d.get("_resolver", resolver)
        guards = d.get("_guards", ())
        for target in guards:
            self._in_progress[id(target)] = self._in_progress.get(id(target), 0) + 1
        try:
            return self._emit_guarded(d, pointer, depth, resolver)
        finally:
            for target in guards:
                self._in_progress[id(target)] -= 1

    def _emit_guarded(self, d: _Merged, pointer: str, depth: int, resolver) -> Node:
        rules = [self._ref_rule(t, p, depth, r) for t, p, r in d.get("_rules", ())]
        plain = {k: v for k, v in d.items() if not k.startswith("_")}
        constrained = plain or any(k in d for k in ("_patterns", "_formats", "_enums"))
        if not rules and not constrained:
            return self.any_value(depth)
        if rules and not constrained:
            return rules[0] if len(rules) == 1 else Intersect(tuple(rules))
        enums = [list(d["_enums"][i]) for i in range(len(d.get("_enums", ())))]
        if "enum" in d:
            enums.append(list(d["enum"]))
        if "const" in d:
            enums.append([d["const"]])
        if enums:
            node = self._enum(enums, d, pointer, depth, resolver)
        else:
            types = _type_set(d["type"]) if "type" in d else set(TYPES)
            if "integer" in types and "number" in types:
                types.discard("integer")
            node = alt(*(self._emit_type(t, d, pointer, depth, resolver) for t in TYPES if t in types))
        if rules:
            return Intersect((*rules, node))
        return node

    def _enum(self, enums: list[list], d: _Merged, pointer: str, depth: int, resolver) -> Node:
        candidates = enums[0]
        for other in enums[1:]:
            candidates = [v for v in candidates if any(_json_equal(v, o) for o in other)]
        schema = _as_schema(d)
        checker = self.validator.evolve(schema=schema)
        values = []
        for v in candidates:
            try:
                ok = checker.is_valid(v)
            except (referencing.exceptions.Unresolvable, jsonschema.exceptions.SchemaError):
                ok = True
            if ok and not any(_json_equal(v, w) for w in values):
                values.append(v)
        return alt(*(self.constant(v, depth) for v in values))

    def constant(self, value: Any, depth: int) -> Node:
        """One JSON value, written in this layout; strings in every escape spelling."""
        if isinstance(value, str):
            return quoted(string_body(value))
        if isinstance(value, dict):
            sep, kv = self.layout.item_separator(depth), self.layout.key_separator()
            members = [seq(quoted(string_body(k)), kv, self.constant(v, depth + 1)) for k, v in value.items()]
            if not members:
                return self.layout.container("{", "}", NEVER, True, depth)
            if self.property_order == "any":  # equal objects, whatever the order of their keys
                body = self._any_order_start([(k, m, True) for k, m in zip(value, members)], NEVER, sep, 0, None, depth)
            else:
                body = _join(members, sep)
            return self.layout.container("{", "}", body, False, depth)
        if isinstance(value, list):
            sep = self.layout.item_separator(depth)
            items = [self.constant(v, depth + 1) for v in value]
            return self.layout.container("[", "]", _join(items, sep), not items, depth) if items else \
                self.layout.container("[", "]", NEVER, True, depth)
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return seq(literal(str(value)), _ZERO_FRACTION)  # 1 == 1.0
        return literal(json.dumps(value))

    def _emit_type(self, t: str, d: _Merged, pointer: str, depth: int, resolver) -> Node:
        if t == "null":
            return literal("null")
        if t == "boolean":
            return alt(literal("true"), literal("false"))
        if t == "string":
            return self._string(d, pointer)
        if t in ("integer", "number"):
            return self._number(t, d, pointer)
        if t == "array":
            return self._array(d, pointer, depth, resolver)
        return self._object(d, pointer, depth, resolver)

    def _string(self, d: _Merged, pointer: str) -> Node:
        return quoted(self._string_body(d, pointer))

    def _string_body(self, d: _Merged, pointer: str) -> Node:
        parts: list[Node] = []
        lo, hi = d.get("minLength", 0), d.get("maxLength")
        patterns = ([d["pattern"]] if "pattern" in d else []) + d.get("_patterns", [])
        formats = ([d["format"]] if "format" in d else []) + d.get("_formats", [])
        if lo or hi is not None or not (patterns or formats):
            parts.append(repeat(ANY_JSON_CHAR, lo, hi))
        for pattern in patterns:
            try:
                parts.append(encode_chars(parse_regex(pattern, search=True)))
            except SchemaError as exc:
                where = d.get("_where", {}).get("pattern", pointer)
                raise type(exc)(str(exc).split(": ", 1)[-1], pointer=where, keyword="pattern") from None
        for name in formats:
            language = format_language(name)
            if language is not None:  # unknown formats are annotations
                parts.append(encode_chars(language))
        if not parts:
            parts.append(repeat(ANY_JSON_CHAR, 0, None))
        return parts[0] if len(parts) == 1 else Intersect(tuple(parts))

    def _number(self, t: str, d: _Merged, pointer: str) -> Node:
        lo, hi = d.get("minimum"), d.get("maximum")
        xlo, xhi = d.get("exclusiveMinimum"), d.get("exclusiveMaximum")
        multiple = d.get("multipleOf")
        if multiple is not None and not (isinstance(multiple, int) or float(multiple).is_integer()):
            self._unsupported("multipleOf", pointer, "a non-integer multipleOf")
            multiple = None
        if t == "integer" or multiple is not None:
            int_lo = _int_bound(lo, xlo, upper=False)
            int_hi = _int_bound(hi, xhi, upper=True)
            if multiple is not None and int(multiple) != 1:
                digits = numbers.json_integer_multiple_of(int(multiple), int_lo, int_hi)
            else:
                digits = numbers.json_integer(int_lo, int_hi)
            return seq(digits, _ZERO_FRACTION)  # 1.0 is an integer too
        return numbers.json_number(minimum=lo, maximum=hi, exclusive_minimum=xlo, exclusive_maximum=xhi)

    def _array(self, d: _Merged, pointer: str, depth: int, resolver) -> Node:
        prefix = d.get("prefixItems", [])
        items = d.get("items", True)
        lo, hi = d.get("minItems", 0), d.get("maxItems")
        sep = self.layout.item_separator(depth)

        def element(i: int) -> Node:
            if i < len(prefix):
                return self.value(prefix[i], f"{pointer}/prefixItems/{i}", depth + 1, resolver)
            return self.value(items, f"{pointer}/items", depth + 1, resolver)

        tail_item = NEVER if items is False else element(len(prefix))

        def rest(i: int) -> Node:
            """Elements from index i on, each preceded by a separator (i >= 1)."""
            if hi is not None and i >= hi:
                return EMPTY
            if i >= len(prefix):
                more_lo = max(lo - i, 0)
                more_hi = None if hi is None else hi - i
                return repeat(seq(sep, tail_item), more_lo, more_hi)
            stop = EMPTY if i >= lo else NEVER
            return alt(stop, seq(sep, element(i), rest(i + 1)))

        if hi == 0:
            body = NEVER
        else:
            first = element(0) if prefix else tail_item
            body = seq(first, rest(1))
        return self.layout.container("[", "]", body, lo == 0, depth)

    # -- objects ------------------------------------------------------------------------------

    def _object(self, d: _Merged, pointer: str, depth: int, resolver) -> Node:
        props: dict[str, Any] = dict(d.get("properties", {}))
        required = list(d.get("required", []))
        for name in required:
            props.setdefault(name, None)  # required but undeclared: governed by the rest
        pattern_props: dict[str, Any] = d.get("patternProperties", {})
        additional = d.get("additionalProperties", True)
        names_schema = d.get("propertyNames", True)
        lo, hi = d.get("minProperties", 0), d.get("maxProperties")
        if len(pattern_props) > _MAX_PATTERN_KEYS:
            self._unsupported("patternProperties", pointer,
                              f"more than {_MAX_PATTERN_KEYS} patternProperties in one object")
            pattern_props = dict(itertools.islice(pattern_props.items(), _MAX_PATTERN_KEYS))

        members: list[tuple[str, Node | None, bool]] = []  # (name, member node, required)
        kv = self.layout.key_separator()
        for name, sub in props.items():
            schemas = [] if sub is None else [sub]
            matching = [p for p in pattern_props if _pattern_matches(p, name)]
            schemas += [pattern_props[p] for p in matching]
            if sub is None and not matching:
                schemas.append(additional)
            if names_schema is not True and not self._key_allowed(name, names_schema, resolver):
                schemas = [False]
            schema: Any = schemas[0] if len(schemas) == 1 else {"allOf": schemas}
            value = self.value(schema, f"{pointer}/properties/{_escape(name)}", depth + 1, resolver)
            member = None if isinstance(value, ir.Never) else seq(quoted(string_body(name)), kv, value)
            members.append((name, member, name in required))

        extras = self._extra_members(props, pattern_props, additional, names_schema, pointer, depth, resolver)
        sep = self.layout.item_separator(depth)
        if self.property_order == "any":
            body = self._any_order_start(members, extras, sep, lo, hi, depth)
        else:
            body = self._ordered_members(members, extras, sep, lo, hi)
        # ``body`` is the non-empty member lists; "{}" is a separate case for the layout.
        allow_empty = lo == 0 and not any(is_required for _, _, is_required in members)
        return self.layout.container("{", "}", body, allow_empty, depth)

    def _key_allowed(self, name: str, names_schema: Any, resolver) -> bool:
        try:
            return self.validator.evolve(schema=names_schema).is_valid(name)
        except referencing.exceptions.Unresolvable:
            return True

    def _extra_members(self, props, pattern_props, additional, names_schema, pointer, depth, resolver) -> Node:
        """Members whose key is not declared: patternProperties, then additionalProperties."""
        kv = self.layout.key_separator()
        any_key = repeat(ANY_JSON_CHAR, 0, None)
        declared = alt(*(string_body(n) for n in props)) if props else NEVER
        base = [any_key]
        if props:
            base.append(Complement(declared))
        if names_schema is not True:
            names = self._property_names(names_schema, pointer, resolver)
            if isinstance(names, ir.Never):
                return NEVER
            base.append(names)
        patterns = list(pattern_props)
        options = []
        for k in range(len(patterns) + 1):
            for chosen in itertools.combinations(patterns, k):
                key_parts = list(base)
                for p in patterns:
                    language = encode_chars(parse_regex(p, search=True))
                    key_parts.append(language if p in chosen else Complement(language))
                schemas = [pattern_props[p] for p in chosen] if chosen else [additional]
                if any(s is False for s in schemas):
                    continue
                schema = schemas[0] if len(schemas) == 1 else {"allOf": schemas}
                where = f"{pointer}/patternProperties/{_escape(chosen[0])}" if chosen else f"{pointer}/additionalProperties"
                value = self.value(schema, where, depth + 1, resolver)
                if isinstance(value, ir.Never):
                    continue
                key_body = key_parts[0] if len(key_parts) == 1 else Intersect(tuple(key_parts))
                options.append(seq(quoted(key_body), kv, value))
        return alt(*options)

    def _property_names(self, names_schema: Any, pointer: str, resolver) -> Node:
        """The key bodies allowed by ``propertyNames`` (a schema applied to keys as strings)."""
        alternatives = []
        for d in self._normalize(names_schema, f"{pointer}/propertyNames", resolver):
            types = _type_set(d["type"]) if "type" in d else {"string"}
            if "string" not in types:
                continue
            if "enum" in d or "const" in d or "_enums" in d:
                values = [v for v in d.get("enum", []) + ([d["const"]] if "const" in d else []) if isinstance(v, str)]
                alternatives.append(alt(*(string_body(v) for v in values)))
                continue
            alternatives.append(self._string_body(d, pointer))
        return alt(*alternatives)

    def _ordered_members(self, members, extras: Node, sep: Node, lo: int, hi: int | None) -> Node:
        """Non-empty member lists: declared properties in schema order (optional ones
        skippable), then extra members."""
        cap = hi if hi is not None else lo
        memo: dict[tuple[int, int, bool], Node] = {}

        def norm(c: int) -> int:
            return min(c, cap)

        def tail(c: int, started: bool) -> Node:
            need = max(lo - c, 0)
            room = None if hi is None else hi - c
            done = EMPTY if need == 0 and started else NEVER
            if isinstance(extras, ir.Never) or room == 0:
                return done
            more = repeat(seq(sep, extras), max(need - 1, 0) if not started else need,
                          None if room is None else (room - 1 if not started else room))
            if started:
                return more
            return seq(extras, more)  # nothing emitted yet: at least one extra member

        def at(i: int, c: int, started: bool) -> Node:
            key = (i, norm(c), started)
            hit = memo.get(key)
            if hit is not None:
                return hit
            if i == len(members):
                result = tail(c, started)
            else:
                name, member, is_required = members[i]
                options = []
                if member is not None and (hi is None or c < hi):
                    options.append(seq(sep if started else EMPTY, member, at(i + 1, c + 1, True)))
                if not is_required:
                    options.append(at(i + 1, c, started))
                result = alt(*options)
            memo[key] = result
            return result

        return at(0, 0, False)

    def _any_order_start(self, members, extras, sep, lo, hi, depth: int) -> Node:
        key = ("object", next(self._object_ids))
        self._objects[key] = (tuple(members), extras, sep, lo, hi)
        return self._any_order_ref(key, frozenset(range(len(members))), 0, False)

    def _any_order_ref(self, key, remaining: frozenset, count: int, started: bool) -> Node:
        _, _, _, lo, hi = self._objects[key]
        cap = hi if hi is not None else lo
        rule_key = (key, remaining, min(count, cap), started)
        self._rule_defs.setdefault(rule_key, ("props", key, remaining, count, started))
        return ir.Ref(rule_key)

    def _any_order_members(self, key, remaining: frozenset, count: int, started: bool) -> Node:
        """Rule body: any remaining declared property next, or an extra one, or the end.

        Rules are built lazily, so a step is offered only if the object can still be completed
        after it (room for the required properties under maxProperties, enough left for
        minProperties): the engine relies on every rule it enters being completable.
        """
        members, extras, sep, lo, hi = self._objects[key]
        has_extras = not isinstance(extras, ir.Never)

        def feasible(left: frozenset, n: int) -> bool:
            required = [i for i in left if members[i][2]]
            if any(members[i][1] is None for i in required):
                return False
            if hi is not None and n + len(required) > hi:
                return False
            available = sum(1 for i in left if members[i][1] is not None)
            return has_extras or n + available >= lo

        lead = sep if started else EMPTY
        options = []
        for i in sorted(remaining):
            member = members[i][1]
            if member is not None and feasible(remaining - {i}, count + 1):
                options.append(seq(lead, member, self._any_order_ref(key, remaining - {i}, count + 1, True)))
        if has_extras and feasible(remaining, count + 1):
            options.append(seq(lead, extras, self._any_order_ref(key, remaining, count + 1, True)))
        if started and count >= lo and not any(members[i][2] for i in remaining):
            options.append(EMPTY)
        return alt(*options)

    # -- any value ----------------------------------------------------------------------------

    def _any_value_body(self, depth: int) -> Node:
        layout = self.layout
        sep, kv = layout.item_separator(depth), layout.key_separator()
        inner = self.any_value(depth + 1)
        string = quoted(repeat(ANY_JSON_CHAR, 0, None))
        member = seq(string, kv, inner)
        obj = layout.container("{", "}", seq(member, repeat(seq(sep, member))), True, depth)
        arr = layout.container("[", "]", seq(inner, repeat(seq(sep, inner))), True, depth)
        return alt(obj, arr, string, numbers.json_number(), literal("true"), literal("false"), literal("null"))


class _LazyRules(Mapping):
    """Rules built on first use: recursive schemas, depth-indexed layouts, any-order objects."""

    def __init__(self, compiler: SchemaCompiler):
        self._compiler = compiler
        self._built: dict[Hashable, Node] = {}

    def __getitem__(self, key: Hashable) -> Node:
        node = self._built.get(key)
        if node is None:
            if key not in self._compiler._rule_defs:
                raise KeyError(key)
            node = self._compiler._build_rule(key)
            self._built[key] = node
        return node

    def __contains__(self, key: object) -> bool:
        return key in self._compiler._rule_defs

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._compiler._rule_defs))

    def __len__(self) -> int:
        return len(self._compiler._rule_defs)


# -- small helpers ------------------------------------------------------------------------------

def _check_schema(schema: Any) -> None:
    if not isinstance(schema, (dict, bool)):
        raise SchemaError(f"a JSON Schema must be an object or a boolean, got {type(schema).__name__}",
                          pointer="#")
    # Meta-validation without format checks: the "regex" format checker is Python's re, which
    # rejects valid ECMA patterns such as \p{Letter}; patterns are checked by our own parser.
    meta = jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)
    error = jsonschema.exceptions.best_match(meta.iter_errors(schema))
    if error is not None:
        pointer = "#" + "".join(f"/{_escape(str(p))}" for p in error.path)
        keyword = str(error.path[-1]) if error.path else (error.validator if isinstance(error.validator, str) else None)
        raise SchemaError(error.message, pointer=pointer, keyword=keyword)


def _type_set(value: Any) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _join(items: list[Node], sep: Node) -> Node:
    out: list[Node] = []
    for i, item in enumerate(items):
        if i:
            out.append(sep)
        out.append(item)
    return seq(*out)


def _json_equal(a: Any, b: Any) -> bool:
    """JSON Schema equality: 1 == 1.0, but True != 1; objects unordered."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return Decimal(str(a)) == Decimal(str(b)) if not (isinstance(a, float) and math.isinf(a)) else a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _as_schema(d: _Merged) -> dict:
    """A merged flat schema back as a JSON Schema (for validating enum candidates)."""
    schema = {k: v for k, v in d.items() if not k.startswith("_") and k not in ("enum", "const")}
    extra = [{"pattern": p} for p in d.get("_patterns", [])] + [{"format": f} for f in d.get("_formats", [])]
    if extra:
        schema["allOf"] = extra
    return schema


def _int_bound(inclusive: Any, exclusive: Any, *, upper: bool) -> int | None:
    bounds = []
    if inclusive is not None:
        value = Decimal(str(inclusive))
        bounds.append(int(value.to_integral_value(rounding="ROUND_FLOOR" if upper else "ROUND_CEILING")))
    if exclusive is not None:
        value = Decimal(str(exclusive))
        if upper:
            bounds.append(int(value.to_integral_value(rounding="ROUND_CEILING")) - 1)
        else:
            bounds.append(int(value.to_integral_value(rounding="ROUND_FLOOR")) + 1)
    if not bounds:
        return None
    return min(bounds) if upper else max(bounds)


_PATTERN_CACHE: dict[str, Any] = {}


def _pattern_matches(pattern: str, text: str) -> bool:
    """Does the ECMA ``pattern`` (JSON Schema search semantics) match ``text``? Uses our own regex
    front end, so the answer agrees with what the grammar enforces."""
    from ..grammar.lower import Lowering

    entry = _PATTERN_CACHE.get(pattern)
    if entry is None:
        lowering = Lowering()
        entry = (lowering.factory, lowering.lower(parse_regex(pattern, search=True)))
        _PATTERN_CACHE[pattern] = entry
    factory, expr = entry
    return factory.nullable(factory.derive_bytes(expr, text.encode("utf-8")))
