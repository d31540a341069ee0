"""Budget-aware completion: the fewest tokens from a state to a complete output, and the masks
that keep a complete output within a token budget.

Why: every constrained decoder truncates. When ``max_new_tokens`` runs out inside an object the
user gets invalid JSON, and a small model that loops inside an array or a long string always
runs out. The grammar knows at every step how short a valid completion can be; a matcher given a
budget (``grammar.matcher(max_tokens=N)``) allows only tokens after which one still fits, so
whenever any valid output fits in ``N`` tokens the output is complete and ends with EOS.

**What is computed.** ``D(s)``: the fewest tokens of *this vocabulary* that take state ``s`` to
acceptance (EOS not counted). It must be achievable, not merely a lower bound: a bound that no
token sequence meets would let the matcher walk into a dead end when the budget runs out. With
``R`` tokens left (EOS included), a token ``t`` is allowed iff ``D(step(s, t)) <= R - 2`` (the
token, then the completion, then EOS); EOS iff ``s`` accepts. If no valid output fits at all
(``D(start) + 1 > N``), the matcher takes the shortest way instead: only tokens that lower
``D``.

**How, and what it costs.** ``D`` is a shortest path over token transitions, which is expensive
if done naively: a state inside a free string has tens of thousands of tokens and hundreds of
successor states (one per length), and a breadth-first search from the start of a 16-property
schema reaches ~10^5 states. Four things make it affordable:

* *Bounds from the expression alone* (:mod:`enforcer.engine.witness`). A state's witness text,
  spelled with the fewest tokens, is an achievable completion: most successors are decided by
  it, and it is the plan of a state met for the first time (one automaton step per token). A
  state's ceiling bounds every state reached from it: where the budget is at or above it (most
  steps of a request whose ``max_tokens`` is ample) the mask is the grammar's own, with no walk.

* *Dominance.* A state whose language is contained in that of a state already expanded at no
  greater distance cannot be closer to acceptance (:func:`covers`: the same expression with
  tighter repetition counts, structurally). The hundreds of "string after k characters" states
  collapse into one.
* *Bounds kept per state, shared across searches.* ``upper[s]`` is achievable, with ``plan[s]``
  the next state of a path that achieves it (so ``upper[plan[s]] <= upper[s] - 1``: the
  matcher, once in ``s`` with ``upper[s]`` tokens to spare, always has a token left); ``lower[s]``
  is proved (``D(x) >= D(s) - dist(s, x)`` for everything a finished search touched). A*
  searches use ``lower`` as heuristic and ``upper`` as terminals; where they meet, ``D`` is
  exact.
* *Cheap decisions first.* A successor ``y`` of ``s`` has ``D(y) >= D(s) - 1``; if ``y`` is
  covered by ``s``, ``D(y) >= D(s)``; the next token of ``s``'s plan usually works from ``y``
  too (a few more characters of a string close the same way), giving an achievable upper bound
  with one automaton step. Only successors still undecided are searched, with a bounded amount
  of work; one still undecided is refused (conservative: the output still completes).

Costs are paid only by a matcher that has a budget, and only where the budget binds: one walk
of the trie per state decided (a few milliseconds inside a string; kept per grammar), and
searches that mostly end at states whose bound is known. Without a budget nothing here runs.

Special tokens the grammar names count as one token each; EOS is the ``+1``.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from .automaton import DEAD
from .bounds import LiteralBounds
from .expr import ALT, AND, LEX, NEVER, NOT, REPEAT, SEQ, Expr
from .fold import fold
from .witness import INF, Witness

if TYPE_CHECKING:
    from ..vocab import Vocabulary
    from .grammar import Grammar

_EXACT_WALKS = 4000     # walks one exact search (a matcher's start) may spend
_DECIDE_WALKS = 48      # walks spent to decide one undecided successor
_STEP_WALKS = 256       # walks one step may spend deciding successors
_MOVES_BYTES = 64 << 20  # per grammar: token -> next state tables kept (least recently used out)
_MASKS = 4096           # per grammar: budget masks kept


def shortest_for(grammar: Grammar) -> Shortest:
    """The grammar's shortest-completion tables, created on first use (under its lock)."""
    found = grammar.extensions.get("shortest")
    if found is None:
        with grammar._lock:
            found = grammar.extensions.get("shortest")
            if found is None:
                found = grammar.extensions["shortest"] = Shortest(grammar)
    return found


class _Moves:
    """The tokens of one state grouped by where they lead.

    Group ``k`` is ``ids[start[k]:start[k] + counts[k]]``; its tokens lead to ``targets[k]``,
    or, for a *range* group (``tight[k] != targets[k]``: the characters of a string that may
    end after any of them), to states between ``targets[k]`` (the loosest: fewest characters
    used) and ``tight[k]`` (the most), whose distances lie between theirs. ``first[k]`` is a
    token that leads exactly to ``targets[k]``.
    """

    __slots__ = ("ids", "counts", "targets", "tight", "first", "chars", "words")

    def __init__(self, groups: list[tuple[np.ndarray, int, int, int, np.ndarray | None]], n_words: int):
        groups = [g for g in groups if g[0].size]
        self.ids = np.concatenate([g[0] for g in groups]).astype(np.int64) if groups else np.zeros(0, np.int64)
        self.counts = np.asarray([g[0].size for g in groups], dtype=np.int64)
        self.targets = np.asarray([g[1] for g in groups], dtype=np.int64)
        self.tight = np.asarray([g[2] for g in groups], dtype=np.int64)
        self.first = np.asarray([g[3] for g in groups], dtype=np.int64)
        self.chars = {k: g[4] for k, g in enumerate(groups) if g[4] is not None}  # range groups: count per id
        self.words = n_words

    @classmethod
    def of_transitions(cls, ids: np.ndarray, nxt: np.ndarray, n_words: int) -> _Moves:
        order = np.argsort(nxt, kind="stable")
        ids, nxt = ids[order], nxt[order]
        targets, starts = np.unique(nxt, return_index=True)
        bounds = [*starts.tolist(), ids.size]
        groups = [(ids[bounds[k]:bounds[k + 1]], int(t), int(t), int(ids[bounds[k]]), None)
                  for k, t in enumerate(targets.tolist())]
        return cls(groups, n_words)

    def group_ids(self, k: int) -> np.ndarray:
        start = int(self.counts[:k].sum())
        return self.ids[start:start + int(self.counts[k])]

    def pack(self, ok: np.ndarray) -> np.ndarray:
        """Packed int32 words of the tokens of the groups where ``ok``."""
        ids = self.ids[np.repeat(ok, self.counts)]
        words = np.zeros(self.words, dtype=np.int32)
        if ids.size:
            np.bitwise_or.at(words, ids >> 5, (np.uint32(1) << (ids & 31).astype(np.uint32)).view(np.int32))
        return words

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + 4 * 8 * self.counts.size) + 200


class Shortest:
    """Shortest completions of one grammar (see the module docstring). Thread-safe through the
    grammar's lock; everything it keeps is bounded or grows with the grammar's own states."""

    def __init__(self, grammar: Grammar):
        self.grammar = grammar
        self.vocab = grammar.vocab
        self.upper: dict[int, int] = {}
        self.lower: dict[int, int] = {}
        self.plan: dict[int, int] = {}   # state -> next state on a path achieving upper (-1: accept)
        self._targets: dict[int, np.ndarray] = {}
        self._moves: OrderedDict[int, _Moves] = OrderedDict()
        self._moves_bytes = 0
        self._masks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._all_allowed: dict[int, int] = {}  # state -> smallest limit known to allow every token
        self._skel: dict[Expr, int] = {}
        self._covers: dict[tuple[Expr, Expr], bool] = {}
        self._plan_tokens: dict[int, int] = {}  # state -> a token to plan[state], where known
        self._witness: Witness | None = None
        self._bounds: LiteralBounds | None = None
        self._class_ok: dict[tuple, np.ndarray] = {}
        self._quote_moves: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._closing: np.ndarray | None = None
        self._spent = 0  # walks spent by the decision being made
        self.stats = {"walks": 0, "string_moves": 0, "searches": 0, "exact": 0, "decided_cheaply": 0,
                      "refused_undecided": 0, "decided_by_witness": 0, "ample": 0, "unplanned": 0,
                      "partials_stepped": 0}

    # -- per-state facts ------------------------------------------------------------------------

    def _accepting(self, sid: int) -> bool:
        if self.grammar.is_accepting(sid):
            if sid not in self.upper:
                self.upper[sid] = self.lower[sid] = 0
                self.plan[sid] = -1
            return True
        return False

    def _lower(self, sid: int) -> int:
        found = self.lower.get(sid)
        if found is None:
            if self._accepting(sid):
                return 0
            if self._bounds is None:
                self._bounds = LiteralBounds(self.vocab, self.grammar._factory)
            found = self.lower[sid] = max(1, self._bounds.expression(self.grammar.expression(sid)))
        return found

    def is_exact(self, sid: int) -> bool:
        u = self.upper.get(sid)
        return u is not None and self._lower(sid) == u

    def _raise_lower(self, sid: int, value: int) -> None:
        if value > self._lower(sid):
            self.lower[sid] = value

    def _offer(self, sid: int, value: int, via: int, token: int | None = None) -> None:
        """An achievable completion of ``value`` tokens whose next state is ``via`` (by ``token``,
        where the caller knows it)."""
        if value < self.upper.get(sid, INF):
            self.upper[sid] = value
            self.plan[sid] = via
            if token is None:
                self._plan_tokens.pop(sid, None)
            else:
                self._plan_tokens[sid] = token

    # -- moves ------------------------------------------------------------------------------------

    def moves(self, sid: int) -> _Moves:
        found = self._moves.get(sid)
        if found is not None:
            self._moves.move_to_end(sid)
            return found
        branch = self.grammar.string_branch(sid)
        if branch is not None:
            self.stats["string_moves"] += 1
            found = self._string_moves(sid, *branch)
        else:
            self.stats["walks"] += 1
            self._spent += 1
            ids, nxt = self.grammar.token_transitions(sid)
            found = _Moves.of_transitions(ids, nxt, self.grammar.n_words)
        self._remember(sid, found)
        return found

    def _remember(self, sid: int, moves: _Moves) -> None:
        old = self._moves.pop(sid, None)
        if old is not None:
            self._moves_bytes -= old.nbytes
        self._targets[sid] = np.unique(moves.targets)
        self._moves[sid] = moves
        self._moves_bytes += moves.nbytes
        while self._moves_bytes > _MOVES_BYTES and len(self._moves) > 1:
            _, evicted = self._moves.popitem(last=False)
            self._moves_bytes -= evicted.nbytes
        for y in self._targets[sid].tolist():
            self._accepting(y)

    def _string_moves(self, sid: int, strings, bounds: tuple, tsid: int, body: Expr) -> _Moves:
        """The moves of a JSON string state from the vocabulary's string tables: characters
        grouped by count (those after which the string may end as one range group), tokens
        ending inside a character one by one, closing tokens by the state after the string."""
        from ..schema.json_tokens import END, PARTIAL, QUOTE

        ranges, lo, hi = bounds
        tables = strings.tables
        kind, count = tables.kind, tables.count
        ok = self._class_ok.get(ranges)
        if ok is None:
            ok = self._class_ok[ranges] = tables.in_class(ranges)
        fits = ok if hi is None else ok & (count <= hi)
        step, token_bytes = self.grammar.step, self.vocab.token_bytes
        groups: list[tuple[np.ndarray, int, int, int, np.ndarray | None]] = []
        end = np.flatnonzero((kind == END) & fits & (count >= 1))
        if end.size:
            chars = count[end]
            for c in np.unique(chars[chars < lo]).tolist():  # still short of minLength: each its own
                ids = end[chars == c]
                groups.append((ids, step(sid, token_bytes(int(ids[0]))), -1, int(ids[0]), None))
            free = chars >= lo
            if free.any():
                ids, c = end[free], chars[free]
                loose, tight = int(ids[np.argmin(c)]), int(ids[np.argmax(c)])
                groups.append((ids, step(sid, token_bytes(loose)), step(sid, token_bytes(tight)), loose,
                               None if c.min() == c.max() else c))
        part_ok = ok if hi is None else ok & (count + 1 <= hi)
        part = np.flatnonzero((kind == PARTIAL) & part_ok)
        if part.size:
            groups.extend(self._partial_moves(sid, body, tsid, part))
        quote_ok = fits & (count >= lo)
        if self._closing is None:
            known = np.full(self.vocab.size, -2, dtype=np.int64)
            n = min(self.vocab.size, self.vocab.trie.token_node.size)
            known[:n] = self.vocab.trie.token_node[:n]
            self._closing = (kind == QUOTE) & (tables.quote_node == known)
        closing = np.flatnonzero(self._closing & quote_ok)
        if closing.size:
            groups.append((closing, tsid, tsid, int(closing[0]), None))
        found = self._quote_moves.get(tsid)
        if found is None:
            nodes, states = self.grammar.states_below(tables.exit_nodes, tsid)
            trie = self.vocab.trie
            starts = trie.token_offsets[nodes]
            counts = trie.token_offsets[nodes + 1] - starts
            total = int(counts.sum())
            from .automaton import concat_ranges
            ids = trie.token_ids[concat_ranges(starts, counts, total)].astype(np.int64) if total else np.zeros(0, np.int64)
            found = self._quote_moves[tsid] = (ids, np.repeat(states, counts).astype(np.int64))
        ids, nxt = found
        keep = quote_ok[ids]
        groups.extend(self._by_target(ids[keep], nxt[keep]))
        groups = [(g[0], g[1], g[1] if g[2] == -1 else g[2], g[3], g[4]) for g in groups]
        return _Moves(groups, self.grammar.n_words)

    def _partial_moves(self, sid: int, body: Expr, tsid: int, part: np.ndarray) -> list:
        """The moves of the tokens that end inside a character (``part``) from string state
        ``sid`` = ``LEX body`` then ``tsid``: such a token leads to ``LEX body'`` then the same
        tail, ``body'`` the body derived by the token alone. Those derivatives depend on the
        body only, which every string of the same bounds shares in every grammar of the
        vocabulary, and are a few per body (by characters used and the unfinished one): kept
        per vocabulary, so a state pays one automaton state per group, not a step per token
        (about a thousand in Llama 3, a third of the budget's string moves)."""
        grammar, f, a = self.grammar, self.grammar._factory, self.grammar._automaton
        memo = self.vocab.derived("enforcer.budget.partial-derivatives", lambda v: {})
        found = memo.get(body)
        if found is None or found[0] is not f:
            by_derivative: dict[Expr, list[int]] = {}
            for token in part.tolist():
                d = a.derive_bytes(body, self.vocab.token_bytes(token))
                if d.kind != NEVER:
                    by_derivative.setdefault(d, []).append(token)
            if len(memo) > 4096:
                memo.clear()
            found = memo[body] = (f, [(d, np.asarray(ids, dtype=np.int64)) for d, ids in by_derivative.items()])
        tail = grammar.expression(tsid)
        out = []
        for d, ids in found[1]:
            e = f._seq2(f.lexeme(d), tail)
            if e.kind == NEVER or not a.is_live(e):
                continue
            y = a.intern(e)
            if not out and y != grammar.step(sid, self.vocab.token_bytes(int(ids[0]))):
                self.stats["partials_stepped"] += 1
                nxt = np.fromiter((grammar.step(sid, self.vocab.token_bytes(t)) for t in part.tolist()),
                                  dtype=np.int64, count=part.size)  # not the shape assumed: step each
                return self._by_target(part, nxt)
            out.append((ids, y, y, int(ids[0]), None))
        return out

    @staticmethod
    def _by_target(ids: np.ndarray, nxt: np.ndarray) -> list[tuple[np.ndarray, int, int, int, None]]:
        out = []
        for t in np.unique(nxt).tolist():
            group = ids[nxt == t]
            out.append((group, t, t, int(group[0]), None))
        return out

    def _split(self, sid: int, moves: _Moves, k: int) -> _Moves:
        """Replace range group ``k`` by one group per character count (rarely needed: when its
        loosest and tightest ends disagree on the budget)."""
        groups = []
        for j in range(moves.counts.size):
            ids = moves.group_ids(j)
            if j != k:
                groups.append((ids, int(moves.targets[j]), int(moves.tight[j]), int(moves.first[j]),
                               moves.chars.get(j)))
                continue
            chars = moves.chars[k]
            for c in np.unique(chars).tolist():
                part = ids[chars == c]
                y = self.grammar.step(sid, self.vocab.token_bytes(int(part[0])))
                groups.append((part, y, y, int(part[0]), None))
        split = _Moves(groups, self.grammar.n_words)
        self._remember(sid, split)
        return split

    def targets(self, sid: int) -> np.ndarray:
        found = self._targets.get(sid)
        return found if found is not None else (self.moves(sid), self._targets[sid])[1]

    def _plan_token(self, sid: int) -> int | None:
        """A token that takes ``sid`` to ``plan[sid]``."""
        nxt = self.plan.get(sid, -1)
        if nxt < 0:
            return None
        token = self._plan_tokens.get(sid)
        if token is not None:
            return token
        moves = self.moves(sid)
        hit = np.flatnonzero(moves.targets == nxt)
        return int(moves.first[hit[0]]) if hit.size else None

    # -- searches ---------------------------------------------------------------------------------

    def distance(self, sid: int) -> int:
        """``D(sid)``, exact unless the search ran out of work (then an achievable upper bound)."""
        if not self.is_exact(sid):
            self._search(sid, None, _EXACT_WALKS)
            if sid not in self.upper:  # ran out of work before any completion: dive for one
                self._dive(sid, INF, _EXACT_WALKS)
        return self.upper[sid]

    def _search(self, source: int, limit: int | None, max_walks: int) -> None:
        """A* from ``source`` over token transitions until ``D(source)`` is known exactly, or
        (with ``limit``) decided against ``limit``, or ``max_walks`` new states were walked.
        Updates ``upper``/``plan`` along the best path found and ``lower`` wherever proved."""
        self.stats["searches"] += 1
        expr = self.grammar.expression
        best, best_at = INF, -1
        g = {source: 0}
        parent: dict[int, int] = {}
        heap = [(self._lower(source), 0, source)]
        shapes: dict[int, list[tuple[Expr, int]]] = {}  # expanded states by skeleton, with distance
        walks = 0
        proved = None  # a lower bound of D(source) the search proved
        while heap:
            f, neg, x = heap[0]
            if f >= best:
                proved = best
                break
            if limit is not None and f > limit:
                proved = f
                break
            heapq.heappop(heap)
            gx = -neg
            if gx > g[x]:
                continue
            ux = self.upper.get(x)
            if ux is not None and gx + ux < best:
                best, best_at = gx + ux, x
                if limit is not None and best <= limit:
                    proved = f  # decided; ``x`` is not expanded, so only its own ``f`` is proved
                    break
            if ux is not None and self._lower(x) == ux:
                continue  # exact: nothing below it can do better
            e = expr(x)
            key = self._skeleton(e)
            bucket = shapes.setdefault(key, [])
            if any(gy <= gx and self.covers(y, e) for y, gy in bucket):
                continue
            bucket.append((e, gx))
            if x not in self._targets:
                walks += 1
                if walks > max_walks:
                    heapq.heappush(heap, (f, neg, x))
                    break
            ng = gx + 1
            for y in self.targets(x).tolist():
                if ng < g.get(y, INF):
                    g[y] = ng
                    parent[y] = x
                    heapq.heappush(heap, (ng + self._lower(y), -ng, y))
        else:
            proved = best  # nothing left to try
        if proved is None:  # out of work: the open list still bounds D(source) from below
            proved = min(best, heap[0][0]) if heap else best
        if best < INF:
            path = [best_at]
            while path[-1] != source:
                path.append(parent[path[-1]])
            path.reverse()
            for i in range(len(path) - 1):
                self._offer(path[i], best - g[path[i]], path[i + 1])
        if proved >= INF:
            return
        if proved == best:
            self.stats["exact"] += 1
        for x, gx in g.items():
            self._raise_lower(x, proved - gx)

    def _dive(self, source: int, limit: int, max_walks: int) -> None:
        """A greedy descent for *some* completion (an achievable upper bound, not the least):
        at each state the successor with the best known bound, else the one with the fewest
        bytes left. Cheap where the search would be wide and the budget is loose."""
        path = [source]
        x = source
        walks = 0
        expr = self.grammar.expression
        while x not in self.upper and len(path) <= limit + 1:
            if x not in self._targets:
                walks += 1
                if walks > max_walks:
                    return
            targets = self.targets(x).tolist()
            if not targets:
                return
            known = [(self.upper[y], y) for y in targets if y in self.upper]
            if known:
                _, x = min(known)
            else:
                x = min(targets, key=lambda y: (self._min_bytes(expr(y)), self._lower(y), y))
            if x in path:
                return
            path.append(x)
        if x in self.upper:
            total = self.upper[x] + len(path) - 1
            for i in range(len(path) - 1):
                self._offer(path[i], total - i, path[i + 1])

    # -- budget masks -----------------------------------------------------------------------------

    def allowed(self, sid: int, limit: int) -> np.ndarray | None:
        """Packed int32 words of the tokens of ``sid`` after which a completion of at most
        ``limit`` tokens exists (EOS not included); ``None`` when that is every token.

        ``limit`` below every completion known (nothing fits) is raised to the shortest known:
        the shortest way only. Everything here is bounded per step (:data:`_STEP_WALKS`): the
        exact distance of a large schema's start is seconds of search, and a budget too small
        for any output (vLLM's default ``max_tokens`` is 16) must not stall a step for it."""
        if self._ample(sid, limit):
            self.stats["ample"] += 1
            return None
        key = (sid, limit)
        cached = self._masks.get(key)
        if cached is not None:
            self._masks.move_to_end(key)
            return cached
        full = self._all_allowed.get(sid)
        if full is not None and limit >= full:
            return None
        self._spent = 0  # walks this step spends: the searches below and the decisions
        if self.upper.get(sid, INF) > self.witness.tokens(self.grammar.expression(sid)):
            self._plan_by_witness(sid)  # met first, or let in by its witness (see _fits)
        if sid not in self.upper or limit < self.upper[sid] - 1:  # no plan, or none that fits
            self._search(sid, limit, _STEP_WALKS)
            if sid not in self.upper:
                self._dive(sid, INF, _STEP_WALKS)
            if sid not in self.upper:  # nothing found within the step's work: the grammar's mask
                self.stats["unplanned"] += 1
                return None
        limit = max(limit, self.upper[sid] - 1)
        moves, ok = self._decide(sid, limit)
        if ok.all():
            self._all_allowed[sid] = min(limit, self._all_allowed.get(sid, INF))
            return None
        words = moves.pack(ok)
        words.setflags(write=False)
        self._masks[key] = words
        self._masks[(sid, limit)] = words
        while len(self._masks) > _MASKS:
            self._masks.popitem(last=False)
        return words

    def _decide(self, sid: int, limit: int) -> tuple[_Moves, np.ndarray]:
        """Per group of ``sid``'s moves: is a completion within ``limit`` tokens left after it?
        Proved either way where possible, refused where the work runs out (module docstring)."""
        moves = self.moves(sid)
        probes = [t for t in (self._plan_token(sid),) if t is not None]
        nxt = self.plan.get(sid, -1)
        if nxt >= 0 and nxt not in (sid,):
            token = self._plan_token(nxt) if nxt in self.upper and self.plan.get(nxt, -1) >= 0 else None
            if token is not None:
                probes.append(token)
        e_sid = self.grammar.expression(sid)
        k = 0
        results: list[bool] = []
        while k < moves.counts.size:
            loose, tight = int(moves.targets[k]), int(moves.tight[k])
            if loose == tight:
                results.append(self._fits(loose, limit, sid, e_sid, probes))
            elif self._fits(tight, limit, sid, e_sid, probes):
                results.append(True)
            elif not self._fits(loose, limit, sid, e_sid, probes):
                results.append(False)
            else:  # the ends disagree: one group per count
                moves = self._split(sid, moves, k)
                results = results[:k]
                continue
            k += 1
        return moves, np.asarray(results, dtype=bool)

    def _fits(self, y: int, limit: int, sid: int, e_sid: Expr, probes: list[int]) -> bool:
        """Whether ``D(y) <= limit`` for a successor ``y`` of ``sid``. Achievable bounds are
        tried before lower ones: a lower bound of a state inside a large enum costs more."""
        if self.upper.get(y, INF) <= limit:
            return True
        if self.witness.tokens(self.grammar.expression(y)) <= limit:
            self.stats["decided_by_witness"] += 1
            return True
        here = self._lower(sid)
        self._raise_lower(y, here - 1)  # one token cannot take more than one off
        if self._lower(y) > limit:
            return False
        if here and self.covers(e_sid, self.grammar.expression(y)):  # L(y) within L(sid)
            self._raise_lower(y, here)
            if self._lower(y) > limit:
                return False
        for token in probes:  # the plan's next token usually works from a sibling too
            z = self._step(y, token)
            if z != DEAD and z in self.upper:
                self._offer(y, self.upper[z] + 1, z)
        if self.upper.get(y, INF) <= limit:
            self.stats["decided_cheaply"] += 1
            return True
        if self._spent > _STEP_WALKS:
            self.stats["refused_undecided"] += 1
            return False
        before = self.stats["walks"]
        self._dive(y, limit, _DECIDE_WALKS)
        if self.upper.get(y, INF) > limit and self._lower(y) <= limit:
            self._search(y, limit, _DECIDE_WALKS)
        self._spent += self.stats["walks"] - before
        if self.upper.get(y, INF) <= limit:
            return True
        if self._lower(y) <= limit:
            self.stats["refused_undecided"] += 1
        return False

    def _step(self, sid: int, token: int) -> int:
        grammar = self.grammar
        if grammar.names_special(token):
            return grammar.step_special(sid, token)
        data = self.vocab.token_bytes(token)
        return DEAD if data is None else grammar.step(sid, data)

    # -- expressions ------------------------------------------------------------------------------

    def _skeleton(self, e: Expr) -> int:
        """``e`` with its repetition counts erased: states that may cover one another share it."""
        found = self._skel.get(e)
        if found is None:
            if len(self._skel) > 500_000:
                self._skel.clear()
            found = fold(e, self._skel, _skeleton_parts, self._skeleton_of, 0)
        return found

    def _skeleton_of(self, e: Expr) -> int:
        k, skel = e.kind, self._skel
        if k == REPEAT:
            return hash((REPEAT, skel[e.args[0]]))
        if k in (SEQ, ALT, AND, NOT, LEX):
            return hash((k, *[skel[x] for x in e.args]))
        return hash((k, e.uid))

    def covers(self, a: Expr, b: Expr) -> bool:
        """A sufficient test for ``L(b) ⊆ L(a)``: the same structure with repetition bounds of
        ``a`` at least as loose (alternatives: each of ``b``'s within one of ``a``'s)."""
        if a is b:
            return True
        key = (a, b)
        found = self._covers.get(key)
        if found is not None:
            return found
        ka, kb = a.kind, b.kind
        result = False
        if ka == kb:
            if ka == REPEAT:
                (ia, loa, hia), (ib, lob, hib) = a.args, b.args
                result = (loa <= lob and (hia is None or (hib is not None and hib <= hia))
                          and self.covers(ia, ib))
            elif ka == SEQ:
                while a.kind == SEQ and b.kind == SEQ:  # sequences are long: loop, not recurse
                    if not self.covers(a.args[0], b.args[0]):
                        break
                    a, b = a.args[1], b.args[1]
                else:
                    result = self.covers(a, b)
            elif ka == LEX:
                result = self.covers(a.args[0], b.args[0])
            elif ka == ALT:
                result = all(any(self.covers(x, y) for x in a.args) for y in b.args)
            elif ka == AND:
                result = all(any(self.covers(x, y) for y in b.args) for x in a.args)
            elif ka == NOT:
                result = self.covers(b.args[0], a.args[0])
        elif ka == ALT:
            result = any(self.covers(x, b) for x in a.args)
        if len(self._covers) > 500_000:
            self._covers.clear()
        self._covers[key] = result
        return result

    def _min_bytes(self, e: Expr) -> int:
        """Bytes of the witness text of ``e`` (:meth:`Witness.text`; ``INF`` without one): a
        guide for :meth:`_dive`, which prefers states nearer their end."""
        text = self.witness.text(e)
        return INF if text is None else len(text)

    def _plan_by_witness(self, sid: int) -> None:
        """Make the spelled witness of ``sid`` (:meth:`Witness.path`) its plan and the plan of
        the states along it, up to the first state already planned as well: an achievable
        completion for one automaton step per token, so most states need no search (inside a
        large enum the exact search expands thousands of sibling states)."""
        tokens = self.witness.path(self.grammar.expression(sid))
        if tokens is None:
            return
        step = self.grammar.step_token
        path, x, rest = [sid], sid, 0
        for i, token in enumerate(tokens):
            known = self.upper.get(x)
            if known is not None and known <= len(tokens) - i:  # planned already, as well
                rest = known
                break
            x = step(x, token)
            if x == DEAD:
                return  # not a string of the state after all: offer nothing
            path.append(x)
        else:
            if not self._accepting(x):
                return
        m = len(path) - 1
        for j in range(m):
            self._offer(path[j], rest + m - j, path[j + 1], tokens[j])

    @property
    def witness(self) -> Witness:
        if self._witness is None:
            self._witness = Witness(self.vocab, self.grammar._factory)
        return self._witness

    def _ample(self, sid: int, limit: int) -> bool:
        """Whether every token the grammar allows in ``sid`` leaves a completion within ``limit``
        tokens, proved without a walk of the trie: the state's ceiling (:meth:`Witness.ceiling`)
        is within it. Rules that nest without end (a free JSON value) have no ceiling; their
        states are decided token by token."""
        return self.witness.ceiling(self.grammar.expression(sid)) <= limit


def _skeleton_parts(e: Expr) -> list[Expr]:
    if e.kind == REPEAT:
        return [e.args[0]]
    return list(e.args) if e.kind in (SEQ, ALT, AND, NOT, LEX) else []


# -- what the matcher calls ---------------------------------------------------------------------

def prepare(vocab: Vocabulary) -> None:
    """Build the per-vocabulary tables the budget reads (the trie of token suffixes behind the
    lower bounds, the witness spelling's node table), about a second for a 128k vocabulary,
    kept with the vocabulary. A server calls it at start-up so that its first budgeted request
    does not pay it; otherwise the first search does."""
    from .bounds import suffix_trie
    from .witness import warm

    suffix_trie(vocab)
    warm(vocab)


def fill_mask(grammar: Grammar, sid: int, remaining: int, out: np.ndarray) -> None:
    """Write the budget mask of state ``sid`` with ``remaining`` tokens left (EOS included)."""
    shortest = shortest_for(grammar)
    with grammar._lock:
        words = shortest.allowed(sid, remaining - 2)
    if words is None:
        grammar.fill_mask(sid, out)
        return
    out[: words.size] = words
    if grammar.is_accepting(sid):
        grammar.set_eos(out)


def token_fits(grammar: Grammar, sid: int, token_id: int, remaining: int) -> bool:
    """Whether ``token_id`` (allowed by the grammar in ``sid``) is in the budget mask."""
    shortest = shortest_for(grammar)
    with grammar._lock:
        words = shortest.allowed(sid, remaining - 2)
    return words is None or bool((int(words[token_id >> 5]) >> (token_id & 31)) & 1)


def shortest_completion(grammar: Grammar, sid: int) -> int:
    """The fewest tokens that complete the output from ``sid`` (EOS not counted)."""
    shortest = shortest_for(grammar)
    with grammar._lock:
        return shortest.distance(sid)
