"""JSON Schema enforcement: random walks over allowed tokens always end in valid JSON, real
instances are accepted, errors name the keyword and the pointer."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis_jsonschema import from_schema

from enforcer import SchemaError, TokenRejectedError, UnsupportedSchemaError, compile_json_schema

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in sorted((ROOT / "schemas").glob("*.schema.json"))}

INLINE = {
    "flat_types": {"type": "object", "properties": {"s": {"type": "string"}, "i": {"type": "integer"},
                   "n": {"type": "number"}, "b": {"type": "boolean"}, "z": {"type": "null"}},
                   "required": ["s", "i", "n", "b", "z"], "additionalProperties": False},
    "optional_props": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string", "maxLength": 5},
                       "c": {"type": "boolean"}}, "required": ["b"], "additionalProperties": False},
    "type_list": {"type": ["string", "integer", "null"], "maxLength": 4, "minimum": -5, "maximum": 5},
    "enum_mixed": {"enum": ["red", 1, None, True, {"k": [1, 2]}, ["x"], 2.5]},
    "const_object": {"const": {"name": "x", "tags": ["a", "b"], "n": 3}},
    "int_range": {"type": "integer", "minimum": -120, "maximum": 3045},
    "int_exclusive": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 100},
    "number_range": {"type": "number", "minimum": -2.5, "maximum": 1000.25},
    "multiple_of": {"type": "integer", "multipleOf": 7, "minimum": 0, "maximum": 1000},
    "string_bounds": {"type": "string", "minLength": 3, "maxLength": 12},
    "pattern_and_length": {"type": "string", "pattern": "^[A-Z]{2}-\\d+$", "maxLength": 7},
    "unicode_enum": {"enum": ["日本語", "émoji 🎉", "naïve", "\"quoted\"\n"]},
    "array_bounds": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "minItems": 2, "maxItems": 4},
    "prefix_items": {"type": "array", "prefixItems": [{"type": "string", "maxLength": 3}, {"type": "boolean"}],
                     "items": False},
    "prefix_then_items": {"type": "array", "prefixItems": [{"const": "head"}], "items": {"type": "integer"}, "maxItems": 3},
    "additional_schema": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"],
                          "additionalProperties": {"type": "string", "maxLength": 3}, "maxProperties": 3},
    "pattern_properties": {"type": "object", "patternProperties": {"^x-": {"type": "integer"}},
                           "additionalProperties": False, "maxProperties": 3},
    "property_names": {"type": "object", "propertyNames": {"pattern": "^[a-z]{1,4}$"},
                       "additionalProperties": {"type": "boolean"}, "maxProperties": 2},
    "min_properties": {"type": "object", "minProperties": 2, "maxProperties": 3,
                       "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 9}},
    "any_of_tools": {"anyOf": [
        {"type": "object", "properties": {"name": {"const": "get_weather"}, "arguments": {
            "type": "object", "properties": {"city": {"type": "string", "maxLength": 20}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"], "additionalProperties": False}}, "required": ["name", "arguments"], "additionalProperties": False},
        {"type": "object", "properties": {"name": {"const": "add"}, "arguments": {
            "type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"], "additionalProperties": False}}, "required": ["name", "arguments"], "additionalProperties": False}]},
    "one_of_tagged": {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number", "minimum": 0}},
         "required": ["kind", "r"], "additionalProperties": False},
        {"type": "object", "properties": {"kind": {"const": "square"}, "side": {"type": "integer", "minimum": 1}},
         "required": ["kind", "side"], "additionalProperties": False}]},
    "all_of_merge": {"allOf": [
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
        {"properties": {"b": {"type": "string", "maxLength": 3}}, "required": ["b"]},
        {"properties": {"a": {"minimum": 10, "maximum": 20}}}]},
    "recursive_tree": {"$defs": {"node": {"type": "object", "properties": {
        "v": {"type": "integer", "minimum": 0, "maximum": 99},
        "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}},
        "required": ["v"], "additionalProperties": False}}, "$ref": "#/$defs/node"},
    "recursive_root": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 4},
                       "child": {"$ref": "#"}}, "required": ["name"], "additionalProperties": False},
    "anchor_ref": {"$defs": {"c": {"$anchor": "color", "enum": ["r", "g", "b"]}},
                   "type": "array", "items": {"$ref": "#color"}, "maxItems": 3},
    "boolean_true": True,
    "empty_schema": {},
    "nested_free": {"type": "object", "properties": {"meta": {}}, "required": ["meta"], "additionalProperties": False},
    "formats": {"type": "object", "properties": {"d": {"type": "string", "format": "date"},
                "u": {"type": "string", "format": "uuid"}, "ip": {"type": "string", "format": "ipv4"}},
                "required": ["d", "u", "ip"], "additionalProperties": False},
    "ref_with_siblings": {"$defs": {"base": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
                          "$ref": "#/$defs/base", "properties": {"x": True, "y": {"type": "boolean"}}, "required": ["y"],
                          "additionalProperties": False},
}
CORPUS = {**SHIPPED, **INLINE}
STRUCTURAL = b'"}],:'
CLOSING = b"}]"


def validator(schema):
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


_TOKEN_CLASSES: dict[str, np.ndarray] = {}


def token_classes(vocab) -> np.ndarray:
    """Per token id: 2 if it closes a container, 1 if it has another structural byte, else 0."""
    found = _TOKEN_CLASSES.get(vocab.fingerprint)
    if found is None:
        pieces = [vocab.token_bytes(i) or b"" for i in range(vocab.size)]
        found = np.array([2 if any(c in p for c in CLOSING) else int(any(c in p for c in STRUCTURAL))
                          for p in pieces], dtype=np.int8)
        _TOKEN_CLASSES[vocab.fingerprint] = found
    return found


def walk(grammar, vocab, rng: random.Random, max_steps: int = 600) -> bytes:
    """Sample allowed tokens until EOS, preferring tokens that close structures so walks end."""
    classes = token_classes(vocab)
    matcher = grammar.matcher()
    bitmask = np.zeros((1, grammar.n_words), dtype=np.int32)
    out = b""
    for step in range(max_steps):
        allowed = matcher.allowed_token_ids()
        assert allowed, f"dead end after {out!r}"
        if step % 7 == 0:  # the three views of the mask agree
            matcher.fill_next_token_bitmask(bitmask)
            bits = np.unpackbits(bitmask[0].view(np.uint8), bitorder="little")[: vocab.size]
            assert np.flatnonzero(bits).tolist() == allowed
        eos = [t for t in allowed if t in vocab.eos_token_ids]
        assert bool(eos) == matcher.is_complete()
        others = [t for t in allowed if t not in vocab.eos_token_ids]
        if eos and (not others or rng.random() < 0.5):
            matcher.advance(rng.choice(eos))
            return out
        pool = others
        if rng.random() < min(0.95, 0.3 + step / 100):  # the longer the walk, the more it closes
            closing = [t for t in others if classes[t] == 2] if step > 40 else []
            pool = closing or [t for t in others if classes[t]] or others
        token = rng.choice(pool)
        matcher.advance(token)
        out += vocab.token_bytes(token)
    raise AssertionError(f"no EOS after {max_steps} tokens: {out[:300]!r}")


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_random_walks_produce_valid_json(name, llama3_vocab):
    schema = CORPUS[name]
    grammar = compile_json_schema(schema, llama3_vocab)
    check = validator(schema)
    rng = random.Random(name)
    for _ in range(6):
        text = walk(grammar, llama3_vocab, rng).decode("utf-8")
        value = json.loads(text)
        errors = [e.message for e in check.iter_errors(value)]
        assert not errors, f"{text!r}: {errors}"


@pytest.mark.parametrize("whitespace", ["flexible", 2])
@pytest.mark.parametrize("name", ["person", "recursive_tree", "any_of_tools", "additional_schema", "prefix_items", "const_object"])
def test_layouts_and_any_order(name, whitespace, llama3_vocab):
    schema = CORPUS[name]
    check = validator(schema)
    for order in ("schema", "any"):
        grammar = compile_json_schema(schema, llama3_vocab, whitespace=whitespace, property_order=order)
        rng = random.Random(f"{name}{whitespace}{order}")
        for _ in range(3):
            text = walk(grammar, llama3_vocab, rng, max_steps=1500).decode("utf-8")
            assert check.is_valid(json.loads(text)), text
            if isinstance(whitespace, int) and "\\" not in text:  # pretty-printed exactly as json.dumps
                dumped = json.dumps(json.loads(text), indent=whitespace, ensure_ascii=False)
                assert _numbers_blurred(text) == _numbers_blurred(dumped)


def _numbers_blurred(text: str) -> str:
    """Layout comparison ignores how numbers are spelled (-0, 1.50, 1e3)."""
    return re.sub(r"-?(\d+(\.\d+)?([eE][+-]?\d+)?|Infinity|NaN)", "0", text)


def accepted(grammar, tokenizer, text: str) -> bool:
    matcher = grammar.matcher()
    try:
        for token in tokenizer.encode(text, add_special_tokens=False):
            matcher.advance(token)
    except TokenRejectedError:
        return False
    return matcher.is_complete()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_instances_are_accepted(name, llama3_vocab, llama3_tokenizer):
    instances = json.loads((ROOT / "benchmarks" / "instances" / f"{name}.json").read_text())
    for order in ("schema", "any"):
        grammar = compile_json_schema(SHIPPED[name], llama3_vocab, property_order=order)
        for instance in instances:
            text = json.dumps(instance, separators=(",", ":"), ensure_ascii=False)
            if order == "any" or _in_schema_order(instance, SHIPPED[name]):
                assert accepted(grammar, llama3_tokenizer, text), text
    pretty = compile_json_schema(SHIPPED[name], llama3_vocab, whitespace=2, property_order="any")
    for instance in instances:
        assert accepted(pretty, llama3_tokenizer, json.dumps(instance, indent=2, ensure_ascii=False))


def _in_schema_order(instance, schema) -> bool:
    return True  # the shipped instances are written in declaration order


HYPOTHESIS_NAMES = ["flat_types", "optional_props", "type_list", "enum_mixed", "int_range", "number_range",
                    "string_bounds", "array_bounds", "prefix_items", "additional_schema", "any_of_tools",
                    "one_of_tagged", "person", "recipe", "support_ticket", "pattern_properties",
                    "min_properties", "unicode_enum", "const_object"]


@pytest.mark.parametrize("name", HYPOTHESIS_NAMES)
def test_hypothesis_instances_are_accepted(name, llama3_vocab, llama3_tokenizer):
    schema = CORPUS[name]
    grammar = compile_json_schema(schema, llama3_vocab, property_order="any")
    check_formats = validator(schema)  # hypothesis-jsonschema treats formats as annotations

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(from_schema(schema))
    def check(instance):
        # A bounded number is written in plain decimal with at most 16 fraction digits (the
        # grammar's choice: no exponent, no endless digits), so serialise floats that way.
        assume(_digits_within_bounds(instance))  # at most 19 integer and 16 fraction digits
        assume(check_formats.is_valid(instance))
        assume("--" not in json.dumps(instance))  # hostnames: "xn--" labels are refused on purpose
        text = json.dumps(_plain_floats(instance), separators=(",", ":"), ensure_ascii=False)
        text = re.sub(r'"__float__(-?[0-9.]+)"', r"\1", text)
        assert accepted(grammar, llama3_tokenizer, text), text

    check()


def _digits_within_bounds(value) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, float):
        return abs(value) < 10**19 and -Decimal(repr(value)).as_tuple().exponent <= 16
    if isinstance(value, int):
        return abs(value) < 10**19
    items = value.values() if isinstance(value, dict) else value
    return all(_digits_within_bounds(v) for v in items)


def _plain_floats(value):
    if isinstance(value, float) and not isinstance(value, bool):
        text = format(Decimal(repr(value)), "f")
        if "." in text:
            whole, frac = text.split(".")
            text = whole + ("." + frac[:16].rstrip("0") if frac[:16].rstrip("0") else "")
        return f"__float__{text}"
    if isinstance(value, dict):
        return {k: _plain_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_floats(v) for v in value]
    return value


@pytest.mark.parametrize("name", ["int_range", "string_bounds", "array_bounds", "pattern_and_length",
                                  "additional_schema", "enum_mixed", "any_of_tools"])
def test_invalid_instances_are_rejected(name, llama3_vocab, llama3_tokenizer):
    bad = {
        "int_range": [-121, 3046, 1.5, "1"], "string_bounds": ["ab", "x" * 13, 5],
        "array_bounds": [[1], [1, 2, 3, 4, 5], [1, 10]], "pattern_and_length": ["AB-12345", "ab-1", "AB-"],
        "additional_schema": [{"id": 1, "x": "long"}, {"x": "a"}, {"id": 1, "a": "", "b": "", "c": ""}],
        "enum_mixed": ["blue", 2, False, {"k": [1]}],
        "any_of_tools": [{"name": "add", "arguments": {"city": "x"}}, {"name": "get_weather", "arguments": {}}],
    }[name]
    grammar = compile_json_schema(CORPUS[name], llama3_vocab, property_order="any")
    for value in bad:
        assert not validator(CORPUS[name]).is_valid(value)
        assert not accepted(grammar, llama3_tokenizer, json.dumps(value, separators=(",", ":"))), value


def test_schema_inputs(llama3_vocab):
    text = json.dumps(INLINE["int_range"])
    assert compile_json_schema(text, llama3_vocab).matcher().allowed_token_ids()
    pydantic = pytest.importorskip("pydantic")

    class Point(pydantic.BaseModel):
        x: int
        y: int

    grammar = compile_json_schema(Point, llama3_vocab)
    text = walk(grammar, llama3_vocab, random.Random(0)).decode()
    Point.model_validate_json(text)


@pytest.mark.parametrize("schema, keyword, pointer", [
    ({"type": "object", "properties": {"a": {"not": {"type": "array", "uniqueItems": True}}}}, "uniqueItems",
     "#/properties/a/not"),
    ({"type": "array", "uniqueItems": True}, "uniqueItems", "#"),
    ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "uniqueItems", "#"),
    ({"$ref": "https://example.com/other.json"}, "$ref", "#"),
    ({"items": {"anyOf": [{"type": "string", "pattern": "(a)\\1"}]}}, "pattern", "#/items/anyOf/0"),
    ({"items": {"anyOf": [{"type": "string", "pattern": "(?<=a)b"}]}}, "pattern", "#/items/anyOf/0"),
])
def test_unsupported_keywords_name_keyword_and_pointer(schema, keyword, pointer, llama3_vocab):
    with pytest.raises(UnsupportedSchemaError) as info:
        compile_json_schema(schema, llama3_vocab)
    assert info.value.keyword == keyword and info.value.pointer == pointer
    assert keyword in str(info.value) and pointer in str(info.value)


def test_non_strict_enforces_a_superset_with_a_warning(llama3_vocab):
    schema = {"type": "array", "items": {"type": "string", "maxLength": 3}, "uniqueItems": True, "maxItems": 3}
    with pytest.warns(UserWarning, match="uniqueItems"):
        grammar = compile_json_schema(schema, llama3_vocab, strict=False)
    assert [(p, k) for p, k, _ in grammar.approximations] == [("#", "uniqueItems")]
    text = walk(grammar, llama3_vocab, random.Random(3)).decode()
    assert jsonschema.Draft202012Validator({k: v for k, v in schema.items() if k != "uniqueItems"}).is_valid(json.loads(text))


@pytest.mark.parametrize("schema, pointer", [
    ({"type": "strin"}, "#/type"),
    ({"properties": {"a": {"minimum": "x"}}}, "#/properties/a/minimum"),
    ({"required": "a"}, "#/required"),
    (42, "#"),
])
def test_invalid_schemas_raise_schema_error(schema, pointer, llama3_vocab):
    with pytest.raises(SchemaError) as info:
        compile_json_schema(schema, llama3_vocab)
    assert not isinstance(info.value, UnsupportedSchemaError)
    assert info.value.pointer == pointer


def test_unsatisfiable_schema_is_an_error(llama3_vocab):
    with pytest.raises(SchemaError, match="admits no"):
        compile_json_schema({"type": "integer", "minimum": 5, "maximum": 1}, llama3_vocab)
    # additionalProperties only sees its own schema object's properties: "a" is forbidden here
    gotcha = {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}],
              "additionalProperties": False, "type": "object"}
    with pytest.raises(SchemaError, match="admits no"):
        compile_json_schema(gotcha, llama3_vocab)


def test_eos_only_at_the_end(llama3_vocab, llama3_tokenizer):
    grammar = compile_json_schema({"type": "object", "properties": {"a": {"enum": [1, 2]}}, "required": ["a"],
                                   "additionalProperties": False}, llama3_vocab)
    matcher = grammar.matcher()
    for token in llama3_tokenizer.encode('{"a":1', add_special_tokens=False):
        assert not matcher.is_complete()
        matcher.advance(token)
    assert not matcher.is_complete()
    matcher.advance(llama3_tokenizer.convert_tokens_to_ids("}"))
    assert set(matcher.allowed_token_ids()) == {128001, 128008, 128009}
