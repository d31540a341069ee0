"""The vLLM adapter's request parsing and grammar cache: no vLLM needed, so they run in the main
suite too (the adapter's engine tests are in tests/vllm)."""

from __future__ import annotations

import json

import pytest

import enforcer
from enforcer.integrations.vllm.constraints import (Constraint, ConstraintError, GrammarCache,
                                                    parse_constraint, validate_constraint)

SCHEMA = {"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"}}, "required": ["b"]}


def test_requests_without_a_constraint_are_free():
    assert parse_constraint(None) is None
    assert parse_constraint({}) is None
    assert parse_constraint({"someone_elses_key": 1, "whitespace": "flexible"}) is None


def test_schema_as_dict_or_text_is_one_constraint_and_keeps_property_order():
    from_dict = parse_constraint({"json_schema": SCHEMA})
    from_text = parse_constraint({"json_schema": json.dumps(SCHEMA, indent=2)})
    assert from_dict == from_text and hash(from_dict) == hash(from_text)
    assert from_dict.text.index('"b"') < from_dict.text.index('"a"')  # declaration order is output order


def test_options_are_part_of_the_key():
    compact = parse_constraint({"json_schema": SCHEMA})
    flexible = parse_constraint({"json_schema": SCHEMA, "whitespace": "flexible"})
    assert compact != flexible and flexible.options == (("whitespace", "flexible"),)
    tools = parse_constraint({"tools": "[]", "tool_choice": {"type": "function", "function": {"name": "f"}}})
    hash(tools)  # an object-valued option is frozen for the cache key


@pytest.mark.parametrize("extra_args, message", [
    ({"json_schema": SCHEMA, "regex": "a"}, "2 constraints"),
    ({"regex": "a", "grammar": "root ::= \"a\""}, "2 constraints"),
    ({"json_schema": [1]}, "must be an object"),
    ({"json_schema": "{"}, "not valid JSON"),
    ({"tools": {"name": "f"}}, "must be a list"),
    ({"grammar": 3}, "'grammar' must be a string"),
    ({"regex": "a", "strict": False}, "do not apply to 'regex'"),
    ({"json_schema": SCHEMA, "start": "root"}, "do not apply to 'json_schema'"),
    ({"regex": "a", "tool_format": "hermes"}, "do not apply to 'regex'"),
])
def test_malformed_requests_are_rejected_with_the_reason(extra_args, message):
    with pytest.raises(ConstraintError, match=message):
        parse_constraint(extra_args)


def test_validation_compiles_without_the_model_vocabulary():
    assert validate_constraint({"json_schema": SCHEMA}).kind == "json_schema"
    with pytest.raises(ConstraintError, match=r"'minimum'"):
        validate_constraint({"json_schema": {"type": "integer", "minimum": "zero"}})
    with pytest.raises(ConstraintError, match="regex does not compile"):
        validate_constraint({"regex": "(a|b"})
    with pytest.raises(ConstraintError, match="'not'"):
        validate_constraint({"json_schema": {"not": {"type": "string"}}})
    assert isinstance(ConstraintError("x"), ValueError)  # vLLM turns ValueError into HTTP 400


def test_grammar_cache_compiles_once_and_evicts_least_recently_used(llama3_vocab):
    cache = GrammarCache(llama3_vocab, max_entries=2)
    a, b, c = (Constraint("regex", p) for p in ("a+", "b+", "c+"))
    first = cache.get(a)
    assert cache.get(Constraint("regex", "a+")) is first and cache.compiled == 1
    cache.get(b)
    cache.get(a)  # a is now the most recent
    cache.get(c)  # evicts b
    assert len(cache) == 2 and cache.compiled == 3
    cache.get(a)
    assert cache.compiled == 3
    cache.get(b)
    assert cache.compiled == 4


def test_tool_options_reach_compile_tools(monkeypatch, llama3_vocab):
    seen = {}

    def fake_compile_tools(tools, vocab, **options):
        seen.update(options, tools=tools)
        return enforcer.compile_regex("a", vocab)

    monkeypatch.setattr(enforcer, "compile_tools", fake_compile_tools, raising=False)
    choice = {"type": "function", "function": {"name": "f"}}
    constraint = parse_constraint({"tools": [{"type": "function", "function": {"name": "f"}}],
                                   "tool_choice": choice, "tool_format": "hermes", "parallel_tool_calls": True})
    constraint.compile(llama3_vocab)
    assert seen == {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": choice,
                    "format": "hermes", "parallel_tool_calls": True}
