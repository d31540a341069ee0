"""A lazily built DFA over bytes whose states are derivative expressions, and the trie walk.

Three tables grow as walks and steps reach new states and are never rebuilt:

* ``table[state, byte]`` -> next state (0 is the dead state, -1 not derived yet), filled one byte
  class at a time, when a walk or a step first needs a byte of that class: most states are only
  ever read at a few bytes (the children of one trie node), so most classes are never derived;
* ``accepting[state]`` -> the state's expression is nullable;
* ``exprs[state]`` / ``state_of[expr]``.

A trie walk computes the state reached at every node of a token trie from one state: level by
level, with numpy while many nodes are alive (the states of all live nodes of one level come from
one gather, ``T[state_of_parent, node_byte]``) and in plain Python for a handful. A dead node
drops out with its whole subtree.

Two kinds of automata exist: a grammar's (its states are whole "what may still follow"
expressions) and a compiler's lexeme automaton (its states are lexemes only, shared by every
grammar of the vocabulary). The walk is the same.
"""

from __future__ import annotations

import bisect
import heapq
from typing import Callable

import numpy as np

from ..errors import LimitExceededError
from .expr import AND, BYTES, CLASS, EMPTY, LEX, NEVER, NOT, REF, REPEAT, SEQ, SPECIAL, Expr, ExprFactory, class_byte
from ..trie import TokenTrie
from .texts import Texts

DEAD = 0
UNKNOWN = -1  # a transition not derived yet
_SPARSE_LIMIT = 2048  # live children per level below which the walk visits only those
_TINY_LIMIT = 24  # ... and below which it visits them in plain Python
_MAX_STEPS = 100_000  # (state, token) steps kept per automaton (then forgotten at once): ~12 MB
_UNSET = object()
_TEXT_CHECKS = 64  # derivatives a best-first liveness search tries by their texts (see _nearest_text)
_TEXT_BYTES = 256  # ... and the longest text it builds
_TEXTS_MEMO = 100_000  # expressions whose text a liveness check keeps (then forgotten at once)


def concat_ranges(starts: np.ndarray, counts: np.ndarray, total: int) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])`` without a loop."""
    offsets = counts.cumsum() - counts  # methods: np.cumsum and np.repeat are Python wrappers
    return (starts - offsets).repeat(counts) + np.arange(total)


def _mark_live(x: Expr, into: dict[Expr, list[Expr]]) -> None:
    """``x`` reaches acceptance, and so does every state a search found with a path to it (the
    path, and the states explored before that lead into it: later searches start from such
    states)."""
    live = [x]
    while live:
        z = live.pop()
        if z.live is not True:
            z.live = True
            live.extend(into.get(z, ()))


class Automaton:
    """States, transitions and liveness over one expression factory (see the module docstring).

    Not thread-safe by itself: its owner holds the factory's lock around every call.
    """

    def __init__(self, factory: ExprFactory, *, max_states: int, what: str = "grammar"):
        self.factory = factory
        self.max_states = max_states
        self.what = what
        self.exprs: list[Expr] = [factory.never]
        self.state_of: dict[Expr, int] = {factory.never: DEAD}
        self.table = np.full((64, 256), UNKNOWN, dtype=np.int32)
        self.table[DEAD] = DEAD  # interned below its capacity: rows past the last state are unset
        self.accepting = np.zeros(64, dtype=bool)
        self._bounds: list[tuple[int, ...] | None] = [None]
        # per state and byte, the lowest byte of the byte's class (see gather_cells), once the
        # state's classes are known (_has_classes)
        self._class_start = np.zeros((64, 256), dtype=np.uint8)
        self._has_classes = np.zeros(64, dtype=bool)
        self._steps: dict[tuple[int, bytes], int] = {}  # (state, token bytes) -> state, see step
        self._gap_shapes: dict[int, tuple | None] = {}  # see _gap_literal
        self._gaps: dict[tuple, tuple] = {}  # see _gap_below
        self._texts = Texts(factory, memo=_TEXTS_MEMO, max_text=_TEXT_BYTES, rules=False)  # see _search_live

    # -- states -------------------------------------------------------------------------------

    def intern(self, e: Expr) -> int:
        sid = self.state_of.get(e)
        if sid is None:
            sid = len(self.exprs)
            if sid >= self.max_states:
                raise LimitExceededError(f"the {self.what} automaton reached {sid} states",
                                         limit="max_states", value=sid + 1, allowed=self.max_states)
            self.exprs.append(e)
            self.state_of[e] = sid
            self._bounds.append(None)
            if sid >= self.table.shape[0]:
                self._grow()
            self.table[sid] = UNKNOWN
            self.accepting[sid] = self.factory.nullable(e)
        return sid

    def _grow(self) -> None:
        """Double the state capacity. Rows past the last state are left unwritten (a state's
        row is set when it is interned, its class starts when its classes are): filling the
        new half first had cost a whole step its time once a shared lexeme automaton held
        16,000 states (MaskBench o59980, 36 ms of one mask)."""
        n = self.table.shape[0]
        table = np.empty((2 * n, 256), dtype=np.int32)
        table[:n] = self.table
        self.table = table
        starts = np.empty((2 * n, 256), dtype=np.uint8)
        starts[:n] = self._class_start
        self._class_start = starts
        self.accepting = np.concatenate([self.accepting, np.zeros(n, dtype=bool)])
        self._has_classes = np.concatenate([self._has_classes, np.zeros(n, dtype=bool)])

    @property
    def num_states(self) -> int:
        return len(self.exprs)

    def memory_bytes(self) -> int:
        return (int(self.table.nbytes + self._class_start.nbytes) + 200 * len(self.exprs)
                + 120 * len(self._steps))

    # -- liveness -----------------------------------------------------------------------------

    def is_live(self, e: Expr) -> bool:
        """Can ``e`` still reach acceptance (is its language non-empty)?

        Structural for everything but intersections: a sequence is live when both parts are, an
        alternative when one is. Only an intersection needs a search, over its own derivatives,
        and that answer is kept on the expression. Rules count as productive (the compiler
        checks them before anything runs).
        """
        kind = e.kind
        if kind == NEVER:
            return False
        if not e.has_bool or kind in (REF, EMPTY, BYTES, CLASS, SPECIAL):
            return True
        known = e.live
        if known is not None:
            return known
        if kind == SEQ:
            result = True
            x = e
            while x.kind == SEQ:
                if not self.is_live(x.args[0]):
                    result = False
                    break
                x = x.args[1]
                if not x.has_bool or x.live is not None:  # the rest is known (or plain)
                    result = x.live is not False
                    break
            else:
                result = self.is_live(x)
        elif kind == LEX:
            result = self.is_live(e.args[0])
        elif kind == REPEAT:
            result = e.args[1] == 0 or self.is_live(e.args[0])
        elif kind == NOT:
            result = True  # the complement of what we build (a few key names) is never everything
        elif kind == AND:
            result = self._search_live(e)
        else:  # ALT
            result = any(self.is_live(x) for x in e.args)
        e.live = result
        return result

    def _search_live(self, e: Expr) -> bool:
        """Whether an intersection accepts some string.

        First by a text of one of its parts that the others accept (:mod:`~enforcer.engine.texts`:
        a format's string under a length limit, a few derivatives). Then by searching its
        derivatives: best first while few (:meth:`_nearest_text`), then depth first
        (:meth:`_depth_first`), which decides every intersection the limits allow.
        """
        if self.factory.nullable(e) or self._texts.text(e) is not None:
            return True
        found = self._nearest_text(e)
        return self._depth_first(e) if found is None else found

    def _nearest_text(self, e: Expr) -> bool | None:
        """A search for a derivative of ``e`` with a text (see :meth:`_search_live`), best first
        by the bytes read plus the longest text of a part (what is at least left to read,
        roughly), over at most :data:`_TEXT_CHECKS` derivatives; ``None`` when undecided.

        Where no part's text fits the others, one most often does a few bytes further: inside an
        ASCII label of a host name that must hold a Latin-1 letter, ``ß`` cannot continue the
        label and the label's ``a`` holds no ``ß``, but ``a.ß`` fits. Depth first in byte order,
        that state explored every ASCII label before its ``ß``: 17,000 derivatives, 30 ms of
        one mask (MaskBench o69992). Where the nearest text lies far (the remainders of a
        ``multipleOf``), the search stops early and leaves the state to the depth-first one."""
        f, texts = self.factory, self._texts
        seen = {e}
        into: dict[Expr, list[Expr]] = {}  # the derivation edges found, reversed
        found_in: list[Expr] = [e]  # states in the order they were found
        depth = [0]
        pending = [(self._left_to_read(e), 0)]  # heap: (estimate, -index), the newest of equals first
        checks = _TEXT_CHECKS
        while pending:
            index = -heapq.heappop(pending)[1]
            x, below = found_in[index], depth[index] + 1
            for rep in (0, *f.cuts(x)):
                y = self._unseen(x, rep, seen, into)
                if y is None:
                    continue
                estimate = 0
                if y.kind != AND:
                    found = self.is_live(y)
                    if not found:
                        continue
                elif f.nullable(y) or y.live is True:
                    found = True
                elif checks == 0:
                    return None
                else:
                    checks -= 1
                    found = texts.text(y) is not None
                    estimate = self._left_to_read(y)
                if found:
                    _mark_live(x, into)
                    return True
                seen.add(y)
                into[y] = [x]
                heapq.heappush(pending, (below + estimate, -len(found_in)))
                found_in.append(y)
                depth.append(below)
        for y in seen:  # nothing reachable from e accepts
            y.live = False
        return False

    def _depth_first(self, e: Expr) -> bool:
        """Depth-first search for an accepting derivative of an intersection.

        Children are derived one at a time (a derivative is the expensive part), so where the
        first byte class tried already leads to acceptance it costs a few derivatives per level
        instead of a whole row each.
        """
        f = self.factory
        seen = {e}
        into: dict[Expr, list[Expr]] = {}  # the derivation edges found, reversed
        stack = [(e, iter((0, *f.cuts(e))))]
        while stack:
            x, reps = stack[-1]
            rep = next(reps, None)
            if rep is None:
                stack.pop()
                continue
            y = self._unseen(x, rep, seen, into)
            if y is None:
                continue
            if f.nullable(y) or y.live or (y.kind != AND and self.is_live(y)):
                _mark_live(x, into)
                return True
            seen.add(y)
            into[y] = [x]
            stack.append((y, iter((0, *f.cuts(y)))))
            if len(seen) > self.max_states:  # the search's states count against the same budget
                raise LimitExceededError("cannot decide whether an intersection of the constraint's "
                                         "parts is empty", limit="max_states", allowed=self.max_states)
        for y in seen:  # nothing reachable from e accepts
            y.live = False
        return False

    def _unseen(self, x: Expr, rep: int, seen: set[Expr], into: dict[Expr, list[Expr]]) -> Expr | None:
        """A search's next derivative of ``x`` (by the byte class of ``rep``), or ``None`` when it
        is empty or met already in this search (its edge from ``x`` is then recorded)."""
        y = self.factory.derive(x, rep)
        if y.kind == NEVER or y.live is False:
            return None
        if y in seen:
            into.setdefault(y, []).append(x)
            return None
        return y

    def _left_to_read(self, e: Expr) -> int:
        """The search's estimate of the bytes an intersection has still to read: its longest
        part's text (0 where none is built)."""
        texts = self._texts
        return max((len(t) for t in (texts.text(x) for x in e.args) if t is not None), default=0)

    # -- transitions --------------------------------------------------------------------------

    def _class_bounds(self, sid: int) -> tuple[int, ...]:
        bounds = self._bounds[sid]
        if bounds is None:
            bounds = self._bounds[sid] = (0, *self.factory.cuts(self.exprs[sid]), 256)
            edges = np.asarray(bounds, dtype=np.int64)
            self._class_start[sid] = edges[:-1].repeat(edges[1:] - edges[:-1])
            self._has_classes[sid] = True
        return bounds

    def derive_class(self, sid: int, byte: int) -> int:
        """Fill the table for the byte class of ``byte`` in state ``sid``: one derivative for
        every byte the class holds (bytes between two cuts behave alike). Returns the state."""
        known = int(self.table[sid, byte])
        if known != UNKNOWN:
            return known
        bounds = self._class_bounds(sid)
        return self._derive_class_index(sid, bounds, bisect.bisect_right(bounds, byte) - 1)

    def _derive_class_index(self, sid: int, bounds: tuple[int, ...], k: int) -> int:
        lo, hi = bounds[k], bounds[k + 1]
        d = self.factory.derive(self.exprs[sid], lo)
        nxt = self.intern(d) if d.kind != NEVER and self.is_live(d) else DEAD
        self.table[sid, lo:hi] = nxt
        return nxt

    def step(self, sid: int, data: bytes, read_rest: Callable[[int, bytes, int], int] | None = None) -> int:
        """The state after reading ``data`` (a token's bytes) from ``sid`` (``DEAD`` if it
        cannot be read).

        The table answers as far as mask walks filled it; past that, ``read_rest(state, data,
        i)`` reads the rest (a grammar reads it branch by branch, see
        :meth:`~enforcer.engine.grammar.Grammar.step`; by default the bytes are derived on the
        expression). Only the state reached is interned: the states inside a token are rarely a
        state of their own again (the next mask starts after the token), and the reached
        state's liveness decides the token. Kept per (state, bytes): a repeated request reads
        one dict entry per token.
        """
        key = (sid, data)
        found = self._steps.get(key)
        if found is not None:
            return found
        nxt, i = self.follow(sid, data, 0)
        if nxt != DEAD and i < len(data):
            nxt = (read_rest or self.derive_rest)(nxt, data, i)
        if len(self._steps) >= _MAX_STEPS:
            self._steps.clear()
        self._steps[key] = nxt
        return nxt

    def follow(self, sid: int, data: bytes, start: int) -> tuple[int, int]:
        """Read ``data[start:]`` from ``sid`` as far as the table knows: ``(state, index)``
        where it stopped, at the end, at ``DEAD``, or before the first transition not derived
        yet."""
        table = self.table
        i, n = start, len(data)
        while i < n:
            cell = int(table[sid, data[i]])
            if cell == UNKNOWN:
                break
            sid, i = cell, i + 1
            if sid == DEAD:
                break
        return sid, i

    def derive_rest(self, sid: int, data: bytes, start: int) -> int:
        """The state after ``data[start:]`` from ``sid``, derived on its expression."""
        e = self.derive_bytes(self.exprs[sid], data, start)
        return self.intern(e) if e.kind != NEVER and self.is_live(e) else DEAD

    def derive_bytes(self, e: Expr, data: bytes, start: int = 0) -> Expr:
        """``e`` derived by ``data[start:]``."""
        f = self.factory
        if e._cuts is None:
            f.cuts(e)  # a state: met again by other tokens, worth its byte classes
        for i in range(start, len(data)):
            if e.kind == NEVER:
                break
            # with byte classes known, by the class's lowest byte (kept for the whole class);
            # else by the byte itself: the class's bounds would cost as much
            e = f.derive(e, data[i] if e._cuts is None else class_byte(e._cuts, data[i]))
        return e

    def gather(self, parents: np.ndarray, data: np.ndarray) -> np.ndarray:
        """``T[parents, data]``, deriving the transitions not derived yet (one derivative per
        byte class touched)."""
        return self.gather_cells(parents.astype(np.int64) * 256 + data)

    def gather_cells(self, cells: np.ndarray) -> np.ndarray:
        """``T.ravel()[cells]`` for cells ``state * 256 + byte`` (int64), deriving the
        transitions not derived yet.

        The missing cells are mapped to their class's first byte through a per-state table
        and made distinct in one ``np.unique``: a cold walk meets hundreds of new states per
        trie level, and grouping the cells state by state (a mask over all of them per state)
        had cost twice the derivatives themselves."""
        out = self.table.ravel()[cells]
        missing = out == UNKNOWN
        if missing.any():
            todo = cells[missing]
            states = todo >> 8
            new = states[~self._has_classes[states]]
            if new.size:
                for sid in np.unique(new).tolist():
                    self._class_bounds(sid)
            firsts = np.unique((todo & ~255) | self._class_start.ravel()[todo])
            for cell in firsts.tolist():
                self.derive_class(cell >> 8, cell & 255)
            out = self.table.ravel()[cells]
        return out

    # -- trie walks ---------------------------------------------------------------------------

    def walk(self, sid: int, trie: TokenTrie) -> "Walk":
        """The live nodes of ``trie`` read from ``sid``, and their states: breadth first.

        While few nodes are alive, only their children are visited (cost ~ live nodes). Once a
        level has many live nodes (a free string: nearly the whole vocabulary), it switches to
        whole-level gathers, where dead parents simply map to the dead state: three numpy
        gathers per level and no bookkeeping. Two shapes of state start faster: forced text
        (a key name, ``":``), followed along one trie path in Python, and a leading whitespace
        run, whose trie paths are known (see :meth:`_leading_gap`).
        """
        found = self._leading_gap(sid, trie)
        if found is not None:
            return found
        nodes_out: list[np.ndarray] = []
        states_out: list[np.ndarray] = []
        path, path_states, node, sid = self._follow_literal(sid, trie)
        if path:
            nodes_out.append(np.asarray(path, dtype=np.int64))
            states_out.append(np.asarray(path_states, dtype=np.int32))
        if node < 0:  # the trie has no token spelling the whole literal: only its prefixes
            return Walk.of(nodes_out, states_out)
        depth = len(path)
        level_order, child_start, child_count = trie.children_index
        node_byte, max_depth = trie.node_byte, len(trie.levels) - 1
        nodes = np.full(1, node, dtype=np.int64)
        states = np.full(1, sid, dtype=np.int32)
        while depth < max_depth:
            depth += 1
            counts = child_count[nodes]
            total = int(counts.sum())
            if total == 0:
                break
            if total <= _TINY_LIMIT:  # a handful of children: plain Python beats numpy calls
                nodes, states = self._tiny_step(nodes, states, trie)
            elif total <= _SPARSE_LIMIT or node != 0:  # below a literal, level arrays don't fit
                children = level_order[concat_ranges(child_start[nodes], counts, total)]
                child_states = self.gather(states.repeat(counts), node_byte[children])
                keep = child_states != DEAD
                nodes, states = children[keep], child_states[keep]
            else:
                return self._dense(trie, depth, nodes_out, states_out, nodes, states)
            if nodes.size == 0:
                break
            nodes_out.append(nodes)
            states_out.append(states)
        return Walk.of(nodes_out, states_out)

    def _dense(self, trie: TokenTrie, depth: int, nodes_out: list[np.ndarray], states_out: list[np.ndarray],
               nodes: np.ndarray, states: np.ndarray) -> "Walk":
        """Finish a walk over whole levels from ``depth`` on (``nodes`` are the live nodes of the
        level above), in the trie's level order: each level is a slice of one state array,
        computed from the slice above with five numpy calls into two scratch buffers."""
        layout = trie.level_layout
        offsets, position, sizes = layout.offsets, layout.position, layout.sizes
        slots = np.zeros(trie.num_nodes + 1, dtype=np.int32)  # last slot: "not in the trie"
        for n, st in zip(nodes_out, states_out):
            slots[position[n]] = st
        slots[position[nodes]] = states
        widest = layout.widest
        parent_states, index_buffer = np.empty(widest, dtype=np.int32), np.empty(widest, dtype=np.intp)
        while depth < len(sizes):
            above = slots[offsets[depth - 1]:offsets[depth]]
            size = sizes[depth]
            parent_state = parent_states[:size]
            above.take(layout.parent_slot[depth], out=parent_state, mode="clip")  # "clip": in range, no buffer
            index = index_buffer[:size]
            np.left_shift(parent_state, 8, out=index)
            index |= layout.edge_byte[depth]
            level = slots[offsets[depth]:offsets[depth + 1]]
            self.table.take(index, out=level, mode="clip")
            flags = np.bitwise_or.reduce(level)  # < 0: some UNKNOWN (-1); 0: all DEAD
            if flags < 0:
                level[:] = self.gather_cells(index)
                flags = np.bitwise_or.reduce(level)
            if flags == 0:
                break
            depth += 1
        slots[0] = DEAD
        return Walk.over_levels(slots, layout.order)

    def _leading_gap(self, sid: int, trie: TokenTrie) -> "Walk | None":
        """A state that starts with a bounded whitespace run, ``[ \\t\\n\\r]{0,m} rest`` where
        ``rest`` is not empty and cannot start with whitespace (every lexeme of the flexible JSON
        layout), is walked without deriving the run: the trie's whitespace-only paths up to
        ``m`` bytes are known, and every other byte below them is read from ``rest``, one state
        for all of them. ``None`` for a state of another shape."""
        run = leading_run(self.exprs[sid])
        if run is None:
            return None
        space, most, rest = run
        f = self.factory
        literal = self._leading_literal(rest)
        if literal is not None:  # the usual case (a key, a bracket): its first byte says it all
            if (space >> literal[0][0]) & 1:
                return None
        elif (f.nullable(rest) or not self.is_live(rest)
                or any(f.derive(rest, b).kind != NEVER for b in range(256) if (space >> b) & 1)):
            return None  # rest may be empty or start with whitespace too: the general walk
        runs = trie.runs_array(space, most)
        rest_sid = self.intern(rest)
        # where tokens leave the whitespace, by byte: read each byte class of rest once
        by_byte = trie.run_children(space, most)
        if literal is not None:
            text, tail = literal
            kids = by_byte.get(text[0])
            nodes, states = self._literal_from(kids, rest_sid, text, tail, trie) if kids is not None else ([], [])
        else:
            bytes_, groups = trie.run_children_arrays(space, most)
            row = self.row_gather(rest_sid, bytes_)
            live = np.flatnonzero(row != DEAD)
            if live.size:
                firsts = [groups[i] for i in live.tolist()]
                first_states = [np.full(groups[i].size, row[i], dtype=np.int32) for i in live.tolist()]
                nodes, states = self.walk_on(np.concatenate(firsts), np.concatenate(first_states), trie)
            else:
                nodes, states = [], []
        # the whitespace-only tokens: live, not accepting (rest is not nullable): rest_sid marks them
        nodes.insert(0, runs[1:])
        states.insert(0, np.full(runs.size - 1, rest_sid, dtype=np.int32))
        return Walk.of(nodes, states)

    def _leading_literal(self, e: Expr) -> tuple[bytes, Expr] | None:
        """``(text, tail)`` when ``e`` is literal ``text`` then ``tail``."""
        if e.kind == BYTES:
            return e.args[0], self.factory.empty
        if e.kind == SEQ and e.args[0].kind == BYTES:
            return e.args[0].args[0], e.args[1]
        return None

    def _literal_from(self, firsts: np.ndarray, sid: int, text: bytes, tail: Expr,
                      trie: TokenTrie) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The walk of ``text tail`` (state ``sid``) from nodes that already read ``text[0]``:
        the literal followed node by node in Python, then a sparse walk of ``tail`` below the
        nodes that spell all of it."""
        nodes: list[int] = []
        ends: list[int] = []
        for node in firsts.tolist():
            for byte in text[1:]:
                nodes.append(node)
                node = trie.child(node, byte)
                if node < 0:
                    break
            else:
                ends.append(node)
        states = [sid] * len(nodes)  # a live, non-accepting marker: the literal is not done
        nodes_out = [np.asarray(nodes, dtype=np.int64)] if nodes else []
        states_out = [np.asarray(states, dtype=np.int32)] if nodes else []
        if ends and tail.kind != NEVER and self.is_live(tail):
            tail_sid = self.intern(tail)
            end_nodes = np.asarray(ends, dtype=np.int64)
            nodes_out.append(end_nodes)
            states_out.append(np.full(end_nodes.size, tail_sid, dtype=np.int32))
            more, more_states = self._walk_from(end_nodes, tail_sid, trie, markers=True)
            nodes_out.extend(more)
            states_out.extend(more_states)
        return nodes_out, states_out

    def _walk_from(self, starts: np.ndarray, sid: int, trie: TokenTrie, skip: int = 0, *,
                   markers: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Sparse walk below ``starts`` (at any depths), all reading from state ``sid``;
        children by a byte in the 256-bit ``skip`` mask are left out at the first level.
        Returns the live nodes and their states, level by level.

        With ``markers``, for callers that need only which nodes are live and which accept (a
        mask, a crossing), nodes inside fixed text may carry ``sid``, a live and not accepting
        marker, instead of their own state: see :meth:`_walk_gap_literal`. Without it every
        state is true (the budget follows where each token leads)."""
        if markers and not skip and starts.size <= _TINY_LIMIT:
            shape = self._gap_literal(sid)
            if shape is not None:
                return self._walk_gap_literal(starts, sid, shape, trie)
        nodes_out: list[np.ndarray] = []
        states_out: list[np.ndarray] = []
        if starts.size <= _TINY_LIMIT and sum(len(trie.children_map(n)) for n in starts.tolist()) <= _TINY_LIMIT:
            nodes, states = self._tiny_step(starts, np.full(starts.size, sid, dtype=np.int32), trie, skip)
            return self.walk_on(nodes, states, trie)
        children, kid_bytes = trie.children_of(starts)
        if children.size == 0:
            return nodes_out, states_out
        if skip:
            keep = ~_in_mask(kid_bytes, skip)
            children, kid_bytes = children[keep], kid_bytes[keep]
        states = self.row_gather(sid, kid_bytes)  # one source state: one row of the table
        live = states != DEAD
        return self.walk_on(children[live], states[live], trie)

    def _gap_literal(self, sid: int) -> tuple[frozenset[int], int, bytes, Expr] | None:
        """``(space bytes, most, text, rest)`` when state ``sid`` is ``[space]{0,most} text rest``
        or ``text rest`` (``most`` 0), ``text`` not starting with a space byte: a key with its
        colon, an enum value, a bracket, each after the layout's whitespace. Kept per state."""
        found = self._gap_shapes.get(sid, _UNSET)
        if found is not _UNSET:
            return found  # type: ignore[return-value]
        e = self.exprs[sid]
        run = leading_run(e)
        space: frozenset[int] = frozenset()
        most = 0
        if run is not None:
            mask, most, e = run
            space = frozenset(b for b in range(256) if (mask >> b) & 1)
        elif e.kind == LEX:
            e = e.args[0]
        literal = self._leading_literal(e)
        found = None
        if literal is not None and literal[0][0] not in space:
            found = (space, most, literal[0], literal[1])
        self._gap_shapes[sid] = found
        return found

    def _walk_gap_literal(self, starts: np.ndarray, sid: int, shape: tuple[frozenset[int], int, bytes, Expr],
                          trie: TokenTrie) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The sparse walk below a few ``starts`` of a state ``[space]{0,most} text rest`` (see
        :meth:`_gap_literal`), followed along the trie in Python: no derivative until ``rest``
        (nodes before it carry ``sid`` as a marker: ``markers`` walks only).
        Most crossings into the next key or value are this shape, and each key is a state of its
        own, met once: deriving its whitespace run and text byte by byte cost more than the
        whole walk."""
        space, most, text, rest = shape
        if rest.kind == NEVER or not self.is_live(rest):
            return [], []
        gap, firsts = self._gap_below(starts, space, most, trie)
        nodes_out = [gap] if gap.size else []
        states_out = [np.full(gap.size, sid, dtype=np.int32)] if gap.size else []  # sid: live, not accepting
        heads = firsts.get(text[0])
        if heads is not None:
            nodes, states = self._literal_from(np.asarray(heads, dtype=np.int64), sid, text, rest, trie)
            nodes_out.extend(nodes)
            states_out.extend(states)
        return nodes_out, states_out

    def _gap_below(self, starts: np.ndarray, space: frozenset[int], most: int,
                   trie: TokenTrie) -> tuple[np.ndarray, dict[int, list[int]]]:
        """Below ``starts``: the nodes of runs of up to ``most`` bytes of ``space``, and the
        children of the starts and of those nodes by any other byte, by byte. Kept for the
        start sets asked about (a lexeme space's node sets: the same few dozen come back for
        every key and value that follows them)."""
        key = (id(starts), space, most)
        hit = self._gaps.get(key)
        if hit is not None and hit[0] is starts:
            return hit[1], hit[2]
        gap: list[int] = []
        firsts: dict[int, list[int]] = {}
        frontier = starts.tolist()
        for level in range(most + 1):
            kids: list[int] = []
            for node in frontier:
                for byte, child in trie.children_map(node).items():
                    if byte in space:
                        kids.append(child)
                    else:
                        firsts.setdefault(byte, []).append(child)
            if level == most or not kids:
                break
            gap.extend(kids)
            frontier = kids
        found = (starts, np.asarray(gap, dtype=np.int64), firsts)
        if len(self._gaps) >= 4096:
            self._gaps.clear()
        self._gaps[key] = found
        return found[1], found[2]

    def walk_on(self, nodes: np.ndarray, states: np.ndarray,
                trie: TokenTrie) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Continue a sparse walk from live ``nodes`` in ``states``: they and every live node
        below them, with their states, level by level."""
        nodes_out: list[np.ndarray] = []
        states_out: list[np.ndarray] = []
        level_order, child_start, child_count = trie.children_index
        node_byte = trie.node_byte
        while nodes.size:
            nodes_out.append(nodes)
            states_out.append(states)
            counts = child_count[nodes]
            total = int(counts.sum())
            if total == 0:
                break
            if total <= _TINY_LIMIT:
                nodes, states = self._tiny_step(nodes, states, trie)
            else:
                children = level_order[concat_ranges(child_start[nodes], counts, total)]
                child_states = self.gather(states.repeat(counts), node_byte[children])
                keep = child_states != DEAD
                nodes, states = children[keep], child_states[keep]
        return nodes_out, states_out

    def rows_gather(self, sids: list[int], data: np.ndarray) -> np.ndarray:
        """``T[sid, data]`` for several states at once (one row each), deriving what is missing."""
        out = self.table[np.asarray(sids, dtype=np.int64)][:, data]
        if (out == UNKNOWN).any():
            for i, sid in enumerate(sids):
                if (out[i] == UNKNOWN).any():
                    out[i] = self.row_gather(sid, data)
        return out

    def row_gather(self, sid: int, data: np.ndarray) -> np.ndarray:
        """``T[sid, data]``: the next states of one state for many bytes, deriving the byte
        classes not derived yet."""
        out = self.table[sid][data]
        missing = out == UNKNOWN
        if missing.any():
            self._class_bounds(sid)
            for first in np.unique(self._class_start[sid][data[missing]]).tolist():
                self.derive_class(sid, first)
            out = self.table[sid][data]
        return out

    def walk_below(self, starts: np.ndarray, sid: int, trie: TokenTrie) -> np.ndarray:
        """The live nodes strictly below the nodes ``starts`` (at any depths), reading their
        bytes from state ``sid``: how tokens continue after a lexeme ends inside them. Sparse
        only: what lies below a lexeme's end is a small part of the trie."""
        nodes, _ = self._walk_from(starts, sid, trie, markers=True)
        if not nodes:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(nodes) if len(nodes) > 1 else nodes[0]

    def _tiny_step(self, nodes: np.ndarray, states: np.ndarray, trie: TokenTrie,
                   skip: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """One sparse level for a frontier of a few children (a run of spaces, the digits of a
        number): the live children and their states, read one by one (children by a byte in
        the ``skip`` mask left out)."""
        table = self.table
        kids: list[int] = []
        kid_states: list[int] = []
        for n, state in zip(nodes.tolist(), states.tolist()):
            for byte, child in trie.children_map(n).items():
                if skip and (skip >> byte) & 1:
                    continue
                nxt = int(table[state, byte])
                if nxt == UNKNOWN:
                    nxt = self.derive_class(state, byte)
                    table = self.table  # deriving may have grown the table
                if nxt != DEAD:
                    kids.append(child)
                    kid_states.append(nxt)
        return np.array(kids, dtype=np.int64), np.array(kid_states, dtype=np.int32)

    def _follow_literal(self, sid: int, trie: TokenTrie) -> tuple[list[int], list[int], int, int]:
        """Forced text (a key name, ``":``, ``"}``) is walked along one trie path in Python.

        Returns ``(path, path_states, node, state)``: the nodes along the literal (their tokens
        are allowed) with their states (a live, non-accepting marker before the last), and where
        the walk resumes: the trie node below which tokens continue past the literal and the
        state after it; ``node`` is -1 when no token covers the literal, 0 (the root, with
        ``sid``) when the state does not start with a literal.
        """
        e = self.exprs[sid]
        if e.kind == LEX:
            e = e.args[0]
        if e.kind == BYTES:
            literal, tail = e.args[0], self.factory.empty
        elif e.kind == SEQ and e.args[0].kind == BYTES:
            literal, tail = e.args[0].args[0], e.args[1]
        elif e.kind == SEQ and e.args[0].kind == LEX and e.args[0].args[0].kind == BYTES:
            literal, tail = e.args[0].args[0].args[0], e.args[1]
        else:
            return [], [], 0, sid
        node = 0
        path: list = []
        for byte in literal:
            node = trie.child(node, byte)
            if node < 0:
                return path, [sid] * len(path), -1, DEAD
            path.append(node)
        states = [sid] * len(path)  # the start is not accepting (it begins with a literal)
        if tail.kind == NEVER or not self.is_live(tail):
            return path, states, -1, DEAD
        tail_sid = self.intern(tail)
        states[-1] = tail_sid  # the literal's last node: its true state (may accept)
        return path, states, node, tail_sid


class Walk:
    """A walk's result: the live nodes below the root and their states. A walk over whole levels
    keeps ``dense``, the state of every slot of the trie's level layout, and lists its live
    nodes only when asked (a lexeme's mask needs only ``dense``)."""

    __slots__ = ("_nodes", "_states", "dense", "_order")

    def __init__(self, nodes: np.ndarray | None, states: np.ndarray | None, dense: np.ndarray | None = None,
                 order: np.ndarray | None = None):
        self._nodes = nodes
        self._states = states
        self.dense = dense
        self._order = order

    @classmethod
    def of(cls, nodes: list[np.ndarray], states: list[np.ndarray]) -> "Walk":
        if not nodes:
            return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))
        if len(nodes) == 1:
            return cls(nodes[0], states[0])
        return cls(np.concatenate(nodes), np.concatenate(states))

    @classmethod
    def over_levels(cls, slots: np.ndarray, order: np.ndarray) -> "Walk":
        """A whole-level walk: ``slots`` in level-layout order, ``order`` its slot-to-node map."""
        return cls(None, None, slots, order)

    def _list_live(self) -> None:
        dense, order = self.dense, self._order
        assert dense is not None and order is not None
        live = np.flatnonzero(dense[:-1])
        self._nodes = order[live].astype(np.int64)
        self._states = dense[live]

    @property
    def nodes(self) -> np.ndarray:
        if self._nodes is None:
            self._list_live()
        assert self._nodes is not None
        return self._nodes

    @property
    def states(self) -> np.ndarray:
        if self._states is None:
            self._list_live()
        assert self._states is not None
        return self._states

    def exits(self, trie: TokenTrie, accepting: np.ndarray) -> np.ndarray:
        """The live nodes in an accepting state (``accepting``: a bool per state) with tokens
        below them: where the walked lexeme may end inside a longer token."""
        if self._nodes is None:
            inner = trie.level_layout.inner  # whole-level walks look at inner nodes only
            dense, order = self.dense, self._order
            assert dense is not None and order is not None
            return order[inner[accepting.take(dense.take(inner))]].astype(np.int64)
        ends = self._nodes[accepting[self._states]]
        return ends[trie.subtree_end[ends] > ends + 1]

    def mask(self, trie: TokenTrie, token_slot: np.ndarray, n_words: int, size: int) -> np.ndarray:
        """Packed mask of the tokens whose trie node was reached alive (``token_slot[t]``: the
        level-layout slot of t's node, or the last slot when t is not in the trie)."""
        if self.dense is not None:
            bits = np.zeros(n_words * 32, dtype=bool)
            bits[:size] = (self.dense != DEAD)[token_slot]  # a byte per slot gathers faster
            return np.packbits(bits, bitorder="little").view(np.int32)
        return pack_ids(tokens_at(trie, self.nodes), n_words)


def tokens_at(trie: TokenTrie, nodes: np.ndarray) -> np.ndarray:
    """The token ids ending at ``nodes`` (a new array)."""
    if nodes.size <= _TINY_LIMIT:  # a crossing's few nodes: slices beat five numpy calls
        offsets = trie.token_offsets
        pieces = [trie.token_ids[offsets[n]:offsets[n + 1]] for n in nodes.tolist()]
        pieces = [p for p in pieces if p.size]
        if not pieces:
            return np.zeros(0, dtype=np.int32)
        return pieces[0].copy() if len(pieces) == 1 else np.concatenate(pieces)
    starts = trie.token_offsets[nodes]
    counts = trie.token_offsets[nodes + 1] - starts
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int32)
    return trie.token_ids[concat_ranges(starts, counts, total)]


class TokenBits:
    """Sets the bits of token ids in packed int32 masks, each id's word and bit read from two
    tables made once per vocabulary: a mask's crossing tokens (a few dozen ids, typically)
    then cost two gathers and one ``ufunc.at``. Computing word and bit per call took four
    more numpy calls, whose fixed cost was most of the work."""

    __slots__ = ("word", "bit")

    def __init__(self, width: int) -> None:
        ids = np.arange(width, dtype=np.int64)
        self.word = ids >> 5
        self.bit = (np.uint32(1) << (ids & 31).astype(np.uint32)).view(np.int32)

    def set(self, words: np.ndarray, ids: np.ndarray) -> None:
        """``words |= `` the bits of ``ids`` (ids below the width, repeats allowed)."""
        np.bitwise_or.at(words, self.word.take(ids), self.bit.take(ids))


def pack_ids(ids: np.ndarray, n_words: int) -> np.ndarray:
    """Packed int32 words with the bits of ``ids`` set (a few ids straight into the words;
    many through a byte per token, which numpy packs faster)."""
    if ids.size < 4096:
        words = np.zeros(n_words, dtype=np.int32)
        if ids.size:
            ids = ids.astype(np.int64)
            np.bitwise_or.at(words, ids >> 5, (np.uint32(1) << (ids & 31).astype(np.uint32)).view(np.int32))
        return words
    bits = np.zeros(n_words * 32, dtype=bool)
    bits[ids] = True
    return np.packbits(bits, bitorder="little").view(np.int32)


def leading_run(e: Expr) -> tuple[int, int, Expr] | None:
    """``(byte mask, most, rest)`` when ``e`` (or the lexeme it marks) is ``[class]{0,most}
    rest``: the bounded whitespace the flexible layout puts before a key, a value, a bracket."""
    if e.kind == LEX:
        e = e.args[0]
    if e.kind != SEQ:
        return None
    head, rest = e.args
    if head.kind != REPEAT or head.args[1] != 0 or head.args[2] is None or head.args[0].kind != CLASS:
        return None
    return head.args[0].args[0], head.args[2], rest


_MASK_TABLES: dict[int, np.ndarray] = {}


def _in_mask(values: np.ndarray, mask: int) -> np.ndarray:
    """Per byte value: its bit is set in the 256-bit ``mask``."""
    table = _MASK_TABLES.get(mask)
    if table is None:
        table = _MASK_TABLES[mask] = np.array([(mask >> b) & 1 for b in range(256)], dtype=bool)
    return table[values]
