"""Advancing reads a token branch by branch (``Grammar.step``); deriving the whole state byte by
byte (``Grammar.reference_step``) must reach the same language: the same verdict, the same
acceptance and the same next mask, for the tokens a model would sample and for ones it may not."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from enforcer import TokenRejectedError, compile_json_schema
from enforcer.engine.automaton import DEAD

SCHEMA = {
    "type": "object",
    "properties": {
        "n": {"anyOf": [{"type": "integer"}, {"type": "number"}]},  # two lexemes read "12" alike
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}},
        "code": {"type": "string", "pattern": "^[a-z]{2,4}$"},
        "kind": {"enum": ["alpha", "alphabet", 3, None]},
        "inner": {"type": "object", "properties": {"x": {"type": "boolean"}}},
    },
    "required": ["n"],
    "additionalProperties": {"type": "integer", "minimum": 0},
}
INSTANCES = [
    {"n": 12},
    {"n": -1.5e3, "tags": ["a", "bcdef", ""], "code": "abc"},
    {"n": 0, "kind": "alphabet", "inner": {"x": True}, "extra": 7},
    {"n": 3, "tags": [], "code": "zz", "kind": None},
]
ANY_ORDER = [{"kind": 3, "extra": 0, "n": 3, "code": "zz"}]


def _same_language(grammar, mine: int, reference: int, where: str) -> None:
    assert (mine == DEAD) == (reference == DEAD), where
    if mine != DEAD and mine != reference:
        assert grammar.is_accepting(mine) == grammar.is_accepting(reference), where
        assert np.array_equal(grammar.token_mask(mine), grammar.token_mask(reference)), where


@pytest.mark.parametrize("order", ["schema", "any"])
@pytest.mark.parametrize("whitespace", ["compact", "flexible"])
def test_step_reads_like_the_derivative(order, whitespace, llama3_tokenizer, llama3_vocab):
    vocab = llama3_vocab
    grammar = compile_json_schema(SCHEMA, vocab, whitespace=whitespace, property_order=order)
    rng = random.Random(f"{order}-{whitespace}")
    checked = 0
    for instance in INSTANCES + (ANY_ORDER if order == "any" else []):
        text = json.dumps(instance, separators=(",", ":")) if whitespace == "compact" else json.dumps(instance, indent=1)
        matcher = grammar.matcher()
        for token in llama3_tokenizer.encode(text, add_special_tokens=False):
            sid = matcher.state
            allowed = [t for t in matcher.allowed_token_ids() if t not in vocab.eos_token_ids]
            others = rng.sample(range(vocab.tokenizer_size), 20)
            for probe in [token, *rng.sample(allowed, min(10, len(allowed))), *others]:
                data = vocab.token_bytes(probe)
                if data is None:
                    continue
                mine = grammar.step(sid, data)
                _same_language(grammar, mine, grammar.reference_step(sid, data), f"{text!r} {data!r}")
                assert (mine != DEAD) == (probe in allowed), f"{text!r} {data!r}"  # the mask agrees
                checked += 1
            matcher.advance(token)
        assert matcher.is_complete()
    assert checked > 500


def test_token_steps_are_kept_with_their_verdicts(llama3_tokenizer, llama3_vocab):
    """A second request walks the first one's (state, token) steps; a refused token stays
    refused, with the same reason, however often it is tried."""
    grammar = compile_json_schema({"type": "object", "properties": {"a": {"type": "integer"}}}, llama3_vocab)
    tokens = llama3_tokenizer.encode('{"a":12}', add_special_tokens=False)
    states = []
    for _ in range(2):
        matcher = grammar.matcher()
        for token in tokens:
            matcher.advance(token)
        states.append(matcher.state)
        assert matcher.is_complete()
    assert states[0] == states[1]
    bad = llama3_tokenizer.encode("x", add_special_tokens=False)[0]
    special = min(llama3_vocab.special_token_ids - llama3_vocab.eos_token_ids)
    for token, reason in [(bad, "is not allowed here"), (special, "special token or has no bytes")]:
        for _ in range(2):
            with pytest.raises(TokenRejectedError, match=reason):
                grammar.matcher().advance(token)
