"""The per-vocabulary JSON string tables and the lexeme-split masks must agree with a plain walk.

The engine builds a state's mask from shared parts (a lexeme's inner tokens, string tables by
character class and length, crossings below a lexeme's exit nodes); ``Grammar.reference_mask``
walks the whole trie with the whole state and nothing else. Random walks through schemas that
exercise every shortcut compare the two at every step.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from enforcer import compile_json_schema
from enforcer.schema.json_tokens import END, INVALID, PARTIAL, QUOTE, read, string_character_count


@pytest.mark.parametrize("piece, count", [
    (b" the", 4), ("日本".encode(), 2), (b"\\n", 1), (b'\\"', 1), (b"\\u00e9", 1), (b"\\ud83d\\ude00", 1),
    (b"a\\u0022b", 3), (b'"', -1), (b'a"', -1), (b"\\", -1), (b"\\u00", -1), (b"\\ud83d", -1),
    (b"\\u0061", -1), (b"\xe6\x97", -1), (b"\x01", -1), (b"\\x", -1), ("😀".encode(), 1),
])
def test_character_counts(piece, count):
    assert string_character_count(piece) == count


@pytest.mark.parametrize("piece, kind, chars, partial", [
    (b"ab", END, [97, 98], ()),
    (b'ab",', QUOTE, [97, 98], ()),
    (b"a\\", PARTIAL, [97], ((0, 0x1F), (0x22, 0x22), (0x2F, 0x2F), (0x5C, 0x5C), (0x7F, 0xD7FF), (0xE000, 0x10FFFF))),
    (b"\\u004", INVALID, [], ()),  # \u0040-\u004f are printable ASCII: written raw only
    (b"\\u00", PARTIAL, [], ((0, 0x1F), (0x22, 0x22), (0x5C, 0x5C), (0x7F, 0xFF))),
    (b"\xe6\x97", PARTIAL, [], ((0x65C0, 0x65FF),)),
    (b"\\ud83d\\ude", PARTIAL, [], ((0x1F600, 0x1F6FF),)),
    (b"\xed\xa0", INVALID, [], ()),  # a surrogate has no UTF-8 form
])
def test_reading_tokens_inside_strings(piece, kind, chars, partial):
    k, _, _, cps, ranges = read(piece)
    assert (k, cps, ranges) == (kind, chars, partial)


SCHEMAS = [
    {"type": "string", "maxLength": 6},
    {"type": "string", "minLength": 2, "maxLength": 40},
    {"type": "string", "pattern": "^[a-z_]+$", "maxLength": 9},
    {"type": "string", "pattern": "^[A-Z]{2,3}$"},
    {"type": "object", "properties": {"s": {"type": "string"}, "t": {"type": "string", "maxLength": 3}},
     "required": ["s", "t"], "additionalProperties": False},
    {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
    {"type": "object", "additionalProperties": {}},
    {"type": "object", "properties": {"name": {"type": "string"}, "nap": {"type": "integer"}},
     "additionalProperties": {"type": "number"}},
    {"type": "object", "propertyNames": {"pattern": "^[a-c]+$"}, "additionalProperties": {"type": "boolean"}},
    {"enum": ["red", "green", "blue", 1, None, {"a": [1, 2]}]},
    {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string", "maxLength": 5},
                                      "type": {"enum": ["a", "b"]}, "text": {"type": "boolean"}},
     "required": ["id"]},  # declared keys after whitespace: the walk's leading-run path
    # alternatives of strings, each a lexeme of its own that needs a whole-trie walk: walked together
    {"anyOf": [{"type": "string", "pattern": "^a[0-9]+$"}, {"type": "string", "format": "date"},
               {"type": "string", "pattern": "^[a-z]+x$"}]},
    {"type": "array", "items": {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "string", "format": "date-time"},
                                          {"type": "string", "pattern": "^id-[0-9]+$"}]}, "maxItems": 3},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date"},
                                      "n": {"type": "number", "minimum": -2.5, "maximum": 100}}},
]


def _walk_compare(grammar, vocab, rng: random.Random, steps: int, check_every: int) -> None:
    matcher = grammar.matcher()
    eos = vocab.eos_token_ids
    for step in range(steps):
        state = matcher.state
        fast = grammar.token_mask(state)
        if step % check_every == 0:
            assert np.array_equal(fast, grammar.reference_mask(state)), (grammar.source, step)
        allowed = [t for t in matcher.allowed_token_ids() if t not in eos]
        if not allowed:
            assert matcher.is_complete()
            return
        matcher.advance(rng.choice(allowed))


@pytest.mark.parametrize("whitespace", ["compact", "flexible"])
@pytest.mark.parametrize("index", range(len(SCHEMAS)))
def test_lexeme_masks_equal_the_plain_walk(index, whitespace, llama3_vocab):
    grammar = compile_json_schema(SCHEMAS[index], llama3_vocab, whitespace=whitespace)
    rng = random.Random(f"{index}-{whitespace}")
    for _ in range(2):
        _walk_compare(grammar, llama3_vocab, rng, steps=30, check_every=3)


def test_lexeme_masks_on_a_sentencepiece_vocabulary(mistral_sp_tokenizer):
    from enforcer import Vocabulary

    mistral_vocab = Vocabulary.from_pretrained(mistral_sp_tokenizer)
    for index in (0, 2, 7, 9):
        grammar = compile_json_schema(SCHEMAS[index], mistral_vocab, whitespace="flexible")
        _walk_compare(grammar, mistral_vocab, random.Random(index), steps=30, check_every=3)


PATTERN_KEYS = {  # unanchored patternProperties (search semantics), as in real schemas
    "type": "object",
    "properties": {"name": {"type": "string"}, "kind": {"enum": ["a", "b"]}},
    "patternProperties": {"netdir_(projects|work)": {"type": "object", "properties": {"n": {"type": "string"}}},
                          "netdrv_([a-z]+)": {"type": ["integer", "object"]},
                          "net_[a-z]+[0-9]+": {"type": ["boolean", "integer"]}},
}


@pytest.mark.parametrize("whitespace", ["compact", "flexible"])
def test_pattern_key_masks_equal_the_plain_walk(whitespace, llama3_vocab, llama3_tokenizer):
    """Keys under several search patterns are intersections whose states change while a
    pattern matches; every step of valid instances (keys matching one pattern, two, none)
    must get the plain walk's mask (declared keys first: schema property order). The key
    lexemes of one state are walked together (``LexemeSpace.infos``)."""
    import json

    from enforcer import Compiler

    compiler = Compiler(llama3_vocab)
    grammar = compiler.compile_json_schema(PATTERN_KEYS, whitespace=whitespace)
    instances = [
        {"name": "x", "kind": "a", "netdir_work": {"n": "q"}, "netdrv_abc": 3, "net_ab12": True},
        {"xnetdrv_q netdir_projects": {}, "net_a1 netdrv_z": 1, "plain key": "free"},
        {"netdrv_": "not matched: no letter after the underscore", "net_a": [1]},
    ]
    separators = (",", ":") if whitespace == "compact" else (", ", ": ")
    for instance in instances:
        text = json.dumps(instance, separators=separators)
        matcher = grammar.matcher()
        for token in llama3_tokenizer.encode(text, add_special_tokens=False):
            state = matcher.state
            assert np.array_equal(grammar.token_mask(state), grammar.reference_mask(state)), (text, state)
            matcher.advance(token)
        assert matcher.is_complete()
    assert compiler.stats["lexeme_joint_walks"] > 0


@pytest.mark.parametrize("lo, hi", [(0, 0), (0, 1), (1, 1), (2, 3), (0, 20), (5, 127), (3, 128), (0, 129),
                                    (40, 1000), (7, None), (130, None)])
def test_string_length_bounds_equal_the_plain_walk(lo, hi, llama3_vocab):
    """String-body masks come from per-count tables (tokens of each kind with at most n
    characters); every bound, below, at and past the longest token's count, must give the
    plain walk's mask at each step."""
    bounds = {"minLength": lo} | ({} if hi is None else {"maxLength": hi})
    for schema in ({"type": "string"} | bounds, {"type": "string", "pattern": "^[a-z ]*$"} | bounds):
        grammar = compile_json_schema(schema, llama3_vocab, whitespace="compact")
        _walk_compare(grammar, llama3_vocab, random.Random(f"{lo}-{hi}"), steps=12, check_every=1)


def test_string_tables_stay_bounded(llama3_vocab):
    """A server compiles strangers' schemas: a length bound never seen costs a table (16 kB in
    Llama 3), and the tables kept are bounded, not one per bound ever met."""
    from enforcer import Compiler
    from enforcer.engine.lexemes import _CLASS_TABLES, _STRING_MASKS

    compiler = Compiler(llama3_vocab)
    quote = llama3_vocab.trie.tokens_at(llama3_vocab.trie.find(b'"'))[0]
    for n in range(_STRING_MASKS + 60):
        lo, hi = n % 40, n % 40 + n // 40
        grammar = compiler.compile_json_schema({"type": "string", "minLength": lo, "maxLength": hi})
        matcher = grammar.matcher()
        matcher.advance(int(quote))
        grammar.token_mask(matcher.state)
    strings = compiler._generation.space.strings
    assert 0 < len(strings._masks) <= _STRING_MASKS
    mask_bytes = 4 * ((llama3_vocab.size + 31) // 32)  # the per-count tables: 3 kinds, counts 0-128 in Llama 3
    limit = (_STRING_MASKS + 3 * 130) * mask_bytes + _CLASS_TABLES * (llama3_vocab.size + mask_bytes)
    assert strings.memory_bytes <= limit
