"""``enforcer.generate``: our own loop, with the budget and fast-forward, on a tiny random Llama."""

from __future__ import annotations

import json

import jsonschema
import pytest

from enforcer import OptionError, compile_json_schema, generate

from tests.conftest import LLAMA3_EOS

KEYS = {"type": "object",
        "properties": {"first_name": {"type": "string", "maxLength": 8}, "last_name": {"type": "string", "maxLength": 8},
                       "is_active": {"type": "boolean"}, "favourite_color": {"enum": ["red", "green", "blue"]}},
        "required": ["first_name", "last_name", "is_active", "favourite_color"], "additionalProperties": False}


@pytest.fixture(scope="module")
def keys_grammar(llama3_vocab):
    return compile_json_schema(KEYS, llama3_vocab)


def test_fast_forward_saves_forward_passes(tiny_llama3_model, llama3_tokenizer, keys_grammar):
    prompt = llama3_tokenizer.encode("Describe someone as JSON:")
    slow = generate(tiny_llama3_model, llama3_tokenizer, keys_grammar, input_ids=prompt, max_new_tokens=60,
                    fast_forward=False)
    fast = generate(tiny_llama3_model, llama3_tokenizer, keys_grammar, input_ids=prompt, max_new_tokens=60)
    for result in (slow, fast):
        assert result.complete and result.tokens[-1] in LLAMA3_EOS
        jsonschema.validate(json.loads(result.text), KEYS)
        assert len(result.tokens) <= 60
    assert slow.forced_tokens == 0 and fast.forced_tokens > 0
    assert fast.forward_passes < slow.forward_passes


def test_budget_makes_the_output_complete(tiny_llama3_model, llama3_tokenizer, keys_grammar):
    """A random model writes long strings; without the budget the output is cut off."""
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    grammar = compile_json_schema(schema, keys_grammar.vocab)
    prompt = llama3_tokenizer.encode("Write:")
    budget = grammar.matcher().shortest_completion() + 1 + 6
    cut = generate(tiny_llama3_model, llama3_tokenizer, grammar, input_ids=prompt, max_new_tokens=budget,
                   budget=False, temperature=1.0, seed=0)
    kept = generate(tiny_llama3_model, llama3_tokenizer, grammar, input_ids=prompt, max_new_tokens=budget,
                    temperature=1.0, seed=0)
    assert kept.complete and len(kept.tokens) <= budget
    json.loads(kept.text)
    assert not cut.complete  # the random model never closes the string by itself


def test_generate_compiles_a_schema_and_checks_options(tiny_llama3_model, llama3_tokenizer):
    with pytest.raises(OptionError):
        generate(tiny_llama3_model, llama3_tokenizer, KEYS, input_ids=[1, 2], max_new_tokens=0)
    with pytest.raises(OptionError):
        generate(tiny_llama3_model, llama3_tokenizer, KEYS)  # no prompt
