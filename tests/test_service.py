"""The request layer (enforcer.service): parsing a request's constraint, validating it against the
real vocabulary, the grammar cache, and the one failure policy (fail closed: EOS only, logged).
No framework needed; the adapters' own tests are in tests/integrations and tests/vllm."""

from __future__ import annotations

import json
import logging
import random

import numpy as np
import pytest

import enforcer
from enforcer import EnforcerError, SchemaError
from enforcer.service import (Constraint, ConstraintError, ConstraintService, GrammarCache, GuardedMatcher,
                              parse_constraint, validate_constraint)

from .conftest import LLAMA3_EOS

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
    ({"choice": []}, "at least one"),
    ({"choice": ["a", 3]}, "strings"),
    ({"choice": "yes"}, "must be a list"),
    ({"choice": ["a"], "whitespace": "flexible"}, "do not apply to 'choice'"),
    ({"regex": "a", "choice": ["a"]}, "2 constraints"),
    ([("regex", "a")], "must be a mapping"),
])
def test_malformed_requests_are_rejected_with_the_reason(extra_args, message):
    with pytest.raises(ConstraintError, match=message) as caught:
        parse_constraint(extra_args)
    assert isinstance(caught.value, EnforcerError) and isinstance(caught.value, ValueError)


def test_validation_compiles_without_the_model_vocabulary():
    assert validate_constraint({"json_schema": SCHEMA}).kind == "json_schema"
    with pytest.raises(ConstraintError, match=r"'minimum'"):
        validate_constraint({"json_schema": {"type": "integer", "minimum": "zero"}})
    with pytest.raises(ConstraintError, match="regex does not compile"):
        validate_constraint({"regex": "(a|b"})
    with pytest.raises(ConstraintError, match="'uniqueItems'"):
        validate_constraint({"json_schema": {"type": "array", "uniqueItems": True}})
    assert isinstance(ConstraintError("x"), ValueError)  # vLLM turns ValueError into HTTP 400
    assert isinstance(ConstraintError("x"), EnforcerError)
    with pytest.raises(ConstraintError) as caught:
        validate_constraint({"json_schema": {"type": "object", "properties": {"a": {"minimum": "zero"}}}})
    assert caught.value.keyword == "minimum" and caught.value.pointer == "#/properties/a/minimum"
    assert isinstance(caught.value.__cause__, SchemaError)


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


def test_grammar_cache_is_bounded_in_bytes(llama3_vocab):
    """Grammars grow as their masks are computed; the cache forgets the oldest once they hold
    more than max_bytes in all, and keeps the newest whatever its size."""
    cache = GrammarCache(llama3_vocab, max_bytes=200_000)
    schemas = [{"type": "object", "properties": {f"k{i}": {"type": "string"}}, "required": [f"k{i}"]}
               for i in range(6)]
    for schema in schemas:
        grammar = cache.get(Constraint("json_schema", json.dumps(schema)))
        matcher = grammar.matcher()
        mask = np.zeros((llama3_vocab.size + 31) // 32, dtype=np.int32)
        matcher.fill_next_token_bitmask(mask)  # a 16 KB mask: the grammar grows
        assert grammar.memory_bytes > 16_000
    assert 1 <= len(cache) < len(schemas)
    assert cache.memory_bytes <= 200_000 or len(cache) == 1
    assert Constraint("json_schema", json.dumps(schemas[-1])) in cache._grammars


def test_tool_options_reach_compile_tools(llama3_vocab):
    seen = {}

    class Recording:
        vocab = llama3_vocab

        def compile_tools(self, tools, **options):
            seen.update(options, tools=tools)
            return enforcer.compile_regex("a", llama3_vocab)

    choice = {"type": "function", "function": {"name": "f"}}
    constraint = parse_constraint({"tools": [{"type": "function", "function": {"name": "f"}}],
                                   "tool_choice": json.dumps(choice), "tool_format": "hermes",
                                   "parallel_tool_calls": True})
    constraint.compile(Recording())
    assert seen == {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": choice,
                    "format": "hermes", "parallel_tool_calls": True}


# -- choice -----------------------------------------------------------------------------------------

CHOICES = ["yes", "no", "maybe so", 'say "hi"', "back\\slash", "new\nline", "ünïcödé 🎉", "<|eot_id|>", ""]


def test_choice_is_exactly_one_of_the_strings(llama3_tokenizer, llama3_vocab):
    constraint = parse_constraint({"choice": json.dumps(CHOICES)})
    assert constraint == parse_constraint({"choice": CHOICES})
    grammar = ConstraintService(llama3_vocab).grammars.get(constraint)
    for text in CHOICES:
        matcher = grammar.matcher()
        for token in llama3_tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True):
            matcher.advance(token)
        assert matcher.is_complete(), text
    matcher = grammar.matcher()
    for token in llama3_tokenizer.encode("yes", add_special_tokens=False):
        matcher.advance(token)
    assert set(matcher.allowed_token_ids()) == set(LLAMA3_EOS)  # "yes" is complete, nothing follows
    rng = random.Random(0)
    seen = set()
    for _ in range(40):
        matcher, out = grammar.matcher(), b""
        while not matcher.is_terminated():
            token = rng.choice(matcher.allowed_token_ids())
            matcher.advance(token)
            out += llama3_vocab.token_bytes(token) or b""
        seen.add(out.decode())
    assert seen <= set(CHOICES) and len(seen) > 3


# -- validation against the real vocabulary ----------------------------------------------------------

PYTHON_TAG_GRAMMAR = 'root ::= <|python_tag|> "{}"'


def test_validation_uses_the_real_vocabulary(llama31_vocab, llama3_vocab):
    """Llama 3.1 names 128010 <|python_tag|>: a grammar naming it is valid for that model."""
    service = ConstraintService(llama31_vocab)
    assert service.validate({"grammar": PYTHON_TAG_GRAMMAR}).kind == "grammar"
    with pytest.raises(ConstraintError, match="python_tag"):  # Llama 3.0 has no such token
        ConstraintService(llama3_vocab).validate({"grammar": PYTHON_TAG_GRAMMAR})
    with pytest.raises(ConstraintError, match="line 1"):
        service.validate({"grammar": 'root ::= "a'})


def test_without_a_vocabulary_validation_never_refuses_what_a_model_could_accept():
    """The fallback (no vocabulary known yet) compiles against bytes: it cannot know a model's
    special tokens, so a grammar error it cannot rule out is let through (the engine, with the
    model's vocabulary, fails closed if the grammar really does not fit)."""
    assert validate_constraint({"grammar": PYTHON_TAG_GRAMMAR}).kind == "grammar"
    assert validate_constraint({"grammar": 'root ::= <|whatever|> [a-z]+'}).kind == "grammar"
    with pytest.raises(ConstraintError, match="line 1"):  # syntax does not depend on the vocabulary
        validate_constraint({"grammar": 'root ::= "a'})
    with pytest.raises(ConstraintError, match="undefined"):
        validate_constraint({"grammar": 'root ::= other'})
    with pytest.raises(ConstraintError, match="regex does not compile"):
        validate_constraint({"regex": "(a|b"})


def test_service_takes_a_compiler_like_object(llama3_vocab):
    """The one place a Compiler plugs in: anything with the four compile methods and a vocab."""
    calls = []

    class Recording:
        vocab = llama3_vocab

        def compile_json_schema(self, schema, **options):
            calls.append(("json_schema", options))
            return enforcer.compile_json_schema(schema, llama3_vocab, **options)

        def compile_regex(self, pattern):
            calls.append(("regex", {}))
            return enforcer.compile_regex(pattern, llama3_vocab)

        def compile_grammar(self, text, **options):
            calls.append(("grammar", options))
            return enforcer.compile_grammar(text, llama3_vocab, **options)

        def compile_tools(self, tools, **options):
            calls.append(("tools", options))
            return enforcer.compile_tools(tools, llama3_vocab, **options)

    service = ConstraintService(Recording())
    assert service.vocab is llama3_vocab
    service.matcher(parse_constraint({"json_schema": SCHEMA, "whitespace": "flexible"}))
    service.matcher(parse_constraint({"choice": ["a", "b"]}))
    service.matcher(parse_constraint({"regex": "a+"}))
    assert calls == [("json_schema", {"whitespace": "flexible"}), ("grammar", {}), ("regex", {})]


# -- the failure policy: fail closed ---------------------------------------------------------------

def _bits(guard, vocab) -> set[int]:
    bitmask = np.zeros((1, (vocab.size + 31) // 32), dtype=np.int32)
    guard.fill_next_token_bitmask(bitmask, 0)
    return set(np.flatnonzero(np.unpackbits(bitmask[0].view(np.uint8), bitorder="little")[: vocab.size]).tolist())


def test_a_constraint_that_does_not_compile_fails_closed(llama3_vocab, caplog):
    service = ConstraintService(llama3_vocab)
    with caplog.at_level(logging.ERROR, logger="enforcer"):
        guard = service.matcher(Constraint("grammar", PYTHON_TAG_GRAMMAR), label="request 7")
    assert guard.failed and "python_tag" in guard.failure
    assert _bits(guard, llama3_vocab) == set(LLAMA3_EOS) and guard.allowed_token_ids() == LLAMA3_EOS
    assert "request 7" in caplog.text and "fails closed" in caplog.text


def test_a_rejected_token_fails_closed_and_is_logged_once(llama3_tokenizer, llama3_vocab, caplog):
    service = ConstraintService(llama3_vocab)
    guard = service.matcher(parse_constraint({"regex": "[0-9]+"}), label="row 3")
    digit, word = llama3_tokenizer.encode("1", add_special_tokens=False)[0], llama3_tokenizer.convert_tokens_to_ids("hello")
    assert guard.advance(digit) and not guard.failed
    with caplog.at_level(logging.ERROR, logger="enforcer"):
        assert guard.advance(word) is False
        twin = guard.fork()
        guard.advance(word)  # more tokens after the failure: ignored, counted, not logged again
        twin.advance(digit)
    assert guard.failed and twin.failed and guard.num_tokens == 3
    assert _bits(guard, llama3_vocab) == set(LLAMA3_EOS) and guard.is_complete()
    assert caplog.text.count("fails closed") == 1 and "row 3" in caplog.text
    guard.advance(LLAMA3_EOS[1])
    assert guard.is_terminated()


class _Exploding:
    """A matcher whose mask cannot be computed (as when a state needs more than a budget)."""

    num_tokens = 0

    def fill_next_token_bitmask(self, bitmask, row=0):
        raise SchemaError("constraint too complex: cannot decide whether an intersection is empty")

    allowed_token_ids = is_token_allowed = advance = fill_next_token_bitmask

    def is_terminated(self):
        return False

    def is_complete(self):
        return False


def test_an_error_while_masking_fails_closed(llama3_vocab, caplog):
    service = ConstraintService(llama3_vocab)
    guard = GuardedMatcher(_Exploding(), service.closed_matcher(), label="request x")
    with caplog.at_level(logging.ERROR, logger="enforcer"):
        assert _bits(guard, llama3_vocab) == set(LLAMA3_EOS)
    assert guard.failed and "too complex" in guard.failure and "request x" in caplog.text


def test_reset_starts_over_but_a_compile_failure_stays(llama3_tokenizer, llama3_vocab):
    service = ConstraintService(llama3_vocab)
    guard = service.matcher(parse_constraint({"regex": "[0-9]+"}))
    guard.advance(llama3_tokenizer.convert_tokens_to_ids("hello"))
    assert guard.failed
    guard.reset()  # a preempted request replays its tokens from the start
    assert not guard.failed and guard.num_tokens == 0
    broken = service.matcher(Constraint("grammar", PYTHON_TAG_GRAMMAR))
    broken.reset()
    assert broken.failed


def test_matchers_for_free_requests_are_none(llama3_vocab):
    assert ConstraintService(llama3_vocab).matcher(None) is None
