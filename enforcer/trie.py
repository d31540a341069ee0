"""The token-prefix trie: every token's bytes as a path from the root, stored as flat arrays.

Why a trie: the allowed set at a generation step is "every token whose bytes the automaton can
read from its current state". Tokens share prefixes massively (``"name``, ``"names``,
``"namespace``...), so walking the trie reads each shared prefix once, and one rejected byte
discards every token below it at once.

Layout (the same idea as llguidance's toktrie): nodes are numbered in pre-order, children in byte
order, node 0 is the root (the empty prefix). For node ``n``:

* ``node_byte[n]``   the byte on the edge into ``n`` (0 for the root),
* ``node_depth[n]``  its depth (= length of its prefix),
* ``node_parent[n]`` its parent (-1 for the root),
* ``subtree_end[n]`` one past the last node of its subtree: a walk that rejects ``n`` jumps there
  in O(1), which is what makes a pruned depth-first walk cheap,
* tokens whose bytes end exactly at ``n``: ``token_ids[token_offsets[n]:token_offsets[n + 1]]``
  (several ids may share one byte string; each id appears once).

Level order is kept too (``levels[d]`` = the nodes of depth ``d``, ascending), and a numbering by
it (:class:`LevelLayout`): a vectorised walk computes the automaton states of a whole level as one
slice, ``state[level d] = T[state[level d-1][parent_slot[d]], edge_byte[d]]``.

Costs, for Llama 3 (128,000 tokens, about 400k nodes): build about 0.3-0.5 s in numpy (sorting and
an LCP pass, no per-node Python loop), about 10 bytes per node. Tokens with no bytes (special
tokens, empty pieces) are not in the trie: a grammar can never produce them by spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

ROOT = 0


@dataclass(frozen=True)
class LevelLayout:
    """The trie in level order, for walks over whole levels: slot ``offsets[d] + i`` is the
    ``i``-th node of depth ``d``, and the parent of that node is slot ``parent_slot[d][i]`` of
    the level above. A level's states are then one contiguous slice, computed from the slice
    above by two gathers over small arrays (the pre-order numbering scatters a level over the
    whole node range, and the gathers through it cost twice as much)."""

    order: np.ndarray  # int32[n_nodes]: the node at each slot
    position: np.ndarray  # int64[n_nodes + 1]: the slot of each node (and n_nodes for "not in the trie")
    offsets: np.ndarray  # int64[depths + 1]
    parent_slot: list[np.ndarray]  # per depth: intp, the parents' slots within the level above
    edge_byte: list[np.ndarray]  # per depth: intp, the byte on the edge into each node
    sizes: list[int]  # per depth: the number of nodes
    widest: int  # the largest of sizes
    inner: np.ndarray  # intp: the slots of the nodes with children, ascending


@dataclass(frozen=True)
class TokenTrie:
    node_byte: np.ndarray  # uint8[n_nodes]
    node_depth: np.ndarray  # int32[n_nodes]
    node_parent: np.ndarray  # int32[n_nodes]
    subtree_end: np.ndarray  # int32[n_nodes]
    token_offsets: np.ndarray  # int32[n_nodes + 1]
    token_ids: np.ndarray  # int32[n_tokens_in_trie]
    token_node: np.ndarray  # int32[vocab_size]: the node where each token ends, -1 if not in the trie

    ARRAY_FIELDS = ("node_byte", "node_depth", "node_parent", "subtree_end", "token_offsets",
                    "token_ids", "token_node")

    @property
    def num_nodes(self) -> int:
        return int(self.node_byte.shape[0])

    @property
    def max_depth(self) -> int:
        return int(self.node_depth.max()) if self.num_nodes else 0

    @property
    def levels(self) -> list[np.ndarray]:
        """``levels[d]``: nodes of depth ``d`` in ascending (pre-order) order; computed once."""
        cached = self.__dict__.get("_levels")
        if cached is None:
            order = np.argsort(self.node_depth, kind="stable").astype(np.int32)
            bounds = np.searchsorted(self.node_depth[order], np.arange(self.max_depth + 2))
            cached = [order[bounds[d]:bounds[d + 1]] for d in range(self.max_depth + 1)]
            object.__setattr__(self, "_levels", cached)
        return cached

    @property
    def children_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(level_order, child_start, child_count)``: the children of node ``n`` are
        ``level_order[child_start[n]:child_start[n] + child_count[n]]``, contiguous because a
        level lists its nodes in pre-order, hence grouped by parent. Computed once."""
        cached = self.__dict__.get("_children_index")
        if cached is None:
            level_order = np.concatenate(self.levels).astype(np.int32)
            n = self.num_nodes
            child_count = np.bincount(self.node_parent[level_order[1:]], minlength=n).astype(np.int32)
            position = np.empty(n, dtype=np.int64)
            position[level_order] = np.arange(n)
            child_start = np.zeros(n, dtype=np.int64)
            has_children = child_count > 0
            # the first child of p is the smallest level-order position among p's children
            first = np.full(n, np.iinfo(np.int64).max)
            np.minimum.at(first, self.node_parent[level_order[1:]], position[level_order[1:]])
            child_start[has_children] = first[has_children]
            cached = (level_order, child_start, child_count)
            object.__setattr__(self, "_children_index", cached)
        return cached

    @property
    def level_layout(self) -> "LevelLayout":
        """The nodes renumbered level by level (see :class:`LevelLayout`). Computed once."""
        cached = self.__dict__.get("_level_layout")
        if cached is None:
            order = self.children_index[0]
            n = self.num_nodes
            position = np.empty(n + 1, dtype=np.int64)
            position[order] = np.arange(n)
            position[n] = n  # "not in the trie" keeps its own slot, one past the last node
            sizes = [len(level) for level in self.levels]
            offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
            np.cumsum(sizes, out=offsets[1:])
            parent_slot = [np.zeros(0, dtype=np.intp)]
            edge_byte = [np.zeros(0, dtype=np.intp)]
            for d in range(1, len(self.levels)):
                level = self.levels[d]
                parent_slot.append((position[self.node_parent[level]] - offsets[d - 1]).astype(np.intp))
                edge_byte.append(self.node_byte[level].astype(np.intp))
            inner = np.flatnonzero(self.subtree_end[order] > order + 1).astype(np.intp)
            cached = LevelLayout(order, position, offsets, parent_slot, edge_byte, sizes, max(sizes), inner)
            object.__setattr__(self, "_level_layout", cached)
        return cached

    def children_of(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(children, their bytes)`` of all ``nodes``. Kept for the last arrays asked about:
        the same start sets (a lexeme's exit nodes) come back at every step."""
        cache = self.__dict__.setdefault("_children_of", {})
        hit = cache.get(id(nodes))
        if hit is not None and hit[0] is nodes:
            return hit[1], hit[2]
        level_order, child_start, child_count = self.children_index
        counts = child_count[nodes]
        total = int(counts.sum())
        if total == 0:
            children = np.zeros(0, dtype=np.int64)
        else:
            offsets = np.cumsum(counts) - counts
            children = level_order[np.repeat(child_start[nodes] - offsets, counts) + np.arange(total)]
        kid_bytes = self.node_byte[children].astype(np.int64)
        if len(cache) > 4096:
            cache.clear()
        cache[id(nodes)] = (nodes, children, kid_bytes)
        return children, kid_bytes

    def runs(self, mask: int, max_length: int) -> list[tuple[int, int]]:
        """``(node, length)`` of every path from the root made only of bytes in the 256-bit
        ``mask``, up to ``max_length`` bytes, root first (``(0, 0)``): the whitespace runs a
        token can start with, say. Computed once per ``(mask, max_length)``."""
        cache = self.__dict__.setdefault("_runs", {})
        found = cache.get((mask, max_length))
        if found is None:
            found, frontier = [(ROOT, 0)], [ROOT]
            members = [b for b in range(256) if (mask >> b) & 1]
            for length in range(1, max_length + 1):
                frontier = [c for n in frontier for b in members if (c := self.child(n, b)) >= 0]
                if not frontier:
                    break
                found.extend((n, length) for n in frontier)
            cache[(mask, max_length)] = found
        return found

    def run_children(self, mask: int, max_length: int) -> dict[int, np.ndarray]:
        """The children of the :meth:`runs` nodes whose byte is not in ``mask``, by byte: where
        a token leaves a leading whitespace run. Kept per ``(mask, max_length)``."""
        cache = self.__dict__.setdefault("_run_children", {})
        found = cache.get((mask, max_length))
        if found is None:
            by_byte: dict[int, list[int]] = {}
            for node, _ in self.runs(mask, max_length):
                for byte, child in self.children_map(node).items():
                    if not (mask >> byte) & 1:
                        by_byte.setdefault(byte, []).append(child)
            found = cache[(mask, max_length)] = {b: np.asarray(c, dtype=np.int64) for b, c in by_byte.items()}
        return found

    def run_children_arrays(self, mask: int, max_length: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """:meth:`run_children` as ``(bytes, child arrays)``, aligned."""
        cache = self.__dict__.setdefault("_run_children_arrays", {})
        found = cache.get((mask, max_length))
        if found is None:
            by_byte = self.run_children(mask, max_length)
            found = cache[(mask, max_length)] = (np.asarray(list(by_byte), dtype=np.int64), list(by_byte.values()))
        return found

    def runs_array(self, mask: int, max_length: int) -> np.ndarray:
        """The nodes of :meth:`runs`, root first, as an array (kept)."""
        cache = self.__dict__.setdefault("_runs_array", {})
        found = cache.get((mask, max_length))
        if found is None:
            found = cache[(mask, max_length)] = np.asarray([n for n, _ in self.runs(mask, max_length)], dtype=np.int64)
        return found

    def tokens_at(self, node: int) -> np.ndarray:
        return self.token_ids[self.token_offsets[node]:self.token_offsets[node + 1]]

    @property
    def reach(self) -> np.ndarray:
        """Per node: the length of the longest token at or below it (0 for none). Computed once."""
        cached = self.__dict__.get("_reach")
        if cached is None:
            has_token = self.token_offsets[1:] > self.token_offsets[:-1]
            cached = np.where(has_token, self.node_depth, 0).astype(np.int32)
            for level in reversed(self.levels[1:]):
                np.maximum.at(cached, self.node_parent[level], cached[level])
            object.__setattr__(self, "_reach", cached)
        return cached

    def long_tokens(self, bound: int) -> tuple[TokenTrie, np.ndarray]:
        """The tokens longer than ``bound`` bytes as a trie of their own, and for each of its
        nodes the same node in this trie.

        Its nodes are the nodes of this trie on the paths to those tokens (a set closed under
        parents, so pre-order and subtree ranges carry over), and it holds those tokens only.
        A walk that must be exact for long tokens alone (see :class:`enforcer.engine.lexemes.
        LongTokens`) visits these few paths instead of the whole trie: in Llama 3, the 588
        tokens longer than 20 bytes lie on 8,568 of 274,521 nodes."""
        reach = self.reach
        nodes = np.flatnonzero(reach > bound)
        if nodes.size == 0:  # no token that long: the root alone
            nodes = np.zeros(1, dtype=np.int64)
        rank = np.full(self.num_nodes, -1, dtype=np.int32)
        rank[nodes] = np.arange(nodes.size, dtype=np.int32)
        parents = self.node_parent[nodes]
        node_parent = np.where(parents >= 0, rank[np.maximum(parents, 0)], -1).astype(np.int32)
        subtree_end = np.searchsorted(nodes, self.subtree_end[nodes]).astype(np.int32)
        starts = self.token_offsets[nodes].astype(np.int64)
        counts = np.where(self.node_depth[nodes] > bound, self.token_offsets[nodes + 1] - starts, 0)
        token_offsets = np.zeros(nodes.size + 1, dtype=np.int32)
        np.cumsum(counts, out=token_offsets[1:])
        total = int(token_offsets[-1])
        firsts = np.repeat(starts - token_offsets[:-1], counts) + np.arange(total)
        token_ids = self.token_ids[firsts].astype(np.int32)
        token_node = np.full(self.token_node.size, -1, dtype=np.int32)
        token_node[token_ids] = rank[self.token_node[token_ids]]
        part = TokenTrie(self.node_byte[nodes], self.node_depth[nodes], node_parent, subtree_end,
                         token_offsets, token_ids, token_node)
        return part, nodes.astype(np.int64)

    def children_map(self, node: int) -> dict[int, int]:
        """``{byte: child}`` of ``node``, made the first time it is asked (hot nodes, the root
        or a quote, are asked thousands of times)."""
        maps = self.__dict__.get("_child_maps")
        if maps is None:
            maps = self.__dict__["_child_maps"] = {}
        found = maps.get(node)
        if found is None:
            level_order, child_start, child_count = self.children_index
            start = int(child_start[node])
            kids = level_order[start:start + int(child_count[node])]
            found = maps[node] = dict(zip(self.node_byte[kids].tolist(), kids.tolist()))
        return found

    def child(self, node: int, byte: int) -> int:
        """The child of ``node`` along ``byte``, or -1."""
        return self.children_map(node).get(byte, -1)

    def find(self, data: bytes) -> int:
        """The node whose prefix is ``data``, or -1."""
        node = ROOT
        for byte in data:
            node = self.child(node, byte)
            if node < 0:
                return -1
        return node

    def node_bytes(self, node: int) -> bytes:
        out = bytearray()
        while node > ROOT:
            out.append(int(self.node_byte[node]))
            node = int(self.node_parent[node])
        return bytes(reversed(out))

    @classmethod
    def build(cls, pieces: Sequence[bytes | None]) -> TokenTrie:
        """Build from ``pieces[token_id]`` (``None`` or ``b""`` = not in the trie)."""
        vocab_size = len(pieces)
        ids = [i for i, p in enumerate(pieces) if p]
        unique = sorted({pieces[i] for i in ids})
        n_unique = len(unique)
        token_node = np.full(vocab_size, -1, dtype=np.int32)
        if n_unique == 0:
            return cls(np.zeros(1, np.uint8), np.zeros(1, np.int32), np.full(1, -1, np.int32),
                       np.ones(1, np.int32), np.zeros(2, np.int32), np.zeros(0, np.int32), token_node)

        lengths = np.fromiter(map(len, unique), dtype=np.int64, count=n_unique)
        width = int(lengths.max())
        # Sorted strings padded into a matrix: LCP of neighbours is the first column that differs.
        blob = b"".join(unique)
        starts = np.zeros(n_unique, dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        matrix = np.zeros((n_unique, width), dtype=np.uint8)
        rows = np.repeat(np.arange(n_unique), lengths)
        cols = np.arange(len(blob)) - np.repeat(starts, lengths)
        matrix[rows, cols] = np.frombuffer(blob, dtype=np.uint8)
        lcp = np.zeros(n_unique, dtype=np.int64)
        if n_unique > 1:
            differs = matrix[1:] != matrix[:-1]
            first_diff = np.where(differs.any(axis=1), differs.argmax(axis=1), width)
            lcp[1:] = np.minimum(first_diff, np.minimum(lengths[1:], lengths[:-1]))
        del matrix

        # String i adds the nodes of its prefixes longer than lcp[i], in pre-order.
        new_counts = lengths - lcp
        total = int(new_counts.sum()) + 1
        first_new = np.zeros(n_unique, dtype=np.int64)
        np.cumsum(new_counts[:-1], out=first_new[1:])
        first_new += 1  # node 0 is the root
        owner = np.repeat(np.arange(n_unique), new_counts)
        offset_in_run = np.arange(1, total) - np.repeat(first_new, new_counts)
        depth = np.zeros(total, dtype=np.int32)
        depth[1:] = (np.repeat(lcp, new_counts) + offset_in_run + 1).astype(np.int32)
        node_byte = np.zeros(total, dtype=np.uint8)
        node_byte[1:] = np.frombuffer(blob, dtype=np.uint8)[starts[owner] + depth[1:] - 1]

        # Parent: the previous node inside a run; for a run's first node, the last node before it
        # at depth lcp (its ancestor on the previous string's path).
        parent = np.arange(-1, total - 1, dtype=np.int32)
        run_heads = first_new
        head_depth = lcp
        for d in np.unique(head_depth):
            at_depth = np.flatnonzero(depth == d)
            heads = run_heads[head_depth == d]
            parent[heads] = at_depth[np.searchsorted(at_depth, heads) - 1]
        parent[0] = -1

        # Subtree sizes bottom-up, one vectorised step per depth.
        size = np.ones(total, dtype=np.int64)
        order = np.argsort(depth, kind="stable")
        bounds = np.searchsorted(depth[order], np.arange(int(depth.max()) + 2))
        for d in range(int(depth.max()), 0, -1):
            nodes = order[bounds[d]:bounds[d + 1]]
            np.add.at(size, parent[nodes], size[nodes])
        subtree_end = (np.arange(total) + size).astype(np.int32)

        # Tokens: each unique string ends at the last node of its own run.
        end_node_of_unique = (first_new + new_counts - 1).astype(np.int32)
        index_of = {piece: k for k, piece in enumerate(unique)}
        id_array = np.asarray(ids, dtype=np.int32)
        token_node[id_array] = end_node_of_unique[[index_of[pieces[i]] for i in ids]]
        by_node = np.argsort(token_node[id_array], kind="stable")
        token_ids = id_array[by_node]
        counts = np.bincount(token_node[token_ids], minlength=total)
        token_offsets = np.zeros(total + 1, dtype=np.int32)
        np.cumsum(counts, out=token_offsets[1:])
        return cls(node_byte, depth, parent, subtree_end, token_offsets, token_ids, token_node)

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.ARRAY_FIELDS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TokenTrie:
        return cls(**{name: arrays[name] for name in cls.ARRAY_FIELDS})
