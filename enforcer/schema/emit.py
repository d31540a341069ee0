"""The typed model as grammar IR: JSON text, lexeme by lexeme, in a layout.

What comes out is finished at compile time: a finite set of rules (one per recursive
subschema, per lead kind; with a pretty-printed layout one per subschema, used at relative
depths) and the start. Every value is written as lexemes (see :class:`~.json_text.Layout`): a
string value, a number, a key with its colon, a bracket, a comma, each with the whitespace
before it, so that lexemes of the same shape are the same in every schema.

Choices:

* A subschema met again while it is being emitted is recursion: it becomes a rule, referenced
  from where it recurs. A subschema met again after it was emitted is shared (the IR is a DAG),
  so a definition referenced a hundred times is emitted once.
* Properties come in schema order (optional ones skippable) or, with ``property_order="any"``,
  in any order each at most once: both are one :class:`~enforcer.grammar.ir.Members` node,
  whose states the engine builds as generation reaches them (in schema order, the next member
  allowed and the count when ``minProperties``/``maxProperties`` need one).
* Keys that are not declared (``additionalProperties``, ``patternProperties``) are a string
  language: not a declared name, within ``propertyNames``, and per combination of the patterns
  they match, the value schema of that combination.
* ``enum`` and ``const`` are the candidates the rest of the schema accepts (checked with the
  model, see :mod:`.validate`); scalar candidates form one lexeme (strings as one trie of their bytes, ``ir.Words``).
"""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from functools import lru_cache
from decimal import Decimal
from typing import Any, Hashable

from ..errors import LimitExceededError, SchemaError, UnsupportedSchemaError
from ..grammar import ir
from ..grammar.ir import EMPTY, NEVER, Complement, Intersect, Node, alt, literal, repeat, seq
from ..grammar.nesting import check_depth, regex_depth
from ..grammar.regex import parse_regex
from ..limits import Limits
from . import numbers
from .numbers import NumberFormat
from .formats import format_language
from .json_text import ANY_JSON_CHAR, Layout, encode_chars, quoted, string_bodies, string_body
from .model import NO_STRING as NO_STRING_RECORD
from .model import (NO_ARRAY, NO_OBJECT, NOTHING, AnyOf, ArrayC, Exists, Neg,
                    Node as ModelNode, Nothing, NumberC, ObjectC, ObjectPart, Raw, StringC, Sub, Typed, canonical,
                    fixed, json_type, negated, unique_values)
from .reader import Reader, escape

_MAX_PATTERN_KEYS = 4  # patterns kept (all combinations) when their combinations are too many
_MAX_PATTERN_COMBINATIONS = 64  # sets of patternProperties one key may match together
_MAX_UNIQUE_DOMAIN = 64  # distinct values an array with uniqueItems may draw from
_ORDER = ("null", "boolean", "object", "array", "string", "number", "integer")


class Emitter:
    def __init__(self, reader: Reader, layout: Layout, *, property_order: str, limits: Limits,
                 is_empty: Any = None, numbers: numbers.NumberFormat | None = None):
        self.reader = reader
        self.numbers = numbers or NumberFormat()
        fraction = self.numbers.max_fraction_digits
        self._zeros = EMPTY if fraction == 0 else ir.optional(seq(literal("."), repeat(literal("0"), 1, fraction)))
        self.is_empty = is_empty  # decides intersections (string patterns with lengths...) now
        self.layout = layout
        self.property_order = property_order
        self.limits = limits
        self.validator = reader.validator
        self.logic = reader.logic
        self.rules: dict[Hashable, Node] = {}
        self._alive: list[Any] = []  # model parts whose ids are in memo keys
        self._done: dict[tuple, Node] = {}
        self._active: dict[tuple, list] = {}  # key -> [rule name, recursive?]
        self._names: set[str] = set()
        self._patterns: dict[str, Node] = {}
        self._any_rules: dict[str, str] = {}
        self.recursive = False  # a subschema became a rule: rules must be checked

    # -- entry --------------------------------------------------------------------------------

    def root(self, sub: Sub) -> ir.Rules:
        start = self._rule_name("root", "none")
        self.rules[start] = self.value(sub, "none", 0)
        return ir.Rules(self.rules, start, indent=self.layout.indent_unit)

    def _rule_name(self, pointer: str, lead: str) -> str:
        name = pointer if lead == "none" else f"{pointer} ({lead})"
        base, i = name, 1
        while name in self._names:
            i += 1
            name = f"{base} #{i}"
        self._names.add(name)
        return name

    # -- subschemas and recursion -------------------------------------------------------------

    def value(self, sub: Sub, lead: str, depth: int) -> Node:
        """The JSON texts valid under ``sub``, written with a ``lead`` at ``depth``."""
        key = (self._sub_key(sub), lead)
        pointer = sub.pointer
        if self.layout.pretty:  # every subschema is a rule, used at relative depths
            entry = self._active.get(key)
            if entry is not None:
                entry[1] = True
                return ir.Ref(entry[0], depth)
            name = self._done.get(key)
            if name is None:
                name = self._rule_name(pointer, lead)
                entry = self._active[key] = [name, False]
                try:
                    body = self.node(self.reader.read(sub), lead, 0)
                finally:
                    del self._active[key]
                if isinstance(body, ir.Never) and not entry[1]:
                    self._done[key] = NEVER
                    return NEVER  # no value: no rule (a reference to it would be a dead end)
                self.rules[name] = body
                if entry[1]:
                    self.recursive = True
                self._done[key] = name  # type: ignore[assignment]
            if isinstance(name, ir.Never):
                return NEVER
            return ir.Ref(name, depth)
        found = self._done.get(key)
        if found is not None:
            return found
        entry = self._active.get(key)
        if entry is not None:
            entry[1] = True
            return ir.Ref(entry[0])
        if len(self._active) >= self.limits.max_nesting_depth:
            from ..errors import LimitExceededError

            raise LimitExceededError(f"subschemas nest more than {len(self._active)} levels deep at {pointer}",
                                     limit="max_nesting_depth", allowed=self.limits.max_nesting_depth)
        entry = self._active[key] = [self._rule_name(pointer, lead), False]
        try:
            body = self.node(self.reader.read(sub), lead, depth)
        finally:
            del self._active[key]
        if entry[1]:
            self.rules[entry[0]] = body
            self.recursive = True
            body = ir.Ref(entry[0])
        elif not isinstance(body, (ir.Lexeme, ir.Never, ir.Ref)):
            body = ir.Lazy(body)  # lowered when generation first reaches it
        self._done[key] = body
        return body

    def _sub_key(self, sub: Sub) -> tuple:
        out = []
        for p in sub.parts:
            if isinstance(p, Raw):
                out.append((id(p.schema), str(getattr(p.where.resolver, "_base_uri", ""))))
            elif isinstance(p, Neg):
                out.append(("not", self._sub_key(p.sub)))
            else:
                self._alive.append(p.node)
                out.append(("fixed", id(p.node)))
        return tuple(out)

    def any_value(self, lead: str, depth: int) -> Node:
        """Any JSON value (a rule per lead kind: values nest)."""
        name = self._any_rules.get(lead)
        if name is None:
            name = self._any_rules[lead] = self._rule_name("any value", lead)
            self.rules[name] = self._any_body(lead)
        return ir.Ref(name, depth)

    def _any_body(self, lead: str) -> Node:
        layout = self.layout
        item_value = self.any_value(layout.item_lead(), 1)
        colon_value = self.any_value(layout.colon_lead(), 1)
        member = seq(layout.lexeme(layout.item_lead(), 1, quoted(repeat(ANY_JSON_CHAR)), layout.colon()), colon_value)
        sep = layout.comma()
        obj = layout.container(lead, 0, "{", "}", seq(member, repeat(seq(sep, member))), True)
        arr = layout.container(lead, 0, "[", "]", seq(item_value, repeat(seq(sep, item_value))), True)
        fmt = self.numbers
        number = numbers.json_number(max_integer_digits=fmt.max_integer_digits,
                                     max_fraction_digits=fmt.max_fraction_digits,
                                     max_exponent_digits=fmt.max_exponent_digits)
        scalars = layout.lexeme(lead, 0, alt(quoted(repeat(ANY_JSON_CHAR)), number,
                                             literal("true"), literal("false"), literal("null")))
        return alt(obj, arr, scalars)

    # -- model nodes --------------------------------------------------------------------------

    def node(self, n: ModelNode, lead: str, depth: int) -> Node:
        if isinstance(n, Nothing):
            return NEVER
        if isinstance(n, AnyOf):
            return alt(*[self.node(o, lead, depth) for o in n.options])
        if n.unconstrained:
            return self.any_value(lead, depth)
        if n.enum is not None:
            return self._enum(n, lead, depth)
        types = n.types
        parts = []
        for t in _ORDER:
            if t in types:
                parts.append(self._typed(t, n, lead, depth))
        return alt(*parts)

    def _typed(self, t: str, n: Typed, lead: str, depth: int) -> Node:
        layout = self.layout
        excluded = [v for v in n.excluded if _of_type(v, t)]
        if t == "null":
            return NEVER if excluded else layout.lexeme(lead, depth, literal("null"))
        if t == "boolean":
            return layout.lexeme(lead, depth, alt(*(literal(json.dumps(b)) for b in (True, False) if b not in excluded)))
        if t == "string":
            body = self.string_body(n.string, n.pointer, excluded)
            return layout.lexeme(lead, depth, quoted(body))
        if t in ("number", "integer"):
            return layout.lexeme(lead, depth, self._number(t, n.number, n.pointer, excluded))
        if excluded:  # arrays or objects other than some values: meet the complements of those values
            kind = frozenset({t})
            node: ModelNode = Typed(kind, array=n.array if t == "array" else NO_ARRAY,
                                    object=n.object if t == "object" else NO_OBJECT, pointer=n.pointer)
            for v in excluded:
                node = self.logic.meet(node, self.logic.negate(value_model(v, n.pointer), n.pointer), n.pointer, "enum")
            return self.node(node, lead, depth)
        if t == "array":
            return self._array(n, lead, depth)
        return self._object(n, lead, depth)

    # -- strings ------------------------------------------------------------------------------

    def string_body(self, s: StringC, pointer: str, excluded: list[str] | tuple = ()) -> Node:
        """The body of a string (between its quotes) under ``s``, other than ``excluded``."""
        lo, hi = s.min_length, s.max_length
        languages: list[Node] = [self._pattern(p, where) for p, where in s.patterns]
        for name in s.formats:
            language = format_body(name)
            if language is not None:  # unknown formats are annotations
                languages.append(language)
        negative: list[Node] = [Complement(self._pattern(p, where)) for p, where in s.not_patterns]
        for name in s.not_formats:
            language = format_body(name, complement=True)
            if language is not None:
                negative.append(Complement(language))
        if excluded:
            negative.append(Complement(string_bodies(excluded)))
        if negative:
            languages.append(repeat(ANY_JSON_CHAR, lo, hi))
            languages.extend(negative)
            lo, hi = 0, None
        if not languages:
            return repeat(ANY_JSON_CHAR, lo, hi)
        if len(languages) == 1 and isinstance(languages[0], ir.Repeat) and isinstance(languages[0].item, ir.JsonChar):
            only = languages[0]  # a single character class repeated: fold the length bounds in
            new_hi = hi if only.max is None else only.max if hi is None else min(hi, only.max)
            return repeat(only.item, max(lo, only.min), new_hi)
        if lo or hi is not None:
            languages.append(repeat(ANY_JSON_CHAR, lo, hi))
        body = languages[0] if len(languages) == 1 else Intersect(tuple(languages))
        if isinstance(body, Intersect) and self.is_empty is not None and self.is_empty(body):
            return NEVER  # no string satisfies all of them: the string type is out
        return body

    def _pattern(self, pattern: str, pointer: str) -> Node:
        check_depth(regex_depth(pattern), self.limits.max_nesting_depth, f"the pattern at {pointer}")
        try:
            return pattern_language(pattern)
        except SchemaError as exc:
            raise type(exc)(str(exc).split(": ", 1)[-1], pointer=pointer, keyword="pattern") from None

    # -- numbers ------------------------------------------------------------------------------

    def _number(self, t: str, c: NumberC, pointer: str, excluded: list | tuple = ()) -> Node:
        """Number texts under ``c`` (``t``: ``"integer"`` or ``"number"``) other than ``excluded``.

        Steps (``multipleOf``) combine into their least common multiple, exactly, as fractions;
        a step that is a whole number (or any step, for integers) makes an integer language, a
        decimal one a decimal language (:func:`numbers.json_decimal_multiple_of`). Complements
        (``not``: another step, a non-integer, excluded values) are intersected as every plain
        spelling of what they exclude, so a number constrained by one is written in plain
        notation."""
        lo = c.minimum[0] if c.minimum and not c.minimum[1] else None
        xlo = c.minimum[0] if c.minimum and c.minimum[1] else None
        hi = c.maximum[0] if c.maximum and not c.maximum[1] else None
        xhi = c.maximum[0] if c.maximum and c.maximum[1] else None
        if c.fraction and t == "integer":
            return NEVER
        step: Fraction | None = None
        for m in c.multiples:
            step = Fraction(m) if step is None else _lcm_fraction(step, Fraction(m))
        if t == "integer" and step is not None:
            step = Fraction(step.numerator)  # an integer x is a multiple of p/q (lowest terms) iff p divides x
        excluded_numbers = [Decimal(str(v)) for v in excluded]
        fmt = self.numbers
        fraction_digits = fmt.max_fraction_digits
        digits = max([fmt.max_integer_digits] + [len(str(abs(int(b[0])))) for b in (c.minimum, c.maximum)
                                                 if b is not None])
        canonical = t == "integer" and fmt.canonical_integers
        try:
            parts: list[Node] = []
            if t == "integer" or (step is not None and step.denominator == 1):
                multiple = None if step is None else step.numerator
                int_lo = _int_bound(lo, xlo, upper=False)
                int_hi = _int_bound(hi, xhi, upper=True)
                if multiple is not None and multiple != 1:
                    if multiple > self.limits.max_multiple_of * 10**6:
                        raise UnsupportedSchemaError(f"multipleOf {multiple} is too large", keyword="multipleOf")
                    integers = numbers.json_integer_multiple_of(multiple, int_lo, int_hi, fmt.max_integer_digits,
                                                                negative_zero=not canonical,
                                                                max_modulus=self.limits.max_multiple_of)
                else:
                    integers = numbers.json_integer(int_lo, int_hi, max_digits=fmt.max_integer_digits,
                                                    negative_zero=not canonical)
                if c.fraction:
                    return NEVER
                parts.append(seq(integers, EMPTY if canonical else self._zeros))  # 1.0 is an integer too
            else:
                plain = c.plain or bool(excluded_numbers)
                base = numbers.json_number(minimum=lo, maximum=hi, exclusive_minimum=xlo, exclusive_maximum=xhi,
                                           allow_exponent=not plain, max_integer_digits=fmt.max_integer_digits,
                                           max_fraction_digits=fraction_digits,
                                           max_exponent_digits=fmt.max_exponent_digits)
                if step is not None:
                    base = self._decimal_multiples(step, c, base, digits)
                parts.append(base)
                if c.fraction:
                    parts.append(numbers.json_fractional(digits, fraction_digits))
            for m in c.not_multiples:
                parts.append(Complement(self._all_multiples(Fraction(m), digits)))
            if excluded_numbers:
                parts.append(Complement(alt(*(numbers.plain_spellings(v, fraction_digits) for v in excluded_numbers))))
        except SchemaError as exc:
            raise type(exc)(str(exc).split(": ", 1)[-1], pointer=pointer, keyword=exc.keyword) from None
        parts = [p for p in parts if not isinstance(p, ir.Empty)]
        if any(isinstance(p, ir.Never) for p in parts):
            return NEVER
        body = parts[0] if len(parts) == 1 else Intersect(tuple(parts))
        if isinstance(body, Intersect) and self.is_empty is not None and self.is_empty(body):
            return NEVER
        return body

    def _decimal_multiples(self, step: Fraction, c: NumberC, base: Node, digits: int) -> Node:
        """``base`` (plain numbers in the bounds) restricted to multiples of a decimal ``step``:
        spelled out when the bounds hold few, else a remainder automaton."""
        if c.minimum is not None and c.maximum is not None:
            d_step = Decimal(step.numerator) / Decimal(step.denominator)
            values = numbers.enumerate_multiples(d_step, c.minimum[0], c.maximum[0], lo_x=c.minimum[1],
                                                 hi_x=c.maximum[1])
            if values is not None:
                return alt(*(numbers.plain_spellings(v, self.numbers.max_fraction_digits) for v in values))
        return Intersect((base, self._all_multiples(step, digits)))

    def _all_multiples(self, step: Fraction, digits: int) -> Node:
        """Every plain spelling of every multiple of ``step`` (within the digit limits)."""
        if step.denominator == 1:
            return seq(numbers.json_integer_multiple_of(step.numerator, None, None, digits), self._zeros)
        a, d = numbers.decimal_step(Decimal(step.numerator) / Decimal(step.denominator))
        return numbers.json_decimal_multiple_of(a, d, digits, self.numbers.max_fraction_digits)

    # -- arrays -------------------------------------------------------------------------------

    def _array(self, n: Typed, lead: str, depth: int) -> Node:
        a = n.array
        if a.unique:
            found = self._unique_array(a, lead, depth)
            if found is not None:
                return found
            a = ArrayC(a.prefix, a.items, a.min_items, a.max_items, a.contains, False, a.pointer)  # strict=False
        if a.contains:
            return self._counted_array(a, lead, depth)
        layout = self.layout
        lo, hi = a.min_items, a.max_items
        item_lead = layout.item_lead()
        sep = layout.comma()
        prefix = [self.value(s, item_lead, depth + 1) for s in a.prefix[: hi if hi is not None else None]]
        tail = NEVER if a.items.is_false else self.value(a.items, item_lead, depth + 1)
        if hi == 0:
            return layout.container(lead, depth, "[", "]", NEVER, True)

        def free(i: int) -> Node:
            """Elements past the prefix, from index ``i`` on, each after a separator."""
            return repeat(seq(sep, tail), max(lo - i, 0), None if hi is None else hi - i)

        k = len(prefix)
        if k == 0:
            body = seq(tail, free(1))
        else:
            limit = k if hi is None else min(k, hi)
            rest = free(k) if limit == k and (hi is None or hi > k) else EMPTY
            for i in range(limit - 1, 0, -1):  # rest(i): elements from i on, built from the end
                rest = alt(EMPTY if i >= lo else NEVER, seq(sep, prefix[i], rest))
            body = seq(prefix[0], rest)
        return layout.container(lead, depth, "[", "]", body, lo == 0)

    def _counted_array(self, a: ArrayC, lead: str, depth: int) -> Node:
        """An array with a ``contains`` count: every item at a counted position is either valid
        under the ``contains`` schema (a hit) or not (a miss), and the hits are counted with the
        items (both within their bounds). Positions past the prefix and the counts that no bound
        can tell apart share one state, so the grammar is finite."""
        if len(a.contains) > 1:
            first = a.contains[0]
            if any(c.sub is not first.sub or c.start != first.start for c in a.contains[1:]):
                self.reader.unsupported("contains", a.contains[1].pointer, "two 'contains' conditions on one array")
                return self._array(Typed(frozenset({"array"}), array=ArrayC(a.prefix, a.items, a.min_items,
                                                                            a.max_items, a.contains[:1], False,
                                                                            a.pointer)), lead, depth)
        c = a.contains[0]
        least = max(x.min for x in a.contains)
        most = min((x.max for x in a.contains if x.max is not None), default=None)
        layout = self.layout
        item_lead, sep = layout.item_lead(), layout.comma()
        lo, hi = a.min_items, a.max_items
        if most is not None and least > most:
            return layout.container(lead, depth, "[", "]", NEVER, False)
        k = max(len(a.prefix), c.start)  # from position k on, every position is alike
        cap_n = hi if hi is not None else max(k, lo, 1)
        cap_h = least if most is None else most + 1
        if (cap_n + 1) * (cap_h + 1) > self.limits.max_repeat_product:
            raise LimitExceededError(f"the array at {a.pointer} counts {cap_n} items and {cap_h} matches",
                                     limit="max_repeat_product", allowed=self.limits.max_repeat_product)
        negative = negated(c.sub)

        def kinds(i: int) -> tuple[Node, Node]:
            """(hit, miss) values at position ``i`` (a miss is any value where nothing is counted)."""
            base = a.at(i)
            if i < c.start:
                return NEVER, self.value(base, item_lead, depth + 1)
            return (self.value(base.meet(c.sub), item_lead, depth + 1),
                    self.value(base.meet(negative), item_lead, depth + 1))

        def item(value: Node, i: int) -> Node:
            return value if i == 0 else seq(sep, value)

        memo: dict[tuple[int, int], Node] = {}

        def rest(i: int, h: int) -> Node:
            """Items from position ``i`` on, after ``h`` hits (``i`` capped at ``cap_n``)."""
            key = (i, h)
            if key in memo:
                return memo[key]
            if i == cap_n and hi is None:  # alike from here: a regular tail over the hit count
                hit, miss = kinds(i)
                misses = repeat(seq(sep, miss))
                if h >= least:
                    room = None if most is None else most - h
                    result = seq(misses, repeat(seq(sep, hit, misses), 0, room))
                else:
                    need = least - h
                    result = seq(misses, repeat(seq(sep, hit, misses), need, None if most is None else most - h))
                memo[key] = result
                return result
            options: list[Node] = []
            if i >= lo and h >= least:
                options.append(EMPTY)
            if hi is None or i < hi:
                hit, miss = kinds(i)
                if most is None or h < most:
                    options.append(seq(item(hit, i), rest(i + 1, min(h + 1, cap_h))))
                options.append(seq(item(miss, i), rest(i + 1, h)))
            result = alt(*options)
            memo[key] = result
            return result

        for i in range(cap_n, -1, -1):  # from the end, so that no call recurses deeply
            for h in range(cap_h, -1, -1):
                rest(i, h)
        body = rest(0, 0)
        empty_ok = isinstance(body, ir.Empty) or (isinstance(body, ir.Alt) and any(x is EMPTY for x in body.items))
        if isinstance(body, ir.Empty):
            body = NEVER
        elif empty_ok:
            body = alt(*(x for x in body.items if x is not EMPTY))
        return layout.container(lead, depth, "[", "]", body, empty_ok)

    def _unique_array(self, a: ArrayC, lead: str, depth: int) -> Node | None:
        """Items all different, drawn from a finite domain: each value of the domain at most
        once, in any order (an any-order member list); ``None`` where the domain is not finite
        and small (refused in strict mode, not enforced otherwise)."""
        why = None
        domain = None
        if a.prefix:
            why = "with prefixItems"
        elif a.contains:
            why = "with contains"
        else:
            domain = self._finite_values(self.reader.read(a.items))
            if domain is None:
                why = "over items that are not a small finite set of values (booleans, null, enum, const or a small integer range)"
            elif len(domain) > _MAX_UNIQUE_DOMAIN:
                why = f"over {len(domain)} possible items (at most {_MAX_UNIQUE_DOMAIN})"
        if why is not None:
            self.reader.unsupported("uniqueItems", a.pointer, f"uniqueItems {why}", "cannot be enforced exactly")
            return None
        assert domain is not None
        layout = self.layout
        item_lead, sep = layout.item_lead(), layout.comma()
        lo, hi = a.min_items, a.max_items
        if lo > len(domain):
            return NEVER
        members = []
        for v in domain:
            text = self.constants([v], item_lead, depth + 1)
            members.append((text, seq(sep, text), False))
        body = ir.Members(tuple(members), None, lo, hi) if members and hi != 0 else NEVER
        return layout.container(lead, depth, "[", "]", body, lo == 0)

    def _finite_values(self, node: ModelNode) -> list[Any] | None:
        """The values ``node`` accepts if they are few and known (an enum, booleans, null)."""
        if isinstance(node, Nothing):
            return []
        if isinstance(node, AnyOf):
            out: list[Any] = []
            for o in node.options:
                values = self._finite_values(o)
                if values is None:
                    return None
                out.extend(values)
            return list(unique_values(out))
        if node.enum is not None:
            checker = Typed(node.types, node.string, node.number, node.array, node.object, None, node.pointer,
                            node.excluded)
            return [v for v in node.enum if self.validator.accepts(checker, v)]
        values: list[Any] = []
        if "integer" in node.types and node.types <= {"null", "boolean", "integer"}:
            c = node.number  # a small range of integers
            if c.minimum is None or c.maximum is None:
                return None
            lo = int(c.minimum[0].to_integral_value(rounding="ROUND_CEILING"))
            hi = int(c.maximum[0].to_integral_value(rounding="ROUND_FLOOR"))
            if hi - lo >= _MAX_UNIQUE_DOMAIN:
                return None
            checker = Typed(frozenset({"integer"}), number=c, pointer=node.pointer, excluded=node.excluded)
            values = [v for v in range(lo, hi + 1) if self.validator.accepts(checker, v)]
        elif not node.types <= {"null", "boolean"}:
            return None
        values += ([None] if "null" in node.types else []) + ([True, False] if "boolean" in node.types else [])
        out_keys = {canonical(v) for v in node.excluded}
        return [v for v in values if canonical(v) not in out_keys]

    # -- objects ------------------------------------------------------------------------------

    def _object(self, n: Typed, lead: str, depth: int) -> Node:
        o = n.object
        if not o.exists:
            return self._object_with(o, (), n.pointer, lead, depth)
        return alt(*(self._object_with(variant, designated, n.pointer, lead, depth)
                     for variant, designated in self._exists_variants(o, n.pointer)))

    def _exists_variants(self, o: ObjectC, pointer: str) -> list[tuple[ObjectC, tuple]]:
        """An object with ``exists`` conditions as alternatives of objects without them: each
        condition is met by a declared key (then required, its value also under the condition)
        or by an undeclared member; conditions met by undeclared members are grouped (one
        member may meet several), each group a *designated* member written like a required
        one (its key in every class of the group, its value under every value schema)."""
        declared = _declared(o)
        choices = []
        for e in o.exists:
            options: list[tuple[str | None, Any]] = [(name, e) for name in declared
                                                     if self.validator.accepts(e.key, name)]
            options.append((None, e))
            choices.append(options)
        total = math.prod(len(c) for c in choices)
        if total > self.limits.max_disjuncts or len(o.exists) > 6:
            raise LimitExceededError(f"the object at {pointer} has {total} ways to meet {len(o.exists)} conditions "
                                     "on some member", limit="max_disjuncts", value=total,
                                     allowed=self.limits.max_disjuncts)
        out = []
        for combination in itertools.product(*choices):
            parts = list(o.parts)
            required = list(o.required)
            undeclared = []
            for name, e in combination:
                if name is None:
                    undeclared.append(e)
                else:
                    parts.append(ObjectPart(((name, e.value),), (), Sub(), e.pointer))
                    required.append(name)
            variant = ObjectC(tuple(parts), tuple(dict.fromkeys(required)), o.names, o.min_properties,
                              o.max_properties)
            for groups in _partitions(undeclared):
                designated = []
                for group in groups:
                    key: ModelNode = group[0].key
                    value = group[0].value
                    for e in group[1:]:
                        key = self.logic.meet(key, e.key, pointer, "not")
                        value = value.meet(e.value)
                    if key is not NOTHING:
                        designated.append(Exists(key, value, group[0].pointer))
                if len(designated) == len(groups):
                    out.append((variant, tuple(designated)))
        return out

    def _object_with(self, o: ObjectC, designated: tuple, pointer: str, lead: str, depth: int) -> Node:
        layout = self.layout
        item_lead, colon_lead = layout.item_lead(), layout.colon_lead()
        names_node = None if o.names.is_true else self.reader.read(o.names)
        declared = _declared(o)
        members: list[tuple[Node, Node, bool]] = []  # (first, later, required)
        sep = layout.comma()
        for name in declared:
            required = name in o.required
            if names_node is not None and not self.validator.accepts(names_node, name):
                if required:
                    return NEVER
                continue
            value = self.value(self.logic.member_sub(o, name), colon_lead, depth + 1)
            if isinstance(value, ir.Never):
                if required:
                    return NEVER
                continue
            first = seq(layout.lexeme(item_lead, depth + 1, quoted(string_body(name)), layout.colon()), value)
            members.append((first, seq(sep, first), required))
        special: list[tuple[Node, Node]] = []
        for e in designated:  # an undeclared member meeting an exists condition: written once, required
            member = self._extra(o, declared, names_node, pointer, depth, e)
            if member is None:
                return NEVER
            special.append((member, seq(sep, member)))
        extra = self._extra(o, declared, names_node, pointer, depth)
        lo, hi = o.min_properties, o.max_properties
        if self.property_order == "any" and (members or special):
            everyone = tuple(members) + tuple((first, later, True) for first, later in special)
            body: Node = ir.Members(everyone, None if extra is None else (extra, seq(sep, extra)), lo, hi)
        elif special:
            body = _ordered(members, extra, sep, lo, hi, self.limits, pointer, special)
        elif (members or extra is not None) and hi != 0:
            body = ir.Members(tuple(members), None if extra is None else (extra, seq(sep, extra)), lo, hi, ordered=True)
        else:
            body = NEVER
        allow_empty = lo == 0 and not o.required and not designated
        return layout.container(lead, depth, "{", "}", body, allow_empty)

    def _extra(self, o: ObjectC, declared: list[str], names_node: Any, pointer: str, depth: int,
               condition: Any = None) -> Node | None:
        """A member whose key is not declared, or ``None`` if none may come; with an exists
        ``condition``, only members meeting it."""
        layout = self.layout
        patterns: list[tuple[Any, Sub, int]] = []  # (pattern or key class, sub, part index)
        for k, part in enumerate(o.parts):
            patterns.extend((p, sub, k) for p, sub in part.patterns)
        languages: list[Node] = []  # distinct key languages (a pattern may recur across schema objects)
        index: list[int] = []  # per pattern entry, its language
        for p, _, _ in patterns:
            language = self._key_pattern(p, pointer)
            found = next((i for i, x in enumerate(languages) if x is language), None)
            if found is None:
                found = len(languages)
                languages.append(language)
            index.append(found)
        combinations = self._pattern_combinations(languages)
        if combinations is None:
            self.reader.unsupported("patternProperties", pointer,
                                    f"{len(languages)} patternProperties in one object whose keys may match them in "
                                    f"more than {_MAX_PATTERN_COMBINATIONS} combinations")
            languages = languages[:_MAX_PATTERN_KEYS]
            keep = [i for i, x in enumerate(index) if x < _MAX_PATTERN_KEYS]
            patterns, index = [patterns[i] for i in keep], [index[i] for i in keep]
            combinations = [c for k in range(len(languages) + 1)
                            for c in itertools.combinations(range(len(languages)), k)]
        base: list[Node] = [repeat(ANY_JSON_CHAR)]
        if declared:
            base.append(Complement(string_bodies(declared)))
        if names_node is not None:
            names = self.key_language(names_node)
            if isinstance(names, ir.Never):
                return None
            base.append(names)
        if condition is not None:
            keys = self.key_language(condition.key)
            if isinstance(keys, ir.Never):
                return None
            base.append(keys)
        options = []
        for chosen in combinations:
            key_parts = list(base)
            for i, language in enumerate(languages):
                key_parts.append(language if i in chosen else Complement(language))
            value_sub = Sub()
            for part_index, part in enumerate(o.parts):
                mine = [patterns[j][1] for j in range(len(patterns))
                        if index[j] in chosen and patterns[j][2] == part_index]
                for s in (mine or [part.additional]):
                    value_sub = value_sub.meet(s)
            if condition is not None:
                value_sub = value_sub.meet(condition.value)
            if value_sub.is_false:
                continue
            value = self.value(value_sub, layout.colon_lead(), depth + 1)
            if isinstance(value, ir.Never):
                continue
            key_body = key_parts[0] if len(key_parts) == 1 else Intersect(tuple(key_parts))
            # any key but the declared ones (no pattern, name or condition part): a finite set
            # out of an infinite one is never empty, and most objects have only that
            only_undeclared = not languages and names_node is None and condition is None
            if (isinstance(key_body, Intersect) and not only_undeclared and self.is_empty is not None
                    and self.is_empty(key_body)):
                continue
            key = layout.lexeme(layout.item_lead(), depth + 1, quoted(key_body))
            options.append(seq(key, ir.lexeme(layout.colon()), value))
        if not options:
            return None
        return alt(*options)

    def _pattern_combinations(self, languages: list[Node]) -> list[tuple[int, ...]] | None:
        """The sets of patterns a key may match all of (a key matching exactly the patterns of
        one set has the value schemas of that set): every subset whose patterns intersect,
        found by extending intersecting sets only; ``None`` beyond the limit."""
        out: list[tuple[int, ...]] = [()]
        frontier: list[tuple[tuple[int, ...], Node | None]] = [((), None)]
        while frontier:
            chosen, language = frontier.pop()
            start = chosen[-1] + 1 if chosen else 0
            for i in range(start, len(languages)):
                both = languages[i] if language is None else Intersect((language, languages[i]))
                if language is not None and self.is_empty is not None and self.is_empty(both):
                    continue
                out.append(chosen + (i,))
                if len(out) > _MAX_PATTERN_COMBINATIONS:
                    return None
                frontier.append((chosen + (i,), both))
        return out

    def _key_pattern(self, pattern: Any, pointer: str) -> Node:
        return self._pattern(pattern, pointer) if isinstance(pattern, str) else self.key_language(pattern)

    def key_language(self, node: ModelNode) -> Node:
        """The string bodies a model node accepts (keys: a ``propertyNames`` schema, a key class)."""
        if isinstance(node, Nothing):
            return NEVER
        if isinstance(node, AnyOf):
            return alt(*[self.key_language(o) for o in node.options])
        if "string" not in node.types:
            return NEVER
        if node.enum is not None:
            values = [v for v in node.enum if isinstance(v, str) and self.validator.accepts(node, v)]
            return string_bodies(values)
        excluded = [v for v in node.excluded if isinstance(v, str)]
        if node.string is NO_STRING_RECORD and not excluded:
            return repeat(ANY_JSON_CHAR)
        return self.string_body(node.string, node.pointer, excluded)

    # -- enum and const -----------------------------------------------------------------------

    def _enum(self, n: Typed, lead: str, depth: int) -> Node:
        checker = Typed(n.types, n.string, n.number, n.array, n.object, None, n.pointer, n.excluded)
        any_string = "string" in n.types and n.string is NO_STRING_RECORD and not n.excluded
        values = [v for v in n.enum or () if (any_string and type(v) is str) or self.validator.accepts(checker, v)]
        return self.constants(values, lead, depth)

    def constants(self, values: list[Any], lead: str, depth: int) -> Node:
        """Exactly these JSON values (strings in every escape spelling, numbers as written or,
        for integers, with a zero fraction)."""
        strings = [v for v in values if isinstance(v, str)]
        scalars: list[Node] = []
        if strings:
            scalars.append(quoted(string_bodies(strings)))
        for v in values:
            if isinstance(v, str):
                continue
            kind = json_type(v)
            if kind in ("null", "boolean"):
                scalars.append(literal(json.dumps(v)))
            elif kind in ("integer", "number"):
                scalars.append(_number_literal(v, EMPTY if self.numbers.canonical_integers else self._zeros))
        options = [self.layout.lexeme(lead, depth, alt(*scalars))] if scalars else []
        for v in values:
            if isinstance(v, (dict, list)):
                options.append(self._compound(v, lead, depth))
        return alt(*options)

    def _compound(self, value: Any, lead: str, depth: int) -> Node:
        layout = self.layout
        item_lead, colon_lead = layout.item_lead(), layout.colon_lead()
        sep = layout.comma()
        if isinstance(value, list):
            items = [self.constants([v], item_lead, depth + 1) for v in value]
            body = seq(items[0], *[seq(sep, x) for x in items[1:]]) if items else NEVER
            return layout.container(lead, depth, "[", "]", body, not items)
        members = []
        for k, v in value.items():
            first = seq(layout.lexeme(item_lead, depth + 1, quoted(string_body(k)), layout.colon()),
                        self.constants([v], colon_lead, depth + 1))
            members.append((first, seq(sep, first), True))
        if not members:
            return layout.container(lead, depth, "{", "}", NEVER, True)
        if self.property_order == "any":
            body: Node = ir.Members(tuple(members), None, 0, None)
        else:
            body = seq(members[0][0], *[m[1] for m in members[1:]])
        return layout.container(lead, depth, "{", "}", body, False)


# -- helpers ----------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def format_body(name: str, complement: bool = False) -> Node | None:
    """The JSON string bodies of a ``format`` (kept: the same IR object for every schema);
    ``complement``: the language whose complement ``not: {"format": name}`` allows (see
    :func:`~.formats.format_language`)."""
    language = format_language(name, complement=complement)
    return None if language is None else encode_chars(language)


@lru_cache(maxsize=2048)
def pattern_language(pattern: str) -> Node:
    """The JSON string bodies a ``pattern`` allows (search semantics). Kept per pattern: the
    same IR object every time, so what is built from it (lowered expressions, emptiness
    answers) is found again for the next schema using the pattern."""
    return encode_chars(parse_regex(pattern, search=True))


def _ordered(members: list[tuple[Node, Node, bool]], extra: Node | None, sep: Node, lo: int, hi: int | None,
             limits: Limits, pointer: str, designated: list[tuple[Node, Node]] | tuple = ()) -> Node:
    """Non-empty member lists in schema order (optional members skippable), then extra members,
    for objects with ``designated`` members (any other object in schema order is one
    ``ir.Members(ordered=True)``, whose states the engine builds as generation reaches them).

    Built from the end: after the first member, the rest is a chain (each optional member may
    be skipped); the first member is any of those up to the first required one. Linear in the
    members, times the count bound when ``minProperties``/``maxProperties`` need a count.

    ``designated``: undeclared members that must each come once (``(first, later)`` texts, see
    ``Emitter._exists_variants``); they have no declared place, so they mix with the extra
    members in any order (an any-order tail)."""
    if hi == 0:
        return NEVER
    extra_later = None if extra is None else seq(sep, extra)
    counted = lo > 0 or hi is not None
    cap = (hi if hi is not None else lo) if counted else 0
    if counted and len(members) * (cap + 1) > limits.max_repeat_product:
        from ..errors import LimitExceededError

        raise LimitExceededError(f"an object at {pointer} with {len(members)} properties and a count bound of "
                                 f"{cap} needs {len(members) * (cap + 1)} grammar nodes",
                                 limit="max_repeat_product", allowed=limits.max_repeat_product)

    def norm(c: int) -> int:
        return min(c, cap) if counted else 0

    def tail(c: int) -> Node:
        """Extra members once ``c`` >= 1 members are written."""
        need = max(lo - c, 0) if counted else 0
        room = None if hi is None else hi - c
        if designated:
            if room is not None and room < len(designated):
                return NEVER
            later = tuple((d_later, d_later, True) for _, d_later in designated)
            return ir.Members(later, None if extra_later is None else (extra_later, extra_later), need, room)
        if extra_later is None or room == 0:
            return EMPTY if need == 0 else NEVER
        return repeat(extra_later, need, room)

    counts = list(range(1, cap + 1)) if counted else [0]
    at = {c: tail(c) for c in counts}  # members i.. after at least one member, per count
    opens: list[Node] = []  # member i opening the object, from the last one back
    first_required = None
    for i in range(len(members) - 1, -1, -1):
        first, later, required = members[i]
        opens.append(seq(first, at[norm(1)]))
        if required:
            first_required = i
        nxt = {}
        for c in counts:
            take = seq(later, at[norm(c + 1)]) if hi is None or c < hi else NEVER
            if not counted:
                nxt[c] = seq(ir.optional(later), at[c]) if not required else take
            else:
                nxt[c] = alt(take, at[c]) if not required else take
        at = nxt
    opens.reverse()
    if first_required is not None:
        opens = opens[: first_required + 1]
    elif designated:  # no required declared member: the designated and extra ones may open it
        if hi is None or hi >= len(designated):
            opens.append(ir.Members(tuple((d_first, d_later, True) for d_first, d_later in designated),
                                     None if extra is None else (extra, extra_later), lo, hi))  # type: ignore[arg-type]
    elif extra is not None:  # no declared member at all: the extras open the object
        room = None if hi is None else hi - 1
        opens.append(seq(extra, repeat(extra_later, max(lo - 1, 0), room)))  # type: ignore[arg-type]
    return alt(*opens)


def _number_literal(value: Any, zeros: Node) -> Node:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return seq(literal(str(value)), zeros)  # 1 == 1.0
    return literal(json.dumps(value))


def _partitions(items: list) -> list[list[list]]:
    """Every partition of ``items`` into non-empty groups (few items: Bell numbers)."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for smaller in _partitions(rest):
        out.append([[first], *smaller])
        for i in range(len(smaller)):
            out.append([*smaller[:i], [first, *smaller[i]], *smaller[i + 1:]])
    return out


def _declared(o: ObjectC) -> list[str]:
    """The keys an object's schema objects name (properties, then required), in order."""
    declared: dict[str, None] = {}
    for part in o.parts:
        for name, _ in part.properties:
            declared.setdefault(name, None)
    for name in o.required:
        declared.setdefault(name, None)
    return list(declared)


def _lcm_fraction(a: Fraction, b: Fraction) -> Fraction:
    """The least common multiple of two positive rationals (in lowest terms: lcm of the
    numerators over gcd of the denominators)."""
    num = a.numerator * b.numerator // math.gcd(a.numerator, b.numerator)
    return Fraction(num, math.gcd(a.denominator, b.denominator))


def _of_type(value: Any, t: str) -> bool:
    kind = json_type(value)
    return kind == t or (t == "number" and kind == "integer")


def value_model(value: Any, pointer: str) -> ModelNode:
    """A model accepting exactly ``value`` built from its structure (so that its complement is a
    structural one: "an object other than {\"a\": 1}" is "a missing, another key, or a not 1")."""
    if isinstance(value, list):
        items = tuple(fixed(value_model(v, pointer), pointer) for v in value)
        return Typed(frozenset({"array"}), array=ArrayC(items, fixed(NOTHING, pointer), len(value), len(value)),
                     pointer=pointer)
    if isinstance(value, dict):
        props = tuple((k, fixed(value_model(v, pointer), pointer)) for k, v in value.items())
        part = ObjectPart(props, (), fixed(NOTHING, pointer), pointer)
        return Typed(frozenset({"object"}), object=ObjectC((part,), tuple(value)), pointer=pointer)
    kind = json_type(value)
    types = frozenset({"number"} if kind == "integer" else {kind})
    return Typed(types, enum=(value,), pointer=pointer)


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


__all__ = ["Emitter", "escape"]
