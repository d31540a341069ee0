"""The engine: a compiled :class:`Grammar` shared by many :class:`Matcher` objects.

A grammar is a lazily built DFA over bytes whose states are derivative expressions (see
:mod:`enforcer.grammar.expr`). Three tables grow as generation reaches new states and are never
rebuilt:

* ``_table[state, byte]`` -> next state (0 is the dead state, -1 not derived yet), filled one
  byte class at a time, when a walk or a step first needs a byte of that class: most states are
  only ever read at a few bytes (the children of one trie node), so most classes are never derived;
* ``_accepting[state]`` -> EOS may come now;
* ``_masks[key]`` -> the packed token mask of a state, keyed by the state's *clamped* form so that
  states differing only in large repetition counts share one mask (``ExprFactory.clamp``).

A token mask is computed by walking the vocabulary's token trie level by level with numpy: the
states of all live nodes of one level come from one gather, ``T[state_of_parent, node_byte]``, and
dead nodes drop out with their whole subtree. The result is cached, so a repeated request costs a
dict lookup and a 16 KB copy per token.

Invariants the engine keeps (the point of the project):

* a token is allowed only if every one of its bytes is readable and the state it leaves is live
  (can still reach acceptance): no dead ends;
* special tokens and ids with no bytes are never allowed, except the EOS set, which is allowed
  exactly when the state accepts, and special tokens the grammar names (``ir.Special``), allowed
  where the grammar puts them; when nothing but EOS can follow, only EOS is allowed.

Named special tokens are symbols past the byte range: they have no trie node, so the walk never
sees them; their transitions are derived per state on demand and added to the mask when it is
filled, beside EOS.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import SchemaError, TokenRejectedError, VocabularyError
from .grammar.expr import ALT, AND, BYTES, CLASS, EMPTY, NEVER, NOT, REF, REPEAT, SEQ, SPECIAL, Expr, ExprFactory
from .trie import TokenTrie
from .vocab import Vocabulary

DEAD = 0
UNKNOWN = -1  # a transition not derived yet
_LIVENESS_BUDGET = 200_000
_SPARSE_LIMIT = 2048  # live children per level below which the walk visits only those
_TINY_LIMIT = 24  # ... and below which it visits them in plain Python


@dataclass(frozen=True)
class TokenRuns:
    """Tokens known to spell whole copies of ``item`` (an expression of the grammar's factory):
    ``counts[t]`` copies, or -1; the other tokens in ``residual`` (a trie of their own, with
    ``residual_token_node`` mapping ids to its nodes, or past its last node when absent).
    Contract: a token with ``counts[t] >= 1`` cannot be read as fewer copies of ``item``
    followed by something else (true of JSON string characters before a closing quote)."""

    item: Expr
    counts: np.ndarray
    residual: TokenTrie
    residual_token_node: np.ndarray


def _concat_ranges(starts: np.ndarray, counts: np.ndarray, total: int) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])`` without a loop."""
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total)


class Grammar:
    """A compiled constraint over one vocabulary: immutable from the outside, thread-safe, shared.

    Build one with :func:`enforcer.compile_json_schema` or :func:`enforcer.compile_regex`, then
    call :meth:`matcher` once per generated sequence.
    """

    def __init__(self, factory: ExprFactory, start: Expr, vocab: Vocabulary, *, source: str = "",
                 token_runs: tuple[TokenRuns, ...] = ()):
        self.vocab = vocab
        self.source = source
        self.approximations: list[tuple[str, str, str]] = []  # (pointer, keyword, what), strict=False
        self._factory = factory
        self._lock = threading.RLock()
        self._exprs: list[Expr] = [factory.never]
        self._state_of: dict[Expr, int] = {factory.never: DEAD}
        self._table = np.full((64, 256), UNKNOWN, dtype=np.int32)
        self._table[DEAD] = DEAD
        self._bounds: list[tuple[int, ...] | None] = [None]  # per state: byte class boundaries
        self._accepting: list[bool] = [False]
        self._masks: dict[int, np.ndarray] = {}
        self._mask_key: dict[int, int] = {}
        self._live: dict[Expr, bool] = {}
        self._runs = {r.item: r for r in token_runs}
        self._residual_masks: dict[int, np.ndarray] = {}
        self._clamp_bound = max(vocab.trie.max_depth, 1)
        token_node = np.full(vocab.size, vocab.trie.num_nodes, dtype=np.int64)  # default: not in trie
        known = vocab.trie.token_node[: vocab.size]
        token_node[: known.size] = np.where(known >= 0, known, vocab.trie.num_nodes)
        self._token_node = token_node
        self.n_words = (vocab.size + 31) // 32
        eos = np.asarray(sorted(vocab.eos_token_ids), dtype=np.int64)
        self._eos_ids = eos
        self._eos_words = (eos // 32).astype(np.int64)
        self._eos_bits = (np.ones(len(eos), dtype=np.uint32) << (eos % 32).astype(np.uint32)).view(np.int32)
        self._special_symbol: dict[int, int] = {}  # token id -> symbol, see _special_ids
        self._special_next: dict[int, dict[int, int]] = {}  # state -> {token id: next state}
        with self._lock:
            if not self._is_live(start, set()):
                raise SchemaError("the constraint admits no complete output (no string satisfies it)")
            self._special_ids()  # the start rules are lowered now: unknown names fail here
            self.initial_state = self._intern(start)

    def _special_ids(self) -> dict[int, int]:
        """``{token id: symbol}`` of the special tokens the grammar names.

        Rules are lowered lazily, so a grammar may name a new special token whenever a rule is
        first entered; names are resolved against the vocabulary as they appear.
        """
        specials = self._factory.specials
        if len(specials) != len(self._special_symbol):
            vocab = self.vocab
            for text, symbol in specials.items():
                token_id = vocab.special_token_id(text)
                if token_id is None:
                    raise SchemaError(f"the grammar names the special token {text!r}, which this "
                                      "vocabulary does not have")
                if token_id in vocab.eos_token_ids:
                    raise SchemaError(f"the grammar names {text!r}, an end-of-sequence token: EOS ends "
                                      "the output by itself once the grammar is complete; end the grammar there")
                self._special_symbol[token_id] = symbol
        return self._special_symbol

    # -- states -------------------------------------------------------------------------------

    def _intern(self, e: Expr) -> int:
        sid = self._state_of.get(e)
        if sid is None:
            sid = len(self._exprs)
            self._exprs.append(e)
            self._state_of[e] = sid
            self._accepting.append(self._factory.nullable(e))
            self._bounds.append(None)
            if sid >= self._table.shape[0]:
                grow = self._table.shape[0]
                self._table = np.concatenate([self._table, np.full((grow, 256), UNKNOWN, dtype=np.int32)])
        return sid

    def _is_live(self, e: Expr, entered: set | None = None) -> bool:
        """Can ``e`` still reach acceptance (is its language non-empty)?

        Structural for everything but intersections: a sequence is live when both parts are, an
        alternative when one is. Only an intersection needs a search, over its own derivatives,
        and that answer is memoised. Rules count as productive, except for the start state,
        checked with ``entered`` (a set): then rule bodies are looked into too, since a schema
        whose every branch is impossible lowers to rules with empty bodies; a rule met again while
        being examined counts as productive (its other branches decide).
        """
        kind = e.kind
        if kind == NEVER:
            return False
        if kind == REF:
            if entered is None or e.args[0] in entered:
                return True
            entered.add(e.args[0])
            return self._is_live(self._factory.resolve(e.args[0]), entered)
        if kind in (EMPTY, BYTES, CLASS, SPECIAL) or (entered is None and not e.has_bool):
            return True
        known = self._live.get(e) if entered is None else None
        if known is not None:
            return known
        if kind == SEQ:
            result = self._is_live(e.args[0], entered) and self._is_live(e.args[1], entered)
        elif kind == ALT:
            result = any(self._is_live(x, entered) for x in e.args)
        elif kind == REPEAT:
            result = e.args[1] == 0 or self._is_live(e.args[0], entered)
        elif kind == NOT:
            result = True  # the complement of what we build (a few key names) is never everything
        else:
            result = self._search_live(e)
        if entered is None:
            self._live[e] = result
        return result

    def _search_live(self, e: Expr) -> bool:
        """Depth-first search for an accepting derivative of an intersection.

        Children are derived one at a time (a derivative is the expensive part), so the usual
        case, where the first byte class tried already leads to acceptance, costs a few
        derivatives per level instead of a whole row each.
        """
        f = self._factory
        if f.nullable(e):
            return True
        seen = {e}
        stack = [(e, iter((0, *f.cuts(e))))]
        while stack:
            x, reps = stack[-1]
            rep = next(reps, None)
            if rep is None:
                stack.pop()
                continue
            y = f.derive(x, rep)
            if y.kind == NEVER or y in seen or self._live.get(y) is False:
                continue
            if f.nullable(y) or self._live.get(y) or (y.kind != AND and self._is_live(y)):
                for z, _ in stack:  # every state on the path reaches acceptance
                    self._live[z] = True
                return True
            seen.add(y)
            stack.append((y, iter((0, *f.cuts(y)))))
            if len(seen) > _LIVENESS_BUDGET:
                raise SchemaError("constraint too complex: cannot decide whether an intersection "
                                  "of its parts is empty")
        for y in seen:  # nothing reachable from e accepts
            self._live[y] = False
        return False

    def _derive_class(self, sid: int, byte: int) -> int:
        """Fill the table for the byte class of ``byte`` in state ``sid``: one derivative for
        every byte the class holds (bytes between two cuts behave alike). Returns the state."""
        with self._lock:
            known = int(self._table[sid, byte])
            if known != UNKNOWN:
                return known
            f = self._factory
            e = self._exprs[sid]
            bounds = self._bounds[sid]
            if bounds is None:
                bounds = self._bounds[sid] = (0, *f.cuts(e), 256)
            k = bisect.bisect_right(bounds, byte) - 1
            lo, hi = bounds[k], bounds[k + 1]
            d = f.derive(e, lo)
            nxt = self._intern(d) if d.kind != NEVER and self._is_live(d) else DEAD
            self._table[sid, lo:hi] = nxt
            return nxt

    def step(self, sid: int, data: bytes) -> int:
        """The state after reading ``data`` from ``sid`` (``DEAD`` if it cannot be read)."""
        for byte in data:
            nxt = int(self._table[sid, byte])
            sid = self._derive_class(sid, byte) if nxt == UNKNOWN else nxt
            if sid == DEAD:
                return DEAD
        return sid

    def is_accepting(self, sid: int) -> bool:
        return self._accepting[sid]

    def special_transitions(self, sid: int) -> dict[int, int]:
        """``{token id: next state}`` for the named special tokens that may come in ``sid``."""
        found = self._special_next.get(sid)
        if found is None:
            with self._lock:
                f, e = self._factory, self._exprs[sid]
                found, tried = {}, 0
                while tried < len(f.specials):  # a derivative may lower a rule naming a new one
                    tried = len(f.specials)
                    for token_id, symbol in list(self._special_ids().items()):
                        d = f.derive(e, symbol)
                        if d.kind != NEVER and self._is_live(d):
                            found[token_id] = self._intern(d)
                self._special_next[sid] = found
        return found

    def step_special(self, sid: int, token_id: int) -> int:
        """The state after the special token ``token_id`` (``DEAD`` if the grammar forbids it)."""
        return self.special_transitions(sid).get(token_id, DEAD)

    def names_special(self, token_id: int) -> bool:
        """Whether the grammar names this special token (so far: rules are lowered lazily)."""
        return token_id in self._special_ids()

    # -- token masks --------------------------------------------------------------------------

    def token_mask(self, sid: int) -> np.ndarray:
        """Packed int32 words: bit ``i % 32`` of word ``i // 32`` set iff token ``i`` may come
        next, EOS not included. Cached per (clamped) state; do not modify the result."""
        key = self._mask_key.get(sid)
        if key is not None:
            mask = self._masks.get(key)
            if mask is not None:
                return mask
        with self._lock:
            e = self._exprs[sid]
            key = self._intern(self._factory.clamp(e, self._clamp_bound))
            self._mask_key[sid] = key
            mask = self._masks.get(key)
            if mask is None:
                mask = self._runs_mask(key)
                if mask is None:
                    trie = self.vocab.trie
                    mask = self._pack(trie, *self._walk(key, trie), self._token_node)
                mask.setflags(write=False)
                self._masks[key] = mask
            return mask

    def _runs_mask(self, sid: int) -> np.ndarray | None:
        """The mask of ``x{lo,hi} tail`` when tokens made of whole copies of ``x`` are known
        (JSON string content): those tokens by their copy count, the rest by a walk of their own
        (much smaller) trie. ``None`` when the state has another shape.

        The two parts are kept apart: the whole-copy tokens depend only on ``hi``; the walk of
        the other tokens is clamped by *their* longest token (82 bytes for Llama 3, against 128
        for the vocabulary), so the states of a long string share it until its last characters.
        """
        e = self._exprs[sid]
        head = e.args[0] if e.kind == SEQ else e
        runs = self._runs.get(head.args[0]) if head.kind == REPEAT else None
        if runs is None:
            return None
        trie = runs.residual
        key = self._intern(self._factory.clamp(e, max(trie.max_depth, 1)))
        rest = self._residual_masks.get(key)
        if rest is None:
            rest = self._pack(trie, *self._walk(key, trie), runs.residual_token_node)
            self._residual_masks[key] = rest
        return self._whole_runs(runs, head.args[2]) | rest

    def _whole_runs(self, runs: TokenRuns, hi: int | None) -> np.ndarray:
        """Packed mask of the tokens of 1..``hi`` whole copies of the run's item; depends only
        on the vocabulary's count table, so it is kept per vocabulary, for every grammar."""
        cache = self.vocab.derived(f"whole-run-masks-{id(runs.counts)}", lambda _vocab: {})
        mask = cache.get(hi)
        if mask is None:
            whole = runs.counts >= 1
            if hi is not None:
                whole &= runs.counts <= hi
            bits = np.zeros(self.n_words * 32, dtype=bool)
            bits[: self.vocab.size] = whole
            mask = cache[hi] = np.packbits(bits, bitorder="little").view(np.int32)
        return mask

    def _walk(self, sid: int, trie: TokenTrie) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """The states reached at every node of ``trie`` from ``sid``: a breadth-first walk.

        While few nodes are alive, only their children are visited (cost ~ live nodes). Once a
        level has many live nodes (a free string: nearly the whole vocabulary), it switches to
        whole-level gathers, where dead parents simply map to the dead state: three numpy
        gathers per level and no bookkeeping.

        Returns ``(state_of_node, alive)``: ``alive`` lists the live nodes when the walk stayed
        sparse (so the mask can be built from them alone), ``None`` after a dense level.
        """
        level_order, child_start, child_count = trie.children_index
        node_byte, level_edges = trie.node_byte, trie.level_edges
        state_of_node = np.zeros(trie.num_nodes + 1, dtype=np.int32)  # last slot: "not in trie"
        state_of_node[0] = sid
        depth, node, sid, path = self._follow_literal(sid, state_of_node, trie)
        alive: list[np.ndarray] | None = [np.asarray(path, dtype=np.int64)]
        if node < 0:  # the trie has no token spelling the whole literal: only its prefixes
            return state_of_node, alive
        nodes = np.full(1, node, dtype=np.int64)
        states = np.full(1, sid, dtype=np.int32)
        dense = False
        while depth < len(level_edges) - 1:
            depth += 1
            if not dense:
                counts = child_count[nodes]
                total = int(counts.sum())
                if total == 0:
                    break
                if total <= _TINY_LIMIT:  # a handful of children: plain Python beats numpy calls
                    nodes, states = self._tiny_step(nodes, states, trie)
                elif total <= _SPARSE_LIMIT or node != 0:  # below a literal, level arrays don't fit
                    children = level_order[_concat_ranges(child_start[nodes], counts, total)]
                    parents = np.repeat(states, counts)
                    child_states = self._gather(parents, node_byte[children])
                    keep = child_states != DEAD
                    nodes, states = children[keep], child_states[keep]
                else:
                    dense, alive = True, None
                if not dense:
                    if nodes.size == 0:
                        break
                    state_of_node[nodes] = states
                    alive.append(nodes)
                    continue
            level, parents_of_level, bytes_of_level = level_edges[depth]
            level_states = self._gather(state_of_node[parents_of_level], bytes_of_level)
            state_of_node[level] = level_states
            if not level_states.any():
                break
        return state_of_node, alive

    def _tiny_step(self, nodes: np.ndarray, states: np.ndarray, trie: TokenTrie) -> tuple[np.ndarray, np.ndarray]:
        """One sparse level for a frontier of a few children (a run of spaces, the digits of a
        number): the live children and their states, read one by one."""
        level_order, child_start, child_count = trie.children_index
        node_byte, table = trie.node_byte, self._table
        kids: list[int] = []
        kid_states: list[int] = []
        for n, state in zip(nodes.tolist(), states.tolist()):
            start = int(child_start[n])
            for child in level_order[start: start + int(child_count[n])].tolist():
                byte = int(node_byte[child])
                nxt = int(table[state, byte])
                if nxt == UNKNOWN:
                    nxt = self._derive_class(state, byte)
                    table = self._table  # deriving may have grown the table
                if nxt != DEAD:
                    kids.append(child)
                    kid_states.append(nxt)
        return np.array(kids, dtype=np.int64), np.array(kid_states, dtype=np.int32)

    def _pack(self, trie: TokenTrie, state_of_node: np.ndarray, alive: list[np.ndarray] | None,
              token_node: np.ndarray) -> np.ndarray:
        """Packed mask of the tokens whose trie node was reached alive. From the live nodes' own
        token lists when the walk kept them (a few hundred nodes), else one gather over the
        whole vocabulary."""
        bits = np.zeros(self.n_words * 32, dtype=bool)
        if alive is None:
            bits[: self.vocab.size] |= state_of_node[token_node] != DEAD
        else:
            nodes = np.concatenate(alive) if len(alive) > 1 else alive[0]
            starts = trie.token_offsets[nodes]
            counts = trie.token_offsets[nodes + 1] - starts
            total = int(counts.sum())
            if total:
                bits[trie.token_ids[_concat_ranges(starts, counts, total)]] = True
        return np.packbits(bits, bitorder="little").view(np.int32)

    def _follow_literal(self, sid: int, state_of_node: np.ndarray,
                        trie: TokenTrie) -> tuple[int, int, int, list[int]]:
        """Forced text (a key name, ``":``, ``"}``) is walked along one trie path in Python.

        Returns ``(depth, node, state, path)`` where the generic walk resumes: the trie node
        below which tokens continue past the literal, and the state after it; ``path`` holds the
        nodes along the literal, whose tokens are allowed (they are also marked in
        ``state_of_node``). ``node`` is -1 when no token covers the literal.
        """
        e = self._exprs[sid]
        if e.kind == BYTES:
            literal, tail = e.args[0], self._factory.empty
        elif e.kind == SEQ and e.args[0].kind == BYTES:
            literal, tail = e.args[0].args[0], e.args[1]
        else:
            return 0, 0, sid, []
        node, path = 0, []
        for byte in literal:
            node = trie.child(node, byte)
            if node < 0:
                return len(literal), -1, DEAD, path
            state_of_node[node] = sid  # any live marker: these nodes' tokens are allowed
            path.append(node)
        if tail.kind == NEVER or not self._is_live(tail):
            return len(literal), -1, DEAD, path
        return len(literal), node, self._intern(tail), path

    def _gather(self, parents: np.ndarray, data: np.ndarray) -> np.ndarray:
        """``T[parents, data]``, deriving the transitions not derived yet."""
        index = parents.astype(np.int64) * 256 + data
        out = self._table.ravel()[index]
        missing = out == UNKNOWN
        if missing.any():
            for cell in np.unique(index[missing]).tolist():
                if self._table.ravel()[cell] == UNKNOWN:  # an earlier class fill may cover it
                    self._derive_class(cell >> 8, cell & 255)
            out = self._table.ravel()[index]
        return out

    def fill_mask(self, sid: int, out: np.ndarray, *, terminated: bool = False) -> None:
        """Write the allowed set of state ``sid`` (EOS included when accepting) into ``out``."""
        if terminated:
            out[:] = 0
        else:
            out[: self.n_words] = self.token_mask(sid)
            out[self.n_words:] = 0
        if terminated or self._accepting[sid]:
            np.bitwise_or.at(out, self._eos_words, self._eos_bits)
        if self._factory.specials and not terminated:
            for token_id in self.special_transitions(sid):
                out[token_id // 32] |= np.int32(np.uint32(1 << (token_id % 32)).view(np.int32))

    def matcher(self) -> Matcher:
        """A fresh matcher at the start of the output."""
        return Matcher(self)

    @property
    def num_states(self) -> int:
        return len(self._exprs)

    def __repr__(self) -> str:
        return f"Grammar({self.source or 'custom'}, states={self.num_states}, masks={len(self._masks)})"


class Matcher:
    """Follows one generated sequence through a grammar.

    ``fill_next_token_bitmask`` says what may come next, ``advance`` consumes the token that was
    sampled. Cheap to create and to :meth:`fork` (beam search, speculative decoding); all heavy
    state lives in the shared :class:`Grammar`.
    """

    __slots__ = ("grammar", "_states", "_terminated_at")

    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self._states = [grammar.initial_state]
        self._terminated_at: int | None = None  # history length when EOS was consumed

    @property
    def state(self) -> int:
        return self._states[-1]

    def is_complete(self) -> bool:
        """The output so far is a complete match: EOS may come now."""
        return self.grammar.is_accepting(self._states[-1])

    def is_terminated(self) -> bool:
        """An EOS token has been consumed."""
        return self._terminated_at is not None

    def fill_next_token_bitmask(self, bitmask: Any, row: int = 0) -> None:
        """Write the allowed tokens into row ``row`` of an int32 bitmask.

        ``bitmask`` is a numpy array or a CPU torch tensor of shape ``(rows, words)`` with
        ``words >= ceil(vocab.size / 32)``; bit ``i % 32`` of word ``i // 32`` is token ``i``.
        """
        out = _row_view(bitmask, row)
        if out.shape[0] < self.grammar.n_words:
            raise VocabularyError(
                f"bitmask has {out.shape[0]} words per row but the vocabulary needs "
                f"{self.grammar.n_words} ({self.grammar.vocab.size} tokens)")
        self.grammar.fill_mask(self._states[-1], out, terminated=self.is_terminated())

    def allowed_token_ids(self) -> list[int]:
        """The allowed token ids, ascending (EOS ids included when complete)."""
        words = np.zeros(self.grammar.n_words, dtype=np.int32)
        self.grammar.fill_mask(self._states[-1], words, terminated=self.is_terminated())
        bits = np.unpackbits(words.view(np.uint8), bitorder="little")
        return np.flatnonzero(bits[: self.grammar.vocab.size]).tolist()

    def is_token_allowed(self, token_id: int) -> bool:
        vocab = self.grammar.vocab
        if token_id in vocab.eos_token_ids:
            return self.is_terminated() or self.is_complete()
        if self.is_terminated() or not 0 <= token_id < vocab.size:
            return False
        if self.grammar.names_special(token_id):
            return self.grammar.step_special(self._states[-1], token_id) != DEAD
        mask = self.grammar.token_mask(self._states[-1])
        return bool((int(mask[token_id // 32]) >> (token_id % 32)) & 1)

    def advance(self, token_id: int) -> None:
        """Consume ``token_id``; raise :class:`TokenRejectedError` if the mask forbids it."""
        grammar = self.grammar
        vocab = grammar.vocab
        if type(token_id) is not int:
            # __index__ takes numpy/torch integer scalars and refuses floats and strings, which
            # int() would truncate or parse into a token nobody sampled; bools are not ids.
            try:
                is_bool = isinstance(token_id, (bool, np.bool_)) or str(getattr(token_id, "dtype", "")) == "torch.bool"
                index = None if is_bool else token_id.__index__()
            except (AttributeError, TypeError):
                index = None
            if index is None:
                raise TokenRejectedError(f"a token id must be an integer, got {token_id!r}")
            token_id = index
        if not 0 <= token_id < vocab.size:
            raise TokenRejectedError(f"token id {token_id} is outside the vocabulary (size {vocab.size})")
        state = self._states[-1]
        if token_id in vocab.eos_token_ids:
            if not (self.is_terminated() or grammar.is_accepting(state)):
                raise TokenRejectedError(f"EOS token {token_id} before the output is complete")
            if self._terminated_at is None:
                self._terminated_at = len(self._states)
            self._states.append(state)
            return
        if self.is_terminated():
            raise TokenRejectedError(f"token {token_id} after EOS")
        if grammar.names_special(token_id):
            nxt = grammar.step_special(state, token_id)
            if nxt == DEAD:
                text = vocab.special_token_text(token_id)
                raise TokenRejectedError(f"special token {token_id} ({text}) is not allowed here")
            self._states.append(nxt)
            return
        data = vocab.token_bytes(token_id)
        if data is None:
            raise TokenRejectedError(f"token {token_id} is a special token or has no bytes")
        nxt = grammar.step(state, data)
        if nxt == DEAD:
            raise TokenRejectedError(f"token {token_id} ({data!r}) is not allowed here")
        self._states.append(nxt)

    def rollback(self, n_tokens: int = 1) -> None:
        """Undo the last ``n_tokens`` advances (speculative decoding, backtracking)."""
        if n_tokens < 0 or n_tokens >= len(self._states):
            raise ValueError(f"cannot roll back {n_tokens} tokens: {len(self._states) - 1} consumed")
        if n_tokens:
            del self._states[-n_tokens:]
        if self._terminated_at is not None and len(self._states) <= self._terminated_at:
            self._terminated_at = None

    def fork(self) -> Matcher:
        """An independent copy at the same position."""
        twin = Matcher.__new__(Matcher)
        twin.grammar = self.grammar
        twin._states = list(self._states)
        twin._terminated_at = self._terminated_at
        return twin

    def reset(self) -> None:
        self._states = [self.grammar.initial_state]
        self._terminated_at = None

    @property
    def num_tokens(self) -> int:
        return len(self._states) - 1


def _row_view(bitmask: Any, row: int) -> np.ndarray:
    """Row ``row`` of a numpy array or CPU torch tensor, as a writable int32 numpy view."""
    if isinstance(bitmask, np.ndarray):
        array = bitmask
    elif hasattr(bitmask, "numpy") and str(getattr(bitmask, "device", "cpu")) == "cpu":
        array = bitmask.numpy()
    else:
        raise TypeError("bitmask must be a numpy array or a CPU torch tensor; apply it to GPU "
                        "logits with enforcer.masking")
    if array.dtype != np.int32:
        raise TypeError(f"bitmask must be int32, got {array.dtype}")
    return array[row] if array.ndim == 2 else array
