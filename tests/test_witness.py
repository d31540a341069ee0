"""Witness texts and their spellings (enforcer.engine.witness): achievable completions, counted
right, shared along sequences without losing tokens that cross a part boundary."""

from __future__ import annotations

import random

import pytest

from enforcer import compile_json_schema, compile_regex
from enforcer.engine import budget
from enforcer.engine.forced import fewest_tokens
from enforcer.engine.witness import INF

from .test_budget import PERSON, SMALL_SCHEMAS, brute_force_distances, small_vocab

SCHEMAS = [
    PERSON,
    {"type": "object", "properties": {"id": {"type": "integer", "minimum": 100},
                                      "tags": {"type": "array", "items": {"enum": ["alpha", "beta"]},
                                               "minItems": 2},
                                      "note": {"type": "string", "minLength": 3, "pattern": "^[a-z]+$"}},
     "required": ["id", "tags", "note"]},
    {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}},
                                "required": ["name"], "additionalProperties": False}, "minItems": 3},
]


def _states(grammar, rng: random.Random, walks: int = 6, steps: int = 25) -> list[int]:
    """States along random walks of the grammar's own masks."""
    vocab = grammar.vocab
    out = [grammar.initial_state]
    for _ in range(walks):
        matcher = grammar.matcher()
        for _ in range(rng.randrange(1, steps)):
            allowed = [t for t in matcher.allowed_token_ids() if t not in vocab.eos_token_ids]
            if not allowed:
                break
            matcher.advance(rng.choice(allowed))
            out.append(matcher._states[-1])
    return out


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_the_spelled_witness_completes_the_state(schema, llama3_vocab):
    """The witness path, token by token from the state, ends where the output is complete, in as
    many tokens as :meth:`Witness.tokens` says, and spells the witness text exactly."""
    grammar = compile_json_schema(schema, llama3_vocab)
    witness = budget.shortest_for(grammar).witness
    checked = 0
    for sid in _states(grammar, random.Random(5)):
        e = grammar.expression(sid)
        path = witness.path(e)
        if path is None:
            continue
        checked += 1
        assert len(path) == witness.tokens(e)
        assert b"".join(llama3_vocab.token_bytes(t) for t in path) == witness.text(e)
        x = sid
        for token in path:
            assert grammar.token_mask(x)[token >> 5] >> (token & 31) & 1, (sid, token)
            x = grammar.step_token(x, token)
        assert grammar.is_accepting(x)
    assert checked >= 10


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
def test_sharing_tails_loses_no_token_that_fits_the_head(schema, llama3_vocab):
    """Spelled along a sequence, a text costs what the fewest tokens of the whole text cost,
    at most a token more where the best tokenization needs a token longer than the shared head
    across a part boundary (it never costs less: the count is achievable)."""
    grammar = compile_json_schema(schema, llama3_vocab)
    witness = budget.shortest_for(grammar).witness
    exact = same = 0
    for sid in _states(grammar, random.Random(8)):
        e = grammar.expression(sid)
        text = witness.text(e)
        if text is None:
            continue
        best = fewest_tokens(grammar, text)
        assert best is not None
        assert len(best) <= witness.tokens(e) <= len(best) + 1, text
        exact += 1
        same += len(best) == witness.tokens(e)
    assert exact >= 10 and same >= 0.9 * exact


@pytest.mark.parametrize("schema", SMALL_SCHEMAS, ids=range(len(SMALL_SCHEMAS)))
def test_witness_tokens_bound_the_distance_from_above(schema):
    """Against brute force on a small vocabulary whose longer pieces cross JSON boundaries
    (``":``, ``",``, ``"}``): every state's witness is at least its true distance."""
    grammar = compile_json_schema(schema, small_vocab())
    witness = budget.shortest_for(grammar).witness
    for sid, d in brute_force_distances(grammar).items():
        assert witness.tokens(grammar.expression(sid)) >= d, sid


def test_a_literal_spelled_with_pieces_that_cross_its_end():
    """``"na"`` then ``me"``: the small vocabulary has ``na`` and ``me"``, so the witness of a
    state before ``name"`` takes two tokens, not five single bytes."""
    grammar = compile_regex(r'name"(x|yz)', small_vocab())
    witness = budget.shortest_for(grammar).witness
    e = grammar.expression(grammar.initial_state)
    assert witness.text(e) == b'name"x'
    assert witness.tokens(e) == 3  # "name" is a piece; then '"' and 'x'
    assert witness.ceiling(e) < INF
