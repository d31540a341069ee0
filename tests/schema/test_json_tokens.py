"""The per-vocabulary table of JSON string content tokens must agree with the grammar exactly."""

from __future__ import annotations

import random

import pytest

from enforcer.engine import Grammar
from enforcer.grammar.lower import Lowering
from enforcer.schema.compiler import SchemaCompiler
from enforcer.schema.json_tokens import string_character_count


@pytest.mark.parametrize("piece, count", [
    (b" the", 4), ("日本".encode(), 2), (b"\\n", 1), (b'\\"', 1), (b"\\u00e9", 1), (b"\\ud83d\\ude00", 1),
    (b"a\\u0022b", 3), (b'"', -1), (b'a"', -1), (b"\\", -1), (b"\\u00", -1), (b"\\ud83d", -1),
    (b"\\u0061", -1), (b"\xe6\x97", -1), (b"\x01", -1), (b"\\x", -1), ("😀".encode(), 1),
])
def test_character_counts(piece, count):
    assert string_character_count(piece) == count


def _grammars(schema, vocab):
    """The same schema compiled with and without the content-token table."""
    from enforcer import compile_json_schema

    fast = compile_json_schema(schema, vocab)
    lowering = Lowering(SchemaCompiler(schema).compile())
    slow = Grammar(lowering.factory, lowering.start(), vocab)
    return fast, slow


@pytest.mark.parametrize("schema", [
    {"type": "string", "maxLength": 6},
    {"type": "string", "minLength": 2, "maxLength": 40},
    {"type": "object", "properties": {"s": {"type": "string"}, "t": {"type": "string", "maxLength": 3}},
     "required": ["s", "t"], "additionalProperties": False},
    {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
    {"type": "object", "additionalProperties": {}},
])
def test_fast_string_masks_equal_the_full_walk(schema, llama3_vocab, monkeypatch):
    fast, slow = _grammars(schema, llama3_vocab)
    used = []
    original = fast._runs_mask
    monkeypatch.setattr(fast, "_runs_mask", lambda sid: used.append(sid) or original(sid))
    rng = random.Random(repr(schema))
    for _ in range(3):
        a, b = fast.matcher(), slow.matcher()
        for _ in range(40):
            allowed = a.allowed_token_ids()
            assert allowed == b.allowed_token_ids()
            choices = [t for t in allowed if t not in llama3_vocab.eos_token_ids]
            if not choices or rng.random() < 0.05:
                break
            token = rng.choice(choices)
            a.advance(token)
            b.advance(token)
    assert not slow._runs
    assert any(original(sid) is not None for sid in used), "the content-token path was never taken"
