"""Token trie invariants, on a real 128k vocabulary and on random small ones against brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer import TokenTrie


def brute_force_nodes(pieces):
    """Every distinct non-empty prefix, in pre-order (= sorted), with the root first."""
    prefixes = {p[:k] for p in pieces if p for k in range(1, len(p) + 1)}
    return [b""] + sorted(prefixes)


def check_invariants(trie: TokenTrie, pieces) -> None:
    nodes = brute_force_nodes(pieces)
    assert trie.num_nodes == len(nodes)
    depth = trie.node_depth
    assert depth[0] == 0 and trie.node_parent[0] == -1
    # Pre-order with subtree sizes: the subtree of n ends at the next node not deeper than n.
    n = trie.num_nodes
    expected_end = np.full(n, n)
    stack = []
    for i in range(n):
        while stack and depth[stack[-1]] >= depth[i]:
            expected_end[stack.pop()] = i
        stack.append(i)
    np.testing.assert_array_equal(trie.subtree_end, expected_end)
    # Parents are one shallower and come before their children; bytes spell the prefixes.
    assert np.all(depth[1:] == depth[trie.node_parent[1:]] + 1)
    assert np.all(trie.node_parent[1:] < np.arange(1, n))
    sample = range(n) if n < 5000 else np.linspace(0, n - 1, 5000).astype(int)
    for i in sample:
        assert trie.node_bytes(int(i)) == nodes[int(i)]
    # Every token is found at its bytes, exactly once; tokens without bytes are absent.
    seen = []
    for token_id, piece in enumerate(pieces):
        if piece:
            node = trie.find(piece)
            assert node == trie.token_node[token_id] and token_id in trie.tokens_at(node)
            seen.append(token_id)
        else:
            assert trie.token_node[token_id] == -1
    assert sorted(trie.token_ids.tolist()) == seen
    # Levels partition the nodes by depth.
    levels = trie.levels
    assert sum(len(level) for level in levels) == n
    for d, level in enumerate(levels):
        assert np.all(depth[level] == d) and np.all(np.diff(level) > 0)


def test_real_vocabulary(llama3_vocab):
    pieces = [llama3_vocab.token_bytes(i) for i in range(llama3_vocab.size)]
    check_invariants(llama3_vocab.trie, pieces)
    assert llama3_vocab.trie.max_depth == max(len(p) for p in pieces if p)


def test_duplicates_and_empty_tokens():
    pieces = [b"ab", b"a", None, b"", b"ab", b"abc", b"b", b"a"]
    trie = TokenTrie.build(pieces)
    check_invariants(trie, pieces)
    assert sorted(trie.tokens_at(trie.find(b"ab")).tolist()) == [0, 4]
    assert sorted(trie.tokens_at(trie.find(b"a")).tolist()) == [1, 7]
    assert trie.find(b"zz") == -1 and trie.child(0, ord("c")) == -1


def test_empty_vocabulary():
    trie = TokenTrie.build([None, b""])
    assert trie.num_nodes == 1 and trie.token_ids.size == 0


def test_arrays_round_trip():
    pieces = [b"x", b"xy", b"\xff\x00", b"\xe4\xbd"]
    trie = TokenTrie.build(pieces)
    again = TokenTrie.from_arrays(trie.arrays())
    for name, array in trie.arrays().items():
        np.testing.assert_array_equal(getattr(again, name), array)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.binary(max_size=6)), max_size=40))
def test_random_vocabularies(pieces):
    check_invariants(TokenTrie.build(pieces), pieces)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=4).map(lambda b: bytes(x % 3 for x in b)), max_size=60))
def test_dense_shared_prefixes(pieces):
    check_invariants(TokenTrie.build(pieces), pieces)
