"""Boolean combinations of schemas in the model: ``not``, an exact ``oneOf``, ``if``/``then``/
``else`` and property dependencies.

Why in the model and not on JSON text: the complement of a schema's *texts* is wrong as soon as
one value has several texts (``1``, ``1.0`` and ``1e0``; ``{"a":1,"b":2}`` and ``{"b":2,"a":1}``
in schema order): a text of a value the schema accepts, missing from its grammar, would pass
``not``. In the model every keyword is about values, so the complement is exact, and it stays
lazy: the complement of a subschema is a :class:`~.model.Neg` part, read when the emitter
reaches it, so a recursive schema can be negated like any other and no regular "view" of a
subschema is ever built. What the records cannot say about values (the complement of
``uniqueItems`` over an unbounded domain) is refused with its keyword and pointer.

:func:`Logic.negate` is De Morgan over the typed records: a value is not valid under a
:class:`~.model.Typed` when its type is not allowed, or when one keyword about its type fails.
Universal keywords (``items``, ``properties``, ``additionalProperties``...) fail through one
member, so their complements are existential (:class:`~.model.Contains`,
:class:`~.model.Exists`); existential ones fail through a universal.

Everything ends as an ``anyOf`` of conjunctions, so its size is watched: alternatives that
cannot hold (two different constants for one required key, a required key that is forbidden,
an enum emptied by its types) are dropped as they appear (:meth:`Logic.prune`), alternatives
that another one covers are absorbed, and the rest is bounded by ``Limits.max_disjuncts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import (ALL_TYPES, ANY, NO_ARRAY, NO_NUMBER, NO_OBJECT, NO_STRING, NOTHING, TRUE, AnyOf, ArrayC,
                    Contains, Exists, Node, NumberC, ObjectC, ObjectPart, StringC, Sub, Typed, any_of, canonical,
                    fixed, negated)

if TYPE_CHECKING:
    from .reader import Reader

_STRING = frozenset({"string"})
_NOT_NUMBER = frozenset({"null", "boolean", "object", "array", "string"})


class Logic:
    """The boolean operations of one reader (they read subschemas through it)."""

    def __init__(self, reader: "Reader"):
        self.reader = reader
        self._impossible: dict[int, tuple[ObjectC, bool]] = {}  # see _impossible_object

    def meet(self, a: Node, b: Node, pointer: str, keyword: str) -> Node:
        """``a`` and ``b``, pruned."""
        return self.any_of([self.reader.meet(a, b, pointer, keyword)])

    # -- not --------------------------------------------------------------------------------

    def negate(self, node: Node, pointer: str) -> Node:
        """The values ``node`` does not accept."""
        if isinstance(node, AnyOf):
            return self._negate_any(node.options, pointer)
        if not isinstance(node, Typed):
            return ANY
        if node.unconstrained:
            return NOTHING
        t = node
        where = t.pointer
        options: list[Node] = []
        types = t.types
        others = _NOT_NUMBER - types
        if "number" not in types and "integer" not in types:
            others = others | {"number"}
        if others:
            options.append(Typed(frozenset(others), pointer=where))
        if "integer" in types and "number" not in types:
            options.append(Typed(frozenset({"number"}), number=NumberC(fraction=True), pointer=where))
        if t.enum is not None:
            checker = Typed(t.types, t.string, t.number, t.array, t.object, None, t.pointer, t.excluded)
            valid = tuple(v for v in t.enum if self.reader.validator.accepts(checker, v))
            return Typed(ALL_TYPES, pointer=where, excluded=valid) if valid else ANY
        if t.excluded:
            options.append(Typed(types, enum=t.excluded, pointer=where))
        if "string" in types and t.string is not NO_STRING:
            options.extend(Typed(_STRING, string=s, pointer=where) for s in _not_string(t.string))
        numeric = "number" in types or "integer" in types
        if numeric and t.number is not NO_NUMBER:
            kind = frozenset({"number"}) if "number" in types else frozenset({"integer"})
            for n in _not_number(t.number):
                options.append(Typed(frozenset({"integer"}), pointer=where) if n is None
                               else Typed(kind, number=n, pointer=where))
        if "array" in types and t.array is not NO_ARRAY:
            options.extend(Typed(frozenset({"array"}), array=a, pointer=where) for a in self._not_array(t.array, where))
        if "object" in types and t.object is not NO_OBJECT:
            options.extend(Typed(frozenset({"object"}), object=o, pointer=where)
                           for o in self._not_object(t.object, where))
        return self.any_of(options)

    def _negate_any(self, options: tuple[Node, ...], pointer: str) -> Node:
        """No option holds: per JSON type, the complements of only the options of that type
        (tagged unions of objects then cost the sum of their branches, not the product), and
        among objects told apart by the constant of a required key, per constant."""
        by_options: dict[tuple[int, ...], list[str]] = {}
        for kind in ("null", "boolean", "object", "array", "string", "integer", "number"):
            held = tuple(i for i, o in enumerate(options) if restrict(o, frozenset({kind})) is not NOTHING)
            by_options.setdefault(held, []).append(kind)
        terms: list[Node] = []
        for held, kinds in by_options.items():
            types = frozenset(kinds)
            if not held:
                terms.append(restrict(ANY, types))
                continue
            parts = [restrict(options[i], types) for i in held]
            split = self._by_constant(parts, pointer) if types == {"object"} else None
            if split is not None:
                terms.append(split)
                continue
            result: Node = restrict(ANY, types)
            for part in parts:
                result = self.meet(result, self.negate(part, pointer), pointer, "not")
            terms.append(result)
        return self.any_of(terms)

    def _by_constant(self, parts: list[Node], pointer: str) -> Node | None:
        """Objects valid under none of ``parts`` when every part requires one key ``name`` with
        its own constants (a tagged union): the key missing or with another constant, or with
        the constants of one part and not valid under it. ``None`` when there is no such key."""
        if len(parts) < 2 or not all(isinstance(p, Typed) and p.object is not NO_OBJECT for p in parts):
            return None
        first = parts[0]
        assert isinstance(first, Typed)
        for name in first.object.required:
            values: list[tuple[Any, ...]] = []
            for p in parts:
                assert isinstance(p, Typed)
                if name not in p.object.required:
                    break
                node = self.reader.peek(self.member_sub(p.object, name))
                if not isinstance(node, Typed) or node.enum is None:
                    break
                values.append(node.enum)
            else:
                keys = [canonical(v) for e in values for v in e]
                if len(keys) != len(set(keys)):
                    continue  # the constants overlap: not a tag
                tagged = []
                for p, enum in zip(parts, values):
                    tag = Typed(frozenset({"object"}), object=ObjectC(
                        parts=(ObjectPart(properties=((name, fixed(Typed(enum=enum), pointer)),), pointer=pointer),),
                        required=(name,)), pointer=pointer)
                    tagged.append(self.meet(tag, self.negate(p, pointer), pointer, "not"))
                missing = Typed(frozenset({"object"}), object=ObjectC(parts=(ObjectPart(
                    properties=((name, fixed(NOTHING, pointer)),), pointer=pointer),)), pointer=pointer)
                other = Typed(frozenset({"object"}), object=ObjectC(parts=(ObjectPart(
                    properties=((name, fixed(Typed(excluded=tuple(v for e in values for v in e)), pointer)),),
                    pointer=pointer),), required=(name,)), pointer=pointer)
                return self.any_of([missing, other, *tagged])
        return None

    def _not_array(self, a: ArrayC, pointer: str) -> list[ArrayC]:
        out = []
        if a.min_items > 0:
            out.append(ArrayC(max_items=a.min_items - 1))
        if a.max_items is not None:
            out.append(ArrayC(min_items=a.max_items + 1))
        for i, p in enumerate(a.prefix):
            if not p.is_true:
                out.append(ArrayC(prefix=(TRUE,) * i + (negated(p),), min_items=i + 1))
        if a.items.is_false:
            out.append(ArrayC(min_items=len(a.prefix) + 1))
        elif not a.items.is_true:
            out.append(ArrayC(contains=(Contains(negated(a.items), 1, None, len(a.prefix), pointer),)))
        for c in a.contains:
            if c.min > 0:
                out.append(ArrayC(contains=(Contains(c.sub, 0, c.min - 1, c.start, c.pointer),)))
            if c.max is not None:
                out.append(ArrayC(contains=(Contains(c.sub, c.max + 1, None, c.start, c.pointer),)))
        if a.unique:
            self.reader.unsupported("uniqueItems", a.pointer, "the complement of uniqueItems (an array with a repeated "
                                    "item)")
            out.append(ArrayC())  # strict=False: any array (a superset)
        return out

    def _not_object(self, o: ObjectC, pointer: str) -> list[ObjectC]:
        out = []
        if o.min_properties > 0:
            out.append(ObjectC(max_properties=o.min_properties - 1))
        if o.max_properties is not None:
            out.append(ObjectC(min_properties=o.max_properties + 1))
        for name in o.required:
            out.append(ObjectC(parts=(ObjectPart(properties=((name, fixed(NOTHING, pointer)),), pointer=pointer),)))
        if not o.names.is_true:
            keys = self.meet(Typed(_STRING), self.negate(self.reader.read(o.names), pointer), pointer, "not")
            out.append(ObjectC(exists=(Exists(keys, TRUE, pointer),)))
        for part in o.parts:
            declared = tuple(name for name, _ in part.properties)
            for name, sub in part.properties:
                value = self.member_value(part, name, sub)
                if not value.is_true:
                    out.append(ObjectC(parts=(ObjectPart(properties=((name, negated(value)),), pointer=part.pointer),),
                                       required=(name,)))
            classes: list[Node] = []
            for pattern, sub in part.patterns:
                keys = key_class(pattern, part.pointer)
                classes.append(keys)
                if not sub.is_true:
                    keys = self.meet(keys, Typed(_STRING, excluded=declared), part.pointer, "not")
                    out.append(ObjectC(exists=(Exists(keys, negated(sub), part.pointer),)))
            if not part.additional.is_true:
                keys: Node = Typed(_STRING, excluded=declared)
                for c in classes:
                    keys = self.meet(keys, self.negate(c, part.pointer), part.pointer, "not")
                keys = self.meet(keys, Typed(_STRING), part.pointer, "not")
                out.append(ObjectC(exists=(Exists(keys, negated(part.additional), part.pointer),)))
        for e in o.exists:  # no member of the class has such a value
            out.append(ObjectC(parts=(ObjectPart(patterns=((e.key, negated(e.value)),), pointer=e.pointer),)))
        return out

    def member_value(self, part: ObjectPart, name: str, declared: Sub | None) -> Sub:
        """What ``part`` says about the value of key ``name``: its declared schema and the
        schemas of the patterns it matches, else ``additionalProperties``."""
        subs = [declared] if declared is not None else []
        subs += [sub for p, sub in part.patterns if self.key_in(p, name)]
        if not subs:
            return part.additional
        out = Sub()
        for s in subs:
            out = out.meet(s)
        return out

    def member_sub(self, o: ObjectC, name: str) -> Sub:
        """The conjunction of what each schema object says about the value of key ``name``."""
        out = Sub()
        for part in o.parts:
            out = out.meet(self.member_value(part, name, part.declared(name)))
        return out

    def key_in(self, pattern: "str | Node", name: str) -> bool:
        if isinstance(pattern, str):
            return self.reader.validator.key_matches(pattern, name)
        return self.reader.validator.accepts(pattern, name)

    # -- oneOf, if/then/else, dependencies --------------------------------------------------

    def one_of(self, context: Node, branches: list[Node], pointer: str) -> Node:
        """Values valid under exactly one branch (and ``context``): branch ``i`` and the
        complement of every other branch that can overlap it there."""
        meet = self.meet
        within = [meet(context, b, pointer, "oneOf") for b in branches]
        terms: list[Node] = []
        for i, term in enumerate(within):
            for j, other in enumerate(branches):
                if j == i or term is NOTHING or within[j] is NOTHING:
                    continue
                both = meet(within[i], within[j], pointer, "oneOf")
                if both is NOTHING:
                    continue  # disjoint here: no need to exclude the other branch
                # exclude the other branch only for the types where the two may overlap
                overlap = _types_of(both)
                apart = restrict(term, _expand(ALL_TYPES) - overlap)
                term = self.any_of([apart, meet(restrict(term, overlap), self.negate(other, pointer), pointer,
                                                "oneOf")])
            terms.append(term)
        return self.any_of(terms)

    def any_of_exactly(self, context: Node, branches: list[Node], pointer: str) -> Node:
        """``anyOf`` as disjoint alternatives, one per set of branches that hold (the others'
        complements beside them), so that each alternative knows which branches evaluated the
        value (``unevaluated*``)."""
        n = len(branches)
        if n > 8:
            self.reader.unsupported("anyOf", pointer, f"an anyOf of {n} branches under unevaluated* "
                                    "(what it evaluates depends on which of its 2^n combinations hold)",
                                    "cannot be enforced exactly")
            return self.meet(context, any_of(branches), pointer, "anyOf")
        negatives: dict[int, Node] = {}
        terms: list[Node] = []
        for mask in range(1, 1 << n):
            term = context
            for i in range(n):
                if term is NOTHING:
                    break
                if mask >> i & 1:
                    term = self.meet(term, branches[i], pointer, "anyOf")
                else:
                    if i not in negatives:
                        negatives[i] = self.negate(branches[i], pointer)
                    term = self.meet(term, negatives[i], pointer, "anyOf")
            terms.append(term)
        return self.any_of(terms)

    def unevaluated(self, node: Node, sub: Sub, keyword: str, pointer: str) -> Node:
        """``unevaluatedProperties``/``unevaluatedItems`` with ``sub``: per alternative, the keys
        (items) none of its schema objects evaluates must be valid under ``sub`` (their
        alternatives are disjoint by which subschemas hold, see :meth:`any_of_exactly`)."""
        options = node.options if isinstance(node, AnyOf) else (node,)
        out: list[Node] = []
        for t in options:
            if not isinstance(t, Typed):
                out.append(t)
                continue
            if keyword == "unevaluatedProperties":
                if "object" not in t.types:
                    out.append(t)
                    continue
                parts = [p for p in t.object.parts if p.annotates]
                if any(p.additional_given for p in parts):
                    out.append(t)
                    continue
                names = tuple(dict.fromkeys(n for p in parts for n, _ in p.properties))
                patterns = tuple(dict.fromkeys(pat for p in parts for pat, _ in p.patterns))
                part = ObjectPart(tuple((n, TRUE) for n in names), tuple((pat, TRUE) for pat in patterns), sub,
                                  pointer, True, True)
                out.append(self.reader.meet(t, Typed(object=ObjectC(parts=(part,)), pointer=pointer), pointer, keyword))
            else:
                if "array" not in t.types or t.array.evaluated is None:
                    out.append(t)
                    continue
                matches = [c.sub for c in t.array.contains if c.annotates]
                allowed = sub
                if matches:  # unevaluated, or matched by a contains
                    allowed = negated(Sub(tuple(p for s in [sub, *matches] for p in negated(s).parts)))
                first = t.array.evaluated
                array = ArrayC(prefix=(TRUE,) * first, items=allowed, evaluated=None)
                out.append(self.reader.meet(t, Typed(array=array, pointer=pointer), pointer, keyword))
        return self.any_of(out)

    def conditional(self, condition: Node, then: Node, otherwise: Node, pointer: str) -> Node:
        """``if``/``then``/``else``: the condition and ``then``, or its complement and ``else``."""
        meet = self.meet
        return self.any_of([meet(condition, then, pointer, "then"),
                            meet(self.negate(condition, pointer), otherwise, pointer, "else")])

    def dependent(self, name: str, then: Node, pointer: str, keyword: str) -> Node:
        """Objects without key ``name``, or with it and valid under ``then`` (other values pass)."""
        absent = Typed(object=ObjectC(parts=(ObjectPart(properties=((name, fixed(NOTHING, pointer)),),
                                                         pointer=pointer),)), pointer=pointer)
        present = Typed(object=ObjectC(required=(name,)), pointer=pointer)
        return self.any_of([absent, self.meet(present, then, pointer, keyword)])

    # -- anyOf, pruned ------------------------------------------------------------------------

    def any_of(self, options: list[Node]) -> Node:
        """``anyOf`` with alternatives that cannot hold dropped and covered ones absorbed."""
        kept: list[Node] = []
        plain: set[str] = set()  # types some alternative allows without any other constraint
        for option in options:
            for o in option.options if isinstance(option, AnyOf) else (option,):
                o = self.prune(o)
                if o is NOTHING:
                    continue
                if isinstance(o, Typed) and _only_types(o):
                    plain |= _expand(o.types)
                    continue
                kept.append(o)
        if "number" in plain:
            plain.discard("integer")
        out: list[Node] = []
        if plain:
            out.append(ANY if frozenset(plain) == ALL_TYPES else Typed(frozenset(plain)))
            kept = [o for o in kept if not (isinstance(o, Typed) and _expand(o.types) <= _expand(frozenset(plain)))]
        return any_of(out + kept)

    def prune(self, node: Node) -> Node:
        """``node`` without the types it provably cannot hold a value of (see the module
        docstring); ``NOTHING`` if none is left."""
        if not isinstance(node, Typed) or node.unconstrained:
            return node
        t = node
        if t.empty:
            return NOTHING
        if "object" in t.types and t.object is not NO_OBJECT and self._impossible_object(t.object):
            types = t.types - {"object"}
            if not types:
                return NOTHING
            return Typed(types, t.string, t.number, t.array, NO_OBJECT, t.enum, t.pointer, t.excluded)
        return t

    def _impossible_object(self, o: ObjectC) -> bool:
        """Kept per object: an ``anyOf`` is pruned again each time it meets something, and on
        large schemas (yippee-ki-json) the same objects came back three or four times each, a
        conjunction read per required key every time. A verdict reached while some schema was
        still being read (``peek`` gave up) is not kept: it may change once that one is read."""
        found = self._impossible.get(id(o))
        if found is not None and found[0] is o:
            return found[1]
        if o.max_properties is not None and (len(o.required) > o.max_properties or o.min_properties > o.max_properties):
            return True
        verdict, settled = False, True
        for name in o.required:
            sub = self.member_sub(o, name)
            if sub.is_false:
                verdict = True
                break
            if len(sub.parts) > 1:  # only a conjunction can contradict itself
                value = self.reader.peek(sub)
                if value is NOTHING:
                    verdict = True
                    break
                settled = settled and value is not None
        if settled:
            self._impossible[id(o)] = (o, verdict)
        return verdict


def _types_of(node: Node) -> frozenset[str]:
    """The JSON types ``node`` may hold a value of (``integer`` listed with ``number``)."""
    if isinstance(node, AnyOf):
        out: frozenset[str] = frozenset()
        for o in node.options:
            out |= _types_of(o)
        return out
    if isinstance(node, Typed):
        return _expand(node.types)
    return frozenset()


def restrict(node: Node, types: frozenset[str]) -> Node:
    """``node`` for values of ``types`` only (``types`` lists ``integer`` with ``number``)."""
    if isinstance(node, AnyOf):
        return any_of([restrict(o, types) for o in node.options])
    if not isinstance(node, Typed):
        return node
    kept = _expand(node.types) & types
    if not kept:
        return NOTHING
    t = node
    number = t.number
    if "number" in kept and "integer" not in kept:  # numbers but not integers
        number = NumberC(fraction=True) if number is NO_NUMBER else number.meet(NumberC(fraction=True))
    if "number" in kept:
        kept = kept - {"integer"}
    if kept == node.types and number is t.number:
        return node
    return Typed(frozenset(kept), t.string, number, t.array, t.object, t.enum, t.pointer, t.excluded)


def key_class(pattern: "str | Node", pointer: str) -> Node:
    """The keys a ``patternProperties`` entry (a regex or a key class) is about."""
    if isinstance(pattern, str):
        return Typed(_STRING, string=StringC(patterns=((pattern, pointer),)), pointer=pointer)
    return pattern


def _not_string(s: StringC) -> list[StringC]:
    out = []
    if s.min_length > 0:
        out.append(StringC(max_length=s.min_length - 1))
    if s.max_length is not None:
        out.append(StringC(min_length=s.max_length + 1))
    out.extend(StringC(not_patterns=(p,)) for p in s.patterns)
    out.extend(StringC(not_formats=(f,)) for f in s.formats)
    out.extend(StringC(patterns=(p,)) for p in s.not_patterns)
    out.extend(StringC(formats=(f,)) for f in s.not_formats)
    return out


def _not_number(n: NumberC) -> list[NumberC | None]:
    """The complements of a number record's keywords; ``None`` stands for "an integer" (the
    complement of "not an integer")."""
    out: list[NumberC | None] = []
    if n.minimum is not None:
        out.append(NumberC(maximum=(n.minimum[0], not n.minimum[1])))
    if n.maximum is not None:
        out.append(NumberC(minimum=(n.maximum[0], not n.maximum[1])))
    out.extend(NumberC(not_multiples=(m,)) for m in n.multiples)
    out.extend(NumberC(multiples=(m,)) for m in n.not_multiples)
    if n.fraction:
        out.append(None)
    return out


def _only_types(t: Typed) -> bool:
    return (t.enum is None and not t.excluded and t.string is NO_STRING and t.number is NO_NUMBER
            and t.array is NO_ARRAY and t.object is NO_OBJECT)


def _expand(types: frozenset[str]) -> frozenset[str]:
    return types | {"integer"} if "number" in types else types


__all__ = ["Logic", "key_class"]
