"""JSON Schema to grammar IR, all of it at compile time.

Three steps, each in its own module:

1. :mod:`.document`: the draft (``$schema``), base URIs and reference resolution;
2. :mod:`.reader`: schema objects to the typed model (:mod:`.model`), keyword by keyword, with
   the checks a metaschema would make for the keywords the model uses, ``$ref``/``allOf``/
   ``anyOf``/``oneOf`` resolved;
3. :mod:`.emit`: the model to IR rules, lexeme by lexeme, in a whitespace layout.

Then the rules are checked (:func:`enforcer.grammar.analysis.check_rules`): a rule that can never
finish (an object requiring itself) or a left-recursive one is an error now, naming the JSON
pointer, not a surprise during generation. What the compiled grammar holds afterwards is IR and
engine state only: no validator, no resolver.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import OptionError, SchemaError
from ..grammar import ir
from ..grammar.analysis import check_rules, recursion_depth
from ..grammar.nesting import check_depth, recursion_room
from ..limits import Limits
from .document import Document
from .emit import Emitter
from .json_text import Layout
from .model import Raw, Sub
from .numbers import NumberFormat
from .reader import Reader


class SchemaCompiler:
    """Compiles one schema document; ``approximations`` and ``unknown`` say what it did not
    enforce exactly (``strict=False``) and which keywords it did not know."""

    def __init__(self, schema: Any, *, whitespace: str | int = "compact", property_order: str = "schema",
                 strict: bool = True, max_ws: int = 8, limits: Limits | None = None,
                 unknown_keywords: str = "ignore", is_empty: Any = None, max_integer_digits: int = 19,
                 max_fraction_digits: int = 16, max_exponent_digits: int = 3, canonical_integers: bool = False):
        if property_order not in ("schema", "any"):
            raise OptionError(f"property_order must be 'schema' or 'any', got {property_order!r}")
        if unknown_keywords not in ("ignore", "error"):
            raise OptionError(f"unknown_keywords must be 'ignore' or 'error', got {unknown_keywords!r}")
        if not isinstance(schema, (dict, bool)):
            raise SchemaError(f"a JSON Schema must be an object or a boolean, got {type(schema).__name__}",
                              pointer="#")
        self.limits = limits or Limits()
        self.layout = Layout(whitespace, max_ws=max_ws)
        self.numbers = NumberFormat(max_integer_digits, max_fraction_digits, max_exponent_digits, canonical_integers)
        self.property_order = property_order
        self.document = Document(schema)
        self.depth = nesting_depth(self.document.root)
        self.reader = Reader(self.document, strict=strict, limits=self.limits, unknown_keywords=unknown_keywords,
                             depth=self.depth)
        self.is_empty = is_empty

    @property
    def approximations(self) -> list[tuple[str, str, str]]:
        return self.reader.approximations

    @property
    def unknown(self) -> list[tuple[str, str]]:
        return self.reader.unknown

    def compile(self) -> ir.Rules:
        depth = self.depth
        check_depth(depth, self.limits.max_nesting_depth, "the schema")
        emitter = Emitter(self.reader, self.layout, property_order=self.property_order, limits=self.limits,
                          is_empty=self.is_empty, numbers=self.numbers)
        with recursion_room(depth):
            rules = emitter.root(Sub((Raw(self.document.root, self.document.root_where),)))
            if isinstance(rules.rules[rules.start], ir.Never):
                raise SchemaError("the schema admits no value: no JSON text satisfies it", pointer="#")
            if emitter.recursive:  # only recursion can make a rule that never finishes
                check_rules(rules, left_recursion=False, is_empty=self.is_empty)
                # rules may name each other before any input (an anyOf of two $refs): that nests
                depth = max(depth, recursion_depth(rules))
        return dataclasses.replace(rules, depth=max(depth, 1))


    def constant(self, value: Any) -> ir.Rules:
        """A grammar of exactly the JSON value ``value`` in this layout (tests, tools)."""
        emitter = Emitter(self.reader, self.layout, property_order=self.property_order, limits=self.limits,
                          numbers=self.numbers)
        return ir.Rules({"value": emitter.constants([value], "none", 0)}, "value", indent=self.layout.indent_unit)


def nesting_depth(value: Any) -> int:
    """How deep JSON containers nest in ``value`` (a loop, not recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v)
    return deepest
