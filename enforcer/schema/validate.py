"""Does a JSON value satisfy a model node? For ``enum``/``const`` candidates and property names.

An ``enum`` lists candidates; the other keywords beside it may reject some of them (``{"enum":
["a", 1], "type": "string"}`` allows only ``"a"``). The grammar must hold exactly the candidates
the schema accepts, so each is checked here against the same model the emitter turns into a
grammar: patterns and formats through the same regex front end and languages, so a value is
kept exactly when the grammar of the type would accept it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..engine.expr import ExprFactory
from ..engine.lower import Lowering
from ..grammar.regex import parse_regex
from .formats import format_language
from .model import AnyOf, ArrayC, Node, Nothing, NumberC, ObjectC, StringC, Typed, canonical, json_type

if TYPE_CHECKING:
    from .reader import Reader


class Validator:
    """Checks values against model nodes; regexes and formats are compiled once each."""

    def __init__(self, reader: "Reader"):
        self.reader = reader
        self._lowering = Lowering(ExprFactory())
        self._languages: dict[Any, Any] = {}

    def accepts(self, node: Node, value: Any) -> bool:
        if isinstance(node, Nothing):
            return False
        if isinstance(node, AnyOf):
            return any(self.accepts(o, value) for o in node.options)
        return self._typed(node, value)

    def _typed(self, t: Typed, value: Any) -> bool:
        kind = json_type(value)
        if kind is None:
            return False
        types = t.types
        if not (kind in types or (kind == "integer" and "number" in types)):
            return False
        if t.enum is not None:
            if canonical(value) not in {canonical(v) for v in t.enum}:
                return False
        if t.excluded and canonical(value) in {canonical(v) for v in t.excluded}:
            return False
        if kind == "string":
            return self._string(t.string, value)
        if kind in ("integer", "number"):
            return _number(t.number, value)
        if kind == "array":
            return self._array(t.array, value)
        if kind == "object":
            return self._object(t.object, value)
        return True

    def _string(self, s: StringC, value: str) -> bool:
        if len(value) < s.min_length or (s.max_length is not None and len(value) > s.max_length):
            return False
        data = value.encode("utf-8", "surrogatepass")
        for pattern, _ in s.patterns:
            if not self._matches(("pattern", pattern), data):
                return False
        for name in s.formats:
            if not self._matches(("format", name), data):
                return False
        for pattern, _ in s.not_patterns:
            if self._matches(("pattern", pattern), data):
                return False
        for name in s.not_formats:
            if self._matches(("complement-format", name), data, unknown=False):
                return False
        return True

    def _matches(self, key: tuple[str, str], data: bytes, *, unknown: bool = True) -> bool:
        """Does ``data`` match the pattern or format? ``unknown``: the answer for a format
        that is not known (it constrains nothing; its complement is nothing)."""
        expr = self._languages.get(key)
        if expr is None:
            kind, text = key
            if kind == "pattern":
                node = parse_regex(text, search=True)
            else:
                node = format_language(text, complement=kind == "complement-format")
            if node is None:
                self._languages[key] = False
                return unknown
            expr = self._languages[key] = self._lowering.lower(node)
        if expr is False:
            return unknown
        return self._lowering.factory.matches(expr, data)

    def _array(self, a: ArrayC, value: list) -> bool:
        if len(value) < a.min_items or (a.max_items is not None and len(value) > a.max_items):
            return False
        if not all(self.accepts(self.reader.read(a.at(i)), v) for i, v in enumerate(value)):
            return False
        for c in a.contains:
            sub = self.reader.read(c.sub)
            hits = sum(1 for v in value[c.start:] if self.accepts(sub, v))
            if hits < c.min or (c.max is not None and hits > c.max):
                return False
        if a.unique and len({canonical(v) for v in value}) < len(value):
            return False
        return True

    def key_matches(self, pattern: str, key: str) -> bool:
        """Does a ``patternProperties`` pattern match a property name?"""
        return self._matches(("pattern", pattern), key.encode("utf-8", "surrogatepass"))

    def _object(self, o: ObjectC, value: dict) -> bool:
        if len(value) < o.min_properties or (o.max_properties is not None and len(value) > o.max_properties):
            return False
        if any(name not in value for name in o.required):
            return False
        if not o.names.is_true:
            names = self.reader.read(o.names)
            if not all(self.accepts(names, k) for k in value):
                return False
        logic = self.reader.logic
        for key, v in value.items():
            for part in o.parts:
                if not self.accepts(self.reader.read(logic.member_value(part, key, part.declared(key))), v):
                    return False
        for e in o.exists:
            sub = self.reader.read(e.value)
            if not any(self.accepts(e.key, k) and self.accepts(sub, v) for k, v in value.items()):
                return False
        return True


def _number(n: NumberC, value: Any) -> bool:
    d = Decimal(str(value))
    if n.minimum is not None and (d < n.minimum[0] or (n.minimum[1] and d == n.minimum[0])):
        return False
    if n.maximum is not None and (d > n.maximum[0] or (n.maximum[1] and d == n.maximum[0])):
        return False
    if n.fraction and d == d.to_integral_value():
        return False
    return all(d % m == 0 for m in n.multiples) and not any(d % m == 0 for m in n.not_multiples)
