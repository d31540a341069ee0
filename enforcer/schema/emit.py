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
  in any order each at most once (:class:`~enforcer.grammar.ir.AnyOrder`, whose states the
  engine builds as it reaches them). In schema order the members are a linear chain: any of the
  first members up to the first required one may open the object, each later one is optional
  unless required; a ``minProperties``/``maxProperties`` bound adds a count to the chain.
* Keys that are not declared (``additionalProperties``, ``patternProperties``) are a string
  language: not a declared name, within ``propertyNames``, and per combination of the patterns
  they match, the value schema of that combination.
* ``enum`` and ``const`` are the candidates the rest of the schema accepts (checked with the
  model, see :mod:`.validate`); scalar candidates form one lexeme (strings as a character trie).
"""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from decimal import Decimal
from typing import Any, Hashable

from ..errors import SchemaError, UnsupportedSchemaError
from ..grammar import ir
from ..grammar.ir import EMPTY, NEVER, Complement, Intersect, Node, alt, literal, repeat, seq
from ..grammar.regex import parse_regex
from ..limits import Limits
from . import numbers
from .formats import format_language
from .json_text import ANY_JSON_CHAR, Layout, encode_chars, json_char, quoted, string_body
from .model import (ALL_TYPES, AnyOf, NO_STRING, Node as ModelNode, Nothing, NumberC, ObjectC, StringC, Sub,
                    Typed, json_type, unique_values)
from .reader import Reader, escape
from .validate import Validator

_ZERO_FRACTION = ir.optional(seq(literal("."), repeat(literal("0"), 1, 16)))
_MAX_PATTERN_KEYS = 4
_ORDER = ("null", "boolean", "object", "array", "string", "number", "integer")


class Emitter:
    def __init__(self, reader: Reader, layout: Layout, *, property_order: str, limits: Limits,
                 is_empty: Any = None):
        self.reader = reader
        self.is_empty = is_empty  # decides intersections (string patterns with lengths...) now
        self.layout = layout
        self.property_order = property_order
        self.limits = limits
        self.validator = Validator(reader)
        self.rules: dict[Hashable, Node] = {}
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
        key = (tuple((id(p.schema), str(getattr(p.where.resolver, "_base_uri", ""))) for p in sub.parts), lead)
        pointer = sub.parts[0].where.pointer if sub.parts else "#"
        if self.layout.pretty:  # every subschema is a rule, used at relative depths
            entry = self._active.get(key)
            name = entry[0] if entry is not None else self._done.get(key)
            if name is None:
                name = self._rule_name(pointer, lead)
                self._active[key] = [name, False]
                try:
                    self.rules[name] = self.node(self.reader.read(sub), lead, 0)
                finally:
                    del self._active[key]
                self._done[key] = name  # type: ignore[assignment]
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
        scalars = layout.lexeme(lead, 0, alt(quoted(repeat(ANY_JSON_CHAR)), numbers.json_number(),
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
        if t == "null":
            return layout.lexeme(lead, depth, literal("null"))
        if t == "boolean":
            return layout.lexeme(lead, depth, alt(literal("true"), literal("false")))
        if t == "string":
            return layout.lexeme(lead, depth, quoted(self.string_body(n.string, n.pointer)))
        if t in ("number", "integer"):
            return layout.lexeme(lead, depth, self._number(t, n.number, n.pointer))
        if t == "array":
            return self._array(n, lead, depth)
        return self._object(n, lead, depth)

    # -- strings ------------------------------------------------------------------------------

    def string_body(self, s: StringC, pointer: str) -> Node:
        """The body of a string (between its quotes) under ``s``."""
        lo, hi = s.min_length, s.max_length
        _check_repeat(hi, "maxLength", pointer, self.limits)
        languages: list[Node] = [self._pattern(p, where) for p, where in s.patterns]
        for name in s.formats:
            language = format_body(name)
            if language is not None:  # unknown formats are annotations
                languages.append(language)
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
        try:
            return pattern_language(pattern)
        except SchemaError as exc:
            raise type(exc)(str(exc).split(": ", 1)[-1], pointer=pointer, keyword="pattern") from None

    # -- numbers ------------------------------------------------------------------------------

    def _number(self, t: str, c: NumberC, pointer: str) -> Node:
        lo = c.minimum[0] if c.minimum and not c.minimum[1] else None
        xlo = c.minimum[0] if c.minimum and c.minimum[1] else None
        hi = c.maximum[0] if c.maximum and not c.maximum[1] else None
        xhi = c.maximum[0] if c.maximum and c.maximum[1] else None
        multiple = None
        for m in c.multiples:
            if m != m.to_integral_value():
                self.reader.unsupported("multipleOf", pointer, "a non-integer multipleOf")
                continue
            multiple = int(m) if multiple is None else _lcm(multiple, int(m))
        if t == "integer" or multiple is not None:
            int_lo = _int_bound(lo, xlo, upper=False)
            int_hi = _int_bound(hi, xhi, upper=True)
            try:
                if multiple is not None and multiple != 1:
                    if multiple > self.limits.max_multiple_of * 10**6:
                        raise UnsupportedSchemaError(f"multipleOf {multiple} is too large", keyword="multipleOf")
                    digits = numbers.json_integer_multiple_of(multiple, int_lo, int_hi)
                else:
                    digits = numbers.json_integer(int_lo, int_hi)
            except SchemaError as exc:
                raise type(exc)(str(exc).split(": ", 1)[-1], pointer=pointer, keyword=exc.keyword) from None
            return seq(digits, _ZERO_FRACTION)  # 1.0 is an integer too
        return numbers.json_number(minimum=lo, maximum=hi, exclusive_minimum=xlo, exclusive_maximum=xhi)

    # -- arrays -------------------------------------------------------------------------------

    def _array(self, n: Typed, lead: str, depth: int) -> Node:
        a = n.array
        layout = self.layout
        lo, hi = a.min_items, a.max_items
        _check_repeat(hi, "maxItems", n.pointer, self.limits)
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

    # -- objects ------------------------------------------------------------------------------

    def _object(self, n: Typed, lead: str, depth: int) -> Node:
        o = n.object
        layout = self.layout
        pointer = n.pointer
        item_lead, colon_lead = layout.item_lead(), layout.colon_lead()
        names_node = None if o.names.is_true else self.reader.read(o.names)
        declared: dict[str, None] = {}
        for part in o.parts:
            for name, _ in part.properties:
                declared.setdefault(name, None)
        for name in o.required:
            declared.setdefault(name, None)
        members: list[tuple[Node, Node, bool]] = []  # (first, later, required)
        sep = layout.comma()
        for name in declared:
            required = name in o.required
            if names_node is not None and not self.validator.accepts(names_node, name):
                if required:
                    return NEVER
                continue
            value = self.value(self._member_sub(o, name), colon_lead, depth + 1)
            if isinstance(value, ir.Never):
                if required:
                    return NEVER
                continue
            first = seq(layout.lexeme(item_lead, depth + 1, quoted(string_body(name)), layout.colon()), value)
            members.append((first, seq(sep, first), required))
        extra = self._extra(o, list(declared), names_node, pointer, depth)
        lo, hi = o.min_properties, o.max_properties
        _check_repeat(hi, "maxProperties", pointer, self.limits)
        if self.property_order == "any" and members:
            body: Node = ir.AnyOrder(tuple(members), None if extra is None else (extra, seq(sep, extra)), lo, hi)
        else:
            body = _ordered(members, extra, sep, lo, hi, self.limits, pointer)
        allow_empty = lo == 0 and not o.required
        return layout.container(lead, depth, "{", "}", body, allow_empty)

    def _member_sub(self, o: ObjectC, name: str) -> Sub:
        """The conjunction of what each schema object says about the value of key ``name``."""
        out = Sub()
        for part in o.parts:
            declared = part.declared(name)
            subs = [declared] if declared is not None else []
            subs += [sub for p, sub in part.patterns if self.validator.key_matches(p, name)]
            if not subs:
                subs = [part.additional]
            for s in subs:
                out = out.meet(s)
        return out

    def _extra(self, o: ObjectC, declared: list[str], names_node: Any, pointer: str, depth: int) -> Node | None:
        """A member whose key is not declared, or ``None`` if none may come."""
        layout = self.layout
        patterns: list[tuple[str, Sub, int]] = []  # (pattern, sub, part index)
        for k, part in enumerate(o.parts):
            patterns.extend((p, sub, k) for p, sub in part.patterns)
        if len(patterns) > _MAX_PATTERN_KEYS:
            self.reader.unsupported("patternProperties", pointer,
                                    f"more than {_MAX_PATTERN_KEYS} patternProperties in one object")
            patterns = patterns[:_MAX_PATTERN_KEYS]
        base: list[Node] = [repeat(ANY_JSON_CHAR)]
        if declared:
            base.append(Complement(alt(*[string_body(name) for name in declared])))
        if names_node is not None:
            names = self._key_language(names_node)
            if isinstance(names, ir.Never):
                return None
            base.append(names)
        options = []
        for k in range(len(patterns) + 1):
            for chosen in itertools.combinations(range(len(patterns)), k):
                key_parts = list(base)
                for i, (p, _, _) in enumerate(patterns):
                    language = self._pattern(p, pointer)
                    key_parts.append(language if i in chosen else Complement(language))
                value_sub = Sub()
                for part_index, part in enumerate(o.parts):
                    mine = [patterns[i][1] for i in chosen if patterns[i][2] == part_index]
                    for s in (mine or [part.additional]):
                        value_sub = value_sub.meet(s)
                if value_sub.is_false:
                    continue
                value = self.value(value_sub, layout.colon_lead(), depth + 1)
                if isinstance(value, ir.Never):
                    continue
                key_body = key_parts[0] if len(key_parts) == 1 else Intersect(tuple(key_parts))
                if isinstance(key_body, Intersect) and self.is_empty is not None and self.is_empty(key_body):
                    continue
                key = layout.lexeme(layout.item_lead(), depth + 1, quoted(key_body))
                options.append(seq(key, ir.lexeme(layout.colon()), value))
        if not options:
            return None
        return alt(*options)

    def _key_language(self, node: ModelNode) -> Node:
        """The key bodies a ``propertyNames`` schema allows (keys are strings)."""
        if isinstance(node, Nothing):
            return NEVER
        if isinstance(node, AnyOf):
            return alt(*[self._key_language(o) for o in node.options])
        if "string" not in node.types:
            return NEVER
        if node.enum is not None:
            values = [v for v in node.enum if isinstance(v, str) and self.validator.accepts(node, v)]
            return _string_trie(values)
        return self.string_body(node.string, node.pointer)

    # -- enum and const -----------------------------------------------------------------------

    def _enum(self, n: Typed, lead: str, depth: int) -> Node:
        checker = Typed(n.types, n.string, n.number, n.array, n.object, None, n.pointer)
        values = [v for v in n.enum or () if self.validator.accepts(checker, v)]
        return self.constants(values, lead, depth)

    def constants(self, values: list[Any], lead: str, depth: int) -> Node:
        """Exactly these JSON values (strings in every escape spelling, numbers as written or,
        for integers, with a zero fraction)."""
        strings = [v for v in values if isinstance(v, str)]
        scalars: list[Node] = []
        if strings:
            scalars.append(quoted(_string_trie(strings)))
        for v in values:
            kind = json_type(v)
            if kind in ("null", "boolean"):
                scalars.append(literal(json.dumps(v)))
            elif kind in ("integer", "number"):
                scalars.append(_number_literal(v))
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
            body: Node = ir.AnyOrder(tuple(members), None, 0, None)
        else:
            body = seq(members[0][0], *[m[1] for m in members[1:]])
        return layout.container(lead, depth, "{", "}", body, False)


# -- helpers ----------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def format_body(name: str) -> Node | None:
    """The JSON string bodies of a ``format`` (kept: the same IR object for every schema)."""
    language = format_language(name)
    return None if language is None else encode_chars(language)


@lru_cache(maxsize=2048)
def pattern_language(pattern: str) -> Node:
    """The JSON string bodies a ``pattern`` allows (search semantics). Kept per pattern: the
    same IR object every time, so what is built from it (lowered expressions, emptiness
    answers) is found again for the next schema using the pattern."""
    return encode_chars(parse_regex(pattern, search=True))


def _ordered(members: list[tuple[Node, Node, bool]], extra: Node | None, sep: Node, lo: int, hi: int | None,
             limits: Limits, pointer: str) -> Node:
    """Non-empty member lists in schema order (optional members skippable), then extra members.

    Built from the end: after the first member, the rest is a chain (each optional member may
    be skipped); the first member is any of those up to the first required one. Linear in the
    members, times the count bound when ``minProperties``/``maxProperties`` need a count."""
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
    elif extra is not None:  # no declared member at all: the extras open the object
        room = None if hi is None else hi - 1
        opens.append(seq(extra, repeat(extra_later, max(lo - 1, 0), room)))  # type: ignore[arg-type]
    return alt(*opens)


def _string_trie(values: list[str]) -> Node:
    """The bodies of ``values`` as a character trie (shared prefixes once), built without
    recursion: long enums stay small and their derivatives follow one branch."""
    root: dict = {}
    for text in unique_values(values):
        node = root
        for ch in text:
            node = node.setdefault(ch, {})
        node[""] = None  # end marker
    # post-order over the trie with an explicit stack
    out: dict[int, Node] = {}
    stack: list[tuple[dict, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            stack.append((node, True))
            stack.extend((child, False) for ch, child in node.items() if ch)
            continue
        options: list[Node] = []
        if "" in node:
            options.append(EMPTY)
        for ch, child in node.items():
            if ch:
                options.append(seq(string_body(ch), out.pop(id(child))))
        out[id(node)] = alt(*options)
    return out[id(root)]


def _number_literal(value: Any) -> Node:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return seq(literal(str(value)), _ZERO_FRACTION)  # 1 == 1.0
    return literal(json.dumps(value))


def _lcm(a: int, b: int) -> int:
    import math

    return a * b // math.gcd(a, b)


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


def _check_repeat(value: int | None, keyword: str, pointer: str, limits: Limits) -> None:
    """Bounds above ``Limits.max_repeat`` count as unbounded only where that is exact; here a
    maximum that large changes nothing a model could write, so it is allowed (it is the counts
    of nested repetitions that cost, see the regex front end)."""
    return None


__all__ = ["Emitter", "escape"]
