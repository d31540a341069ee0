"""Tokens longer than a short bound are walked apart (``enforcer.engine.lexemes.LongTokens``): the
masks must be those of one exact walk of the whole trie, at every position of every lexeme."""

from __future__ import annotations

import random

import numpy as np
import pytest

from enforcer import Compiler, Vocabulary
from enforcer.engine.lexemes import LongTokens

# Lexemes with repetition counts above the short bound (20 bytes in Llama 3), where the split
# happens, beside lexemes without (one exact walk): formats, long patterns, keys under patterns.
# (A pattern that is one character class repeated takes the string tables, not a walk.)
SCHEMAS = [
    {"type": "object", "properties": {"email": {"type": "string", "format": "email"},
                                      "host": {"type": "string", "format": "hostname"}},
     "required": ["email", "host"]},
    {"type": "string", "pattern": "^[a-zA-Z0-9_=*#/-]{0,250}\\.[a-z]{1,4}$"},
    {"type": "string", "pattern": "^(-{3,90}|[a-z]{30,60}\\.[=_]{0,40})$"},
    {"type": "object", "patternProperties": {"^[a-z_=-]{2,120}$": {"type": "integer"},
                                             "^[a-z]{1,30}$": {"type": "boolean"}},
     "additionalProperties": False},
    {"type": "array", "items": {"type": "string", "pattern": "^(ab|[=-]{2}|[a-z]+ ){1,100}$"}, "maxItems": 2},
]


def _exact_compiler(vocab) -> Compiler:
    """A compiler whose lexeme space walks the whole trie exactly, long tokens included."""
    compiler = Compiler(vocab)
    compiler._current().space.long = None
    return compiler


def _mask(matcher, n_words: int) -> np.ndarray:
    bitmask = np.zeros((1, n_words), dtype=np.int32)
    matcher.fill_next_token_bitmask(bitmask, 0)
    return bitmask[0]


def _walk_side_by_side(grammars, vocab, steps: int, choose) -> None:
    """One walk of a matcher of each grammar in lockstep, asserting equal masks at every step;
    ``choose(allowed)`` picks the next token among the allowed ones (EOS left out)."""
    n_words = (vocab.size + 31) // 32
    matchers = [g.matcher() for g in grammars]
    for step in range(steps):
        masks = [_mask(m, n_words) for m in matchers]
        assert np.array_equal(masks[0], masks[1]), f"step {step}"
        allowed = [t for t in np.flatnonzero(np.unpackbits(masks[0].view(np.uint8), bitorder="little")).tolist()
                   if t < vocab.size and t not in vocab.eos_token_ids]
        if not allowed:
            return
        token = choose(allowed)
        for m in matchers:
            m.advance(token)


def test_long_token_trie_holds_exactly_the_long_tokens(llama3_vocab):
    long = Compiler(llama3_vocab)._current().space.long
    assert long is not None and 16 <= long.bound < llama3_vocab.trie.max_depth
    trie, part = llama3_vocab.trie, long.trie
    lengths = np.array([len(llama3_vocab.token_bytes(t) or b"") for t in range(trie.token_node.size)])
    expected = set(np.flatnonzero((lengths > long.bound) & (trie.token_node >= 0)).tolist())
    assert set(part.token_ids.tolist()) == expected and expected
    for t in sorted(expected)[::7]:  # each long token spells its own bytes, at the same node
        node = int(part.token_node[t])
        assert part.node_bytes(node) == llama3_vocab.token_bytes(t)
        assert int(long.node[node]) == int(trie.token_node[t])
    assert part.num_nodes * LongTokens.MAX_SHARE <= trie.num_nodes  # a few paths, not the trie
    assert (part.subtree_end > np.arange(part.num_nodes)).all()
    assert (trie.node_depth[long.node] == part.node_depth).all()


@pytest.mark.parametrize("index", range(len(SCHEMAS)))
def test_masks_equal_one_exact_walk(index, llama3_vocab):
    """Random walks biased to the longest allowed token (so long runs and long tokens are
    read), the split and the exact compiler side by side: equal masks at every step."""
    schema = SCHEMAS[index]
    vocab = llama3_vocab
    split, exact = Compiler(vocab), _exact_compiler(vocab)
    lengths = {t: len(vocab.token_bytes(t) or b"") for t in range(vocab.size)}
    rng = random.Random(index)

    def choose(allowed: list[int]) -> int:
        return max(allowed, key=lambda t: (lengths[t], rng.random())) if rng.random() < 0.6 else rng.choice(allowed)

    for order in ("schema", "any"):
        grammars = [c.compile_json_schema(schema, whitespace="flexible", property_order=order) for c in (split, exact)]
        for _ in range(4):
            _walk_side_by_side(grammars, vocab, 120, choose)
    space = split._current().space
    assert space.stats["long_walks"] > 0  # the split was taken
    assert space.stats["lexeme_walks"] + space.stats["joint_walks"] <= (
        exact._current().space.stats["lexeme_walks"] + exact._current().space.stats["joint_walks"])


def test_long_tokens_that_run_past_a_lexeme(llama3_vocab):
    """A vocabulary whose long tokens close a string and go on (``aaa...a",``): the lexeme ends
    deeper than the short bound, inside a long token, and the rest is read from the tail."""
    letters = b"abcdefghijklmnopqrstuv"
    pieces: list[bytes | None] = [bytes([b]) for b in range(256)]
    pieces += [bytes([x, y]) for x in letters for y in letters]
    pieces += [bytes([x, y, z]) for x in letters for y in letters for z in letters]
    pieces += [b"a" * 25 + b'",', b"ab" * 12 + b'"]', b"a" * 24 + b'"', b'"' + b"a" * 28, b"=" * 30,
               b"ab" * 11 + b'","' + b"a" * 6, b'["' + b"=" * 22]
    vocab = Vocabulary.from_token_bytes(pieces + [None], eos_token_ids=[len(pieces)])
    split, exact = Compiler(vocab), _exact_compiler(vocab)
    long = split._current().space.long
    assert long is not None and long.bound == LongTokens.MIN_BOUND
    schema = {"type": "array", "items": {"type": "string", "pattern": "^(a|ab|=){0,60}$"}, "maxItems": 4}
    grammars = [c.compile_json_schema(schema) for c in (split, exact)]
    rng = random.Random(7)
    long_ids = [len(pieces) - 7 + k for k in range(7)]
    read_long = 0

    def choose(allowed: list[int]) -> int:
        nonlocal read_long
        longs = [t for t in allowed if t in long_ids]
        token = rng.choice(longs) if longs and rng.random() < 0.7 else rng.choice(allowed)
        read_long += token in long_ids
        return token

    for _ in range(30):
        _walk_side_by_side(grammars, vocab, 60, choose)
    assert read_long > 10
    assert split._current().space.stats["long_walks"] > 0
