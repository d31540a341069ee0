"""A schema document: its draft, its base URIs, and how its ``$ref`` resolve.

The draft comes from ``$schema`` (draft-04, -06, -07, 2019-09, 2020-12; 2020-12 when absent or
unknown). It decides which keywords exist and what some of them mean: ``id`` or ``$id``, boolean
or numeric ``exclusiveMinimum``, ``items`` as a list (with ``additionalItems``) or
``prefixItems``/``items``, ``dependencies`` or ``dependentRequired``/``dependentSchemas``, and
whether ``$ref`` ignores its siblings (up to draft-07) or is combined with them.

Reference resolution (``$id`` scopes, JSON pointers, anchors) is the ``referencing`` library's,
for the draft at hand. Only references inside the document resolve: a remote one is an
:class:`~enforcer.errors.UnsupportedSchemaError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import referencing
import referencing.exceptions
import referencing.jsonschema

from ..errors import UnsupportedSchemaError

_ROOT_URI = "urn:enforcer:root"

_APPLICATORS = {"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "properties", "patternProperties",
                "additionalProperties", "items", "contains", "propertyNames"}
_VALIDATION = {"type", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
               "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxProperties",
               "minProperties", "required", "format"}
_ANNOTATIONS = {"$schema", "$comment", "title", "description", "default", "examples", "readOnly",
                "writeOnly", "contentEncoding", "contentMediaType", "deprecated"}

KEYWORDS: dict[str, frozenset[str]] = {
    "draft4": frozenset(_APPLICATORS - {"if", "then", "else", "contains", "propertyNames"}
                        | _VALIDATION | _ANNOTATIONS - {"$comment", "examples", "readOnly", "writeOnly",
                                                          "contentEncoding", "contentMediaType", "deprecated"}
                        | {"id", "$ref", "definitions", "additionalItems", "dependencies"}),
    "draft6": frozenset(_APPLICATORS - {"if", "then", "else"} | _VALIDATION
                        | _ANNOTATIONS - {"$comment", "readOnly", "writeOnly", "contentEncoding",
                                          "contentMediaType", "deprecated"}
                        | {"$id", "$ref", "definitions", "additionalItems", "dependencies", "const"}),
    "draft7": frozenset(_APPLICATORS | _VALIDATION | _ANNOTATIONS - {"deprecated"}
                        | {"$id", "$ref", "definitions", "additionalItems", "dependencies", "const"}),
    "2019-09": frozenset(_APPLICATORS | _VALIDATION | _ANNOTATIONS
                         | {"$id", "$ref", "$anchor", "$defs", "definitions", "$recursiveRef", "$recursiveAnchor",
                            "$vocabulary", "additionalItems", "dependentRequired", "dependentSchemas", "const",
                            "maxContains", "minContains", "unevaluatedItems", "unevaluatedProperties",
                            "contentSchema"}),
    "2020-12": frozenset(_APPLICATORS | _VALIDATION | _ANNOTATIONS
                         | {"$id", "$ref", "$anchor", "$defs", "definitions", "$dynamicRef", "$dynamicAnchor",
                            "$vocabulary", "prefixItems", "dependentRequired", "dependentSchemas", "const",
                            "maxContains", "minContains", "unevaluatedItems", "unevaluatedProperties",
                            "contentSchema"}),
}
"""The keywords each draft defines (``definitions`` is kept in the later drafts: schemas written
for older ones still use it as a container, and references into it resolve)."""

_SPECS = {
    "draft-04": "draft4", "draft-06": "draft6", "draft-07": "draft7",
    "draft2019-09": "2019-09", "draft2020-12": "2020-12",
}


def _count_values(schema: Any, keyword: str) -> dict[Any, int]:
    """How often each value of ``keyword`` occurs in the document (a loop, not recursion)."""
    counts: dict[Any, int] = {}
    stack = [schema]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            found = v.get(keyword)
            if isinstance(found, (str, bool)):
                counts[found] = counts.get(found, 0) + 1
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return counts


def _uses(schema: Any, keywords: tuple[str, ...]) -> bool:
    """Does any object in the document have one of ``keywords`` as a key (a loop, not recursion)?"""
    stack = [schema]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if any(k in v for k in keywords):
                return True
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


@dataclass(frozen=True)
class Where:
    """A subschema's place: its JSON pointer (for messages) and the resolver of its base URI."""

    pointer: str
    resolver: Any


class Document:
    """One schema document (see the module docstring)."""

    def __init__(self, schema: Any):
        self.root = schema
        dialect = schema.get("$schema") if isinstance(schema, dict) else None
        spec = referencing.jsonschema.DRAFT202012
        self.explicit = False  # the draft was named by $schema (not assumed)
        if isinstance(dialect, str):
            for uri in (dialect, dialect.rstrip("#"), dialect.rstrip("#") + "#"):
                try:
                    spec = referencing.jsonschema.specification_with(uri)
                    self.explicit = True
                    break
                except referencing.jsonschema.UnknownDialect:
                    continue
        self.spec = spec
        self.draft = _SPECS.get(spec.name, "2020-12")
        self.keywords = KEYWORDS[self.draft]
        resource = spec.create_resource(schema)
        base = (resource.id() or "") if isinstance(schema, dict) else ""
        self.base = base or _ROOT_URI
        self.registry = referencing.Registry().with_resource(self.base, resource)
        self.root_where = Where("#", self.registry.resolver(self.base))
        self.unevaluated = "unevaluatedProperties" in self.keywords and _uses(schema, ("unevaluatedProperties",
                                                                                      "unevaluatedItems"))
        """Some schema object uses ``unevaluated*``: annotations must be tracked exactly (which
        keys and items each successful subschema evaluates), which costs, so only then."""
        self.dynamic_anchors = _count_values(schema, "$dynamicAnchor") if "$dynamicRef" in self.keywords else {}
        self.recursive_anchors = (_count_values(schema, "$recursiveAnchor").get(True, 0)
                                  if "$recursiveRef" in self.keywords else 0)
        """How often each ``$dynamicAnchor`` name (and ``$recursiveAnchor: true``) occurs: a
        dynamic reference to a name defined once can only end there, so it is a ``$ref``."""

    @property
    def ref_overrides_siblings(self) -> bool:
        """Up to draft-07, ``$ref`` replaces every keyword beside it."""
        return self.draft in ("draft4", "draft6", "draft7")

    @property
    def id_keyword(self) -> str:
        return "id" if self.draft == "draft4" else "$id"

    def enter(self, schema: dict, where: Where) -> Where:
        """The place of ``schema`` reached by structure: a nested ``$id`` moves the base URI."""
        if isinstance(schema.get(self.id_keyword), str) and where.pointer != "#":
            if self.draft in ("draft4", "draft6", "draft7") and schema[self.id_keyword].startswith("#"):
                return where  # a plain-name fragment: an anchor, not a new base
            resolver = where.resolver.in_subresource(self.spec.create_resource(schema))
            return Where(where.pointer, resolver)
        return where

    def lookup(self, ref: str, where: Where) -> tuple[Any, Where]:
        """The schema ``ref`` points to from ``where``, and its place."""
        try:
            resolved = where.resolver.lookup(ref)
        except referencing.exceptions.Unresolvable as exc:
            raise UnsupportedSchemaError(
                f"cannot resolve {ref!r} (only references inside the schema document are supported): {exc}",
                pointer=where.pointer, keyword="$ref") from None
        pointer = ref if ref.startswith("#") else ref
        return resolved.contents, Where(pointer, resolved.resolver)
