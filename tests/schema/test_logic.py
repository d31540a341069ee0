"""The boolean keywords, exactly: ``not``, ``oneOf``, ``if``/``then``/``else``, dependencies,
``contains``, ``uniqueItems``, decimal ``multipleOf``, ``unevaluated*``, dynamic references.

Every instance is fed token by token (Llama 3 tokenizer) and must be accepted exactly when
``jsonschema`` says it is valid: no silent superset, and no valid value refused. Random walks
over the allowed tokens must end in values ``jsonschema`` accepts, in both property orders and
in the flexible and pretty layouts.
"""

from __future__ import annotations

import json
import random
import warnings
from decimal import Decimal

import jsonschema
import pytest

from enforcer import OptionError, UnsupportedSchemaError, compile_json_schema
from tests.schema.test_json_schema import accepted, walk

CASES: dict[str, tuple[dict, list]] = {
    "not_type": ({"not": {"type": ["string", "null"]}}, ["a", None, 1, 1.5, [], {}, True]),
    "not_required": ({"type": "object", "not": {"required": ["a", "b"]}},
                     [{}, {"a": 1}, {"b": 1}, {"a": 1, "b": 2}, {"b": 1, "a": 2, "c": 3}]),
    "not_enum_compound": ({"not": {"enum": ["a", 1, [1, 2], {"x": 1}]}},
                          ["a", "b", 1, 1.0, 2, [1, 2], [2, 1], [1], {"x": 1}, {"x": 2}, {"x": 1, "y": 1}, None]),
    "not_range": ({"type": "number", "not": {"minimum": 1, "maximum": 2}}, [0, 0.99, 1, 1.5, 2, 2.01, -3]),
    "not_integer": ({"type": "number", "not": {"type": "integer"}}, [1, 1.5, -0.25, 0, 3.0]),
    "not_multiple": ({"type": "integer", "not": {"multipleOf": 3}}, [0, 1, 2, 3, -3, -4, 12, 13]),
    "not_pattern": ({"type": "string", "not": {"pattern": "^a", "maxLength": 3}},
                    ["a", "abc", "abcd", "b", "", "ba"]),
    "not_format": ({"type": "string", "not": {"format": "date"}}, ["2020-01-01", "2020-13-01", "x"]),
    "not_items": ({"type": "array", "not": {"items": {"type": "integer"}}},
                  [[], [1], [1, 2], ["a"], [1, "a"], [1, 2, None]]),
    "not_prefix": ({"type": "array", "not": {"prefixItems": [{"const": 1}, {"type": "string"}]}},
                   [[], [1], [2], [1, "a"], [1, 2], [1, "a", 3]]),
    "not_pattern_properties": ({"type": "object", "properties": {"p": {"type": "integer"}},
                                "not": {"patternProperties": {"^a": {"type": "integer"}}}},
                               [{}, {"a": 1}, {"ab": "x"}, {"p": 1, "ab": "x"}, {"p": 1, "a": 1, "ac": "s"}]),
    "not_additional": ({"type": "object", "properties": {"a": {}}, "not": {"additionalProperties": False}},
                       [{}, {"a": 1}, {"b": 1}, {"a": 1, "c": 2}]),
    "not_property_names": ({"type": "object", "maxProperties": 2, "not": {"propertyNames": {"maxLength": 2}}},
                           [{}, {"ab": 1}, {"abc": 1}, {"a": 1, "abc": 2}]),
    "not_not": ({"not": {"not": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                [{}, {"a": "x"}, {"a": 1}, 3]),
    "one_of_overlap": ({"oneOf": [{"type": "integer"}, {"minimum": 2}]}, [1, 2, 3, 1.5, 2.5, "x", -1]),
    "one_of_required": ({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
                        [{}, {"a": 1}, {"b": 1}, {"a": 1, "b": 2}, 5]),
    "one_of_three": ({"type": "string", "oneOf": [{"minLength": 2}, {"maxLength": 4}, {"pattern": "x"}]},
                     ["", "a", "ab", "abcde", "x", "xx", "abcdx", "abx"]),
    "one_of_tagged_nested": ({"type": "object", "oneOf": [
        {"properties": {"k": {"const": "a"}, "v": {"oneOf": [{"type": "integer"}, {"minimum": 0}]}}, "required": ["k"]},
        {"properties": {"k": {"const": "b"}}, "required": ["k", "w"]}]},
        [{"k": "a"}, {"k": "a", "v": 1}, {"k": "a", "v": -1}, {"k": "a", "v": 0.5}, {"k": "b"}, {"k": "b", "w": 1}]),
    "if_then_else": ({"if": {"properties": {"k": {"const": "x"}}}, "then": {"required": ["y"]},
                      "else": {"required": ["z"]}},
                     [{"k": "x"}, {"k": "x", "y": 1}, {"k": "q"}, {"k": "q", "z": 1}, {}, {"z": 1}, 7]),
    "if_switch": ({"type": "object", "required": ["t"], "properties": {"t": {"enum": ["a", "b", "c"]}},
                   "allOf": [{"if": {"properties": {"t": {"const": c}}}, "then": {"required": [c * 2]}}
                             for c in "abc"]},
                  [{"t": "a"}, {"t": "a", "aa": 1}, {"t": "b", "aa": 1}, {"t": "c", "cc": 0}, {"t": "d", "dd": 1}]),
    "dependent_required": ({"dependentRequired": {"a": ["b", "c"], "b": ["d"]}},
                           [{}, {"a": 1}, {"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 1, "c": 1, "d": 1}, {"b": 1},
                            {"c": 1}]),
    "dependent_schemas": ({"dependentSchemas": {"a": {"properties": {"b": {"type": "integer"}}, "required": ["b"]}}},
                          [{}, {"a": 1}, {"a": 1, "b": 2}, {"a": 1, "b": "x"}, {"b": "x"}]),
    "dependencies_draft7": ({"$schema": "http://json-schema.org/draft-07/schema#",
                             "dependencies": {"a": ["b"], "c": {"not": {"required": ["d"]}}}},
                            [{}, {"a": 1}, {"a": 1, "b": 2}, {"c": 1}, {"c": 1, "d": 1}, {"d": 1}]),
    "contains": ({"type": "array", "contains": {"type": "string"}, "minContains": 2, "maxContains": 3},
                 [[], ["a"], ["a", "b"], [1, "a", 2, "b"], ["a", "b", "c", "d"], ["a", "b", "c"]]),
    "contains_with_items": ({"type": "array", "items": {"type": "integer"}, "contains": {"minimum": 5},
                             "maxItems": 3}, [[], [1], [5], [1, 6], [1, 2, 3], [7, 8, 9], [1, 2, 3, 7]]),
    "unique_enum": ({"type": "array", "items": {"enum": [1, "a", None, [1]]}, "uniqueItems": True},
                    [[], [1], [1, "a"], [1, 1], ["a", 1, None], [[1], [1]], [1, 1.0]]),
    "unique_booleans": ({"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 1},
                        [[], [True], [True, False], [False, False]]),
    "unique_small_range": ({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 3},
                            "uniqueItems": True}, [[], [0, 3], [3, 3], [0, 1, 2, 3], [4]]),
    "multiple_of_decimal": ({"type": "number", "multipleOf": 0.25},
                            [0, 0.25, 0.5, 1, 1.75, 0.1, -2.5, 1.3]),
    "multiple_of_bounded": ({"type": "number", "multipleOf": 2.5, "minimum": -5, "maximum": 10},
                            [-5, -2.5, 0, 2.5, 10, 12.5, 1, 7.5]),
    "multiple_of_both": ({"type": "number", "multipleOf": 0.5, "allOf": [{"multipleOf": 0.75}]},
                         [0, 0.5, 0.75, 1.5, 3, 2.25, 4.5]),
    "integer_decimal_step": ({"type": "integer", "multipleOf": 1.5}, [0, 1, 3, 6, 4.5, -3, 9]),
    "unevaluated_properties": ({"type": "object", "properties": {"a": {}},
                                "anyOf": [{"properties": {"b": {"type": "integer"}}},
                                          {"properties": {"c": {"type": "string"}}}],
                                "unevaluatedProperties": False},
                               [{}, {"a": 1}, {"b": 1}, {"c": "x"}, {"b": 1, "c": "x"}, {"b": "x", "c": "x"},
                                {"d": 1}, {"b": "x"}]),
    "unevaluated_if": ({"type": "object", "if": {"properties": {"k": {"const": 1}}, "required": ["k"]},
                        "then": {"properties": {"t": {}}}, "else": {"properties": {"e": {}}},
                        "unevaluatedProperties": False},
                       [{}, {"k": 1}, {"k": 1, "t": 1}, {"k": 1, "e": 1}, {"e": 1}, {"k": 2, "e": 1}, {"k": 2}]),
    "unevaluated_items": ({"type": "array", "prefixItems": [{"type": "string"}], "contains": {"const": 7},
                           "unevaluatedItems": {"type": "boolean"}},
                          [["a", 7], ["a", 7, True], ["a", True], ["a", 7, 1], [7], ["a", 7, 7, False]]),
    "dynamic_ref_single_anchor": ({"$defs": {"node": {"$dynamicAnchor": "node", "type": "object",
                                                      "properties": {"kid": {"$dynamicRef": "#node"}},
                                                      "additionalProperties": False}},
                                   "$ref": "#/$defs/node"},
                                  [{}, {"kid": {}}, {"kid": {"kid": {}}}, {"kid": 1}, {"x": 1}]),
    "no_schema_dependencies": ({"type": "object", "dependencies": {"a": ["b"]}}, [{"a": 1}, {"a": 1, "b": 1}]),
    "no_schema_items_array": ({"type": "array", "items": [{"type": "integer"}], "additionalItems": False},
                              [[], [1], ["a"], [1, 2]]),
}

# Without $schema a document is read as 2020-12, except "dependencies" and "items" as an array,
# read as draft-07 (which jsonschema does only when told): validate those with draft-07.
DRAFT7_READING = {"no_schema_dependencies", "no_schema_items_array"}


def _validator(name: str, schema: dict):
    cls = jsonschema.Draft7Validator if name in DRAFT7_READING else jsonschema.validators.validator_for(schema)
    # numbers may be parsed as Decimal (see the walks): 2.0 is an integer, as JSON Schema says
    integers = cls.TYPE_CHECKER.redefine("integer", lambda checker, x: (
        isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, (float, Decimal)) and x == int(x)))
    cls = jsonschema.validators.extend(cls, type_checker=integers)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.mark.parametrize("name", sorted(CASES))
def test_instances_accepted_exactly_when_valid(name, llama3_vocab, llama3_tokenizer):
    schema, instances = CASES[name]
    check = _validator(name, schema)
    grammar = compile_json_schema(schema, llama3_vocab, property_order="any")
    assert not grammar.approximations
    wrong = []
    for instance in instances:
        text = json.dumps(instance, separators=(",", ":"))
        if accepted(grammar, llama3_tokenizer, text) != check.is_valid(instance):
            wrong.append((text, check.is_valid(instance)))
    assert not wrong, wrong


# Random walks end slowly in unconstrained values (any JSON value, any string): these schemas
# bound what they leave free.
SMALL = {"type": ["integer", "string", "null"], "maxLength": 3}
WALKED = {
    "not_enum_compound": {"type": ["array", "object", "string"], "items": SMALL, "additionalProperties": SMALL,
                          "maxLength": 3, "propertyNames": {"maxLength": 3},
                          "not": {"enum": ["a", [1, 2], {"x": 1}]}},
    "not_pattern_properties": {"type": "object", "properties": {"p": {"type": "integer"}}, "maxProperties": 3,
                               "propertyNames": {"maxLength": 3}, "additionalProperties": SMALL,
                               "not": {"patternProperties": {"^a": {"type": "integer"}}}},
    "not_property_names": {"type": "object", "maxProperties": 2, "additionalProperties": {"type": "null"},
                           "propertyNames": {"maxLength": 5}, "not": {"propertyNames": {"maxLength": 2}}},
    "one_of_overlap": CASES["one_of_overlap"][0],
    "one_of_three": {**CASES["one_of_three"][0], "maxLength": 6},
    "one_of_tagged_nested": {**CASES["one_of_tagged_nested"][0], "additionalProperties": False,
                             "properties": {"k": True, "v": True, "w": {"type": "integer"}}},
    "if_switch": {**CASES["if_switch"][0], "properties": {"t": {"enum": ["a", "b", "c"]}, "aa": {"type": "integer"},
                                                          "bb": {"type": "integer"}, "cc": {"type": "integer"}},
                  "additionalProperties": False},
    "dependent_required": {**CASES["dependent_required"][0], "type": "object",
                           "properties": {k: {"type": "integer"} for k in "abcd"}, "additionalProperties": False},
    "dependencies_draft7": {**CASES["dependencies_draft7"][0], "type": "object",
                            "properties": {k: {"type": "integer"} for k in "abcd"}, "additionalProperties": False},
    "contains": {**CASES["contains"][0], "items": SMALL, "maxItems": 6},
    "contains_with_items": CASES["contains_with_items"][0],
    "unique_enum": CASES["unique_enum"][0],
    "multiple_of_bounded": CASES["multiple_of_bounded"][0],
    "unevaluated_properties": {**CASES["unevaluated_properties"][0], "properties": {"a": {"type": "integer"}}},
    "unevaluated_items": {**CASES["unevaluated_items"][0], "maxItems": 5, "prefixItems": [{"maxLength": 3}]},
    "not_not": {"type": "object", "additionalProperties": SMALL, "propertyNames": {"maxLength": 3},
                "not": {"not": {"properties": {"a": {"type": "string"}}}}},
    "not_multiple": CASES["not_multiple"][0],
}


@pytest.mark.parametrize("name", sorted(WALKED))
def test_random_walks_are_valid(name, llama3_vocab):
    schema = WALKED[name]
    check = _validator(name, json.loads(json.dumps(schema), parse_float=Decimal))
    for order, whitespace in (("schema", "compact"), ("any", "flexible"), ("schema", 2)):
        grammar = compile_json_schema(schema, llama3_vocab, property_order=order, whitespace=whitespace)
        rng = random.Random(f"{name}{order}{whitespace}")
        for _ in range(4):
            text = walk(grammar, llama3_vocab, rng, max_steps=1500).decode("utf-8")
            # numbers as decimals: a float would round 12345678901234567890.5 to an integer
            assert check.is_valid(json.loads(text, parse_float=Decimal)), (order, whitespace, text)


def test_schema_order_places_members_found_by_a_condition_anywhere(llama3_vocab, llama3_tokenizer):
    """A member that only meets an existential condition (here: some key matching ^a with a
    non-integer value) has no declared place: it may come before or after the other extras."""
    schema = {"type": "object", "properties": {"p": {}}, "not": {"patternProperties": {"^a": {"type": "integer"}}}}
    grammar = compile_json_schema(schema, llama3_vocab, property_order="schema")
    for text in ('{"p":1,"ab":"x","a":1}', '{"p":1,"a":1,"ab":"x"}', '{"ab":"x"}', '{"a":1,"ab":"x"}'):
        assert accepted(grammar, llama3_tokenizer, text), text
    assert not accepted(grammar, llama3_tokenizer, '{"p":1,"a":1}')


@pytest.mark.parametrize("schema, keyword, pointer", [
    ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "uniqueItems", "#"),
    ({"properties": {"a": {"not": {"type": "array", "uniqueItems": True}}}}, "uniqueItems", "#/properties/a/not"),
    ({"$defs": {"a": {"$dynamicAnchor": "x"}, "b": {"$dynamicAnchor": "x"}}, "$dynamicRef": "#x"}, "$dynamicRef",
     "#"),
    ({"type": "string", "pattern": "(?<=a)b"}, "pattern", "#"),
])
def test_what_cannot_be_exact_is_refused_with_its_pointer(schema, keyword, pointer, llama3_vocab):
    with pytest.raises(UnsupportedSchemaError) as info:
        compile_json_schema(schema, llama3_vocab)
    assert info.value.keyword == keyword and info.value.pointer == pointer
    if keyword != "pattern":  # strict=False: a recorded superset
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grammar = compile_json_schema(schema, llama3_vocab, strict=False)
        assert [(p, k) for p, k, _ in grammar.approximations] == [(pointer, keyword)]


def test_number_options(llama3_vocab, llama3_tokenizer):
    canonical = compile_json_schema({"type": "integer"}, llama3_vocab, canonical_integers=True)
    assert [accepted(canonical, llama3_tokenizer, t) for t in ("12", "0", "-3", "1.0", "-0")] == [
        True, True, True, False, False]
    default = compile_json_schema({"type": "integer"}, llama3_vocab)
    assert accepted(default, llama3_tokenizer, "1.0") and accepted(default, llama3_tokenizer, "-0")
    short = compile_json_schema({"type": "number"}, llama3_vocab, max_integer_digits=3, max_fraction_digits=2,
                                max_exponent_digits=1)
    assert [accepted(short, llama3_tokenizer, t) for t in ("123.45", "1234", "1.234", "1e9", "1e10")] == [
        True, False, False, True, False]
    for bad in ({"max_integer_digits": 0}, {"max_fraction_digits": -1}, {"canonical_integers": "yes"}):
        with pytest.raises(OptionError):
            compile_json_schema({"type": "number"}, llama3_vocab, **bad)
