"""The compiled :class:`Grammar`: states, token masks, and the rules that keep them honest.

A grammar is a lazily built DFA over bytes whose states are derivative expressions (see
:mod:`enforcer.engine.expr` and :mod:`enforcer.engine.automaton`). Its token mask at a state is
computed once and cached; how it is computed is what makes a schema never seen before cheap:

* the state is split into *branches* ``LEX h · T``: a lexeme being read, and what follows it
  (an alternative of several branches after a comma, one inside a string);
* each branch allows the tokens read inside ``h`` (shared by every grammar of the vocabulary,
  see :mod:`enforcer.engine.lexemes`), the tokens ``T`` allows when ``h`` may end here, and the
  tokens that end ``h`` inside them and continue into ``T``: a walk of the token trie below the
  lexeme's exit nodes only, with the grammar's own automaton;
* what is not a lexeme (grammars written without them, a regex) is walked as a whole.

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

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SchemaError
from ..grammar.nesting import SHALLOW_DEPTH, RoomLock
from ..vocab import Vocabulary
from .automaton import DEAD, Automaton, class_byte, concat_ranges, tokens_at
from .expr import ALT, BYTES, EMPTY, LEX, NEVER, REF, REPEAT, SEQ, Expr
from .lexemes import LexemeInfo, LexemeSpace

if TYPE_CHECKING:
    from .matcher import Matcher

DEFAULT_MASK_CACHE_BYTES = 256 << 20
_MAX_CROSSED_LEXEMES = 8  # lexemes one token is followed through before the plain walk takes over
DEFAULT_MAX_STATES = 200_000
_MAX_BRANCH_MEMO = 50_000  # split states kept per grammar (then forgotten at once)
_MAX_TOKEN_STEPS = 100_000  # (state, token) -> state kept per grammar (then forgotten at once): ~10 MB


class Grammar:
    """A compiled constraint over one vocabulary: immutable from the outside, thread-safe, shared.

    Build one with :func:`enforcer.compile_json_schema` (or another ``compile_*``, or a
    :class:`~enforcer.Compiler`), then call :meth:`matcher` once per generated sequence.
    """

    def __init__(self, space: LexemeSpace, start: Expr, vocab: Vocabulary, *, lock: threading.RLock,
                 source: str = "", specials: set[str] | None = None, depth: int = 0,
                 max_states: int = DEFAULT_MAX_STATES, cache_bytes: int = DEFAULT_MASK_CACHE_BYTES):
        self.vocab = vocab
        self.source = source
        self.approximations: list[tuple[str, str, str]] = []  # (pointer, keyword, what), strict=False
        self.unknown_keywords: list[tuple[str, str]] = []  # (pointer, keyword) a schema used but its draft lacks
        self._space = space
        self._factory = space.factory
        # a deep grammar's steps recurse as deep as its compile did: they get the same room
        self._lock = lock if depth <= SHALLOW_DEPTH else RoomLock(lock, depth)
        self.depth = depth
        self._automaton = Automaton(space.factory, max_states=max_states)
        self._masks: OrderedDict[Any, np.ndarray] = OrderedDict()  # by state, and ("raw", clamped expr)
        self._mask_bytes = 0
        self._cache_bytes = cache_bytes
        self._string_exits: dict[int, np.ndarray] = {}
        self._exits: dict[tuple[int, int], tuple[LexemeInfo, np.ndarray]] = {}
        self._in_progress: set[int] = set()
        self._branch_memo: dict[Expr, tuple] = {}
        self._literals: dict[tuple[Expr, Expr], np.ndarray] = {}
        self._token_steps: dict[tuple[int, int], int] = {}  # see step_token
        self.n_words = (vocab.size + 31) // 32
        eos = np.asarray(sorted(vocab.eos_token_ids), dtype=np.int64)
        bits = (np.ones(len(eos), dtype=np.uint32) << (eos % 32).astype(np.uint32)).view(np.int32)
        self._eos_bits = list(zip((eos // 32).tolist(), bits))  # (word, bit) per EOS id
        self._specials = specials if specials is not None else set()
        self._special_symbol: dict[int, int] = {}  # token id -> symbol, see _special_ids
        self._special_next: dict[int, dict[int, int]] = {}  # state -> {token id: next state}
        self.stats = {"masks": 0, "branch_groups": 0, "raw_walks": 0, "crossing_walks": 0, "literal_crossings": 0}
        # what other modules keep per grammar (the budget's shortest-completion tables): a
        # compiled Grammar is a native type, with no __dict__ to hang attributes on
        self.extensions: dict[str, Any] = {}
        with self._lock:
            if start.kind == NEVER or not self._automaton.is_live(start):
                raise SchemaError("the constraint admits no complete output (no string satisfies it)")
            self._special_ids()  # the start rules are lowered now: unknown names fail here
            self.initial_state = self._automaton.intern(start)

    def _special_ids(self) -> dict[int, int]:
        """``{token id: symbol}`` of the special tokens the grammar names.

        Rules are lowered lazily, so a grammar may name a new special token whenever a rule is
        first entered; names are resolved against the vocabulary as they appear.
        """
        if len(self._specials) != len(self._special_symbol):
            vocab = self.vocab
            for text in self._specials:
                token_id = vocab.special_token_id(text)
                if token_id is None:
                    raise SchemaError(f"the grammar names the special token {text!r}, which this "
                                      "vocabulary does not have")
                if token_id in vocab.eos_token_ids:
                    raise SchemaError(f"the grammar names {text!r}, an end-of-sequence token: EOS ends "
                                      "the output by itself once the grammar is complete; end the grammar there")
                self._special_symbol[token_id] = self._factory.specials[text]
        return self._special_symbol

    # -- states -------------------------------------------------------------------------------

    def step(self, sid: int, data: bytes) -> int:
        """The state after reading ``data`` from ``sid`` (``DEAD`` if it cannot be read)."""
        with self._lock:
            return self._automaton.step(sid, data, self._read_rest)

    def step_token(self, sid: int, token_id: int) -> int:
        """The state after the ordinary token ``token_id`` (not EOS, not a special token the
        grammar names; ``DEAD`` if it cannot be read). Kept per (state, token): a repeated
        request's advance is one dict lookup, not a trip through the token's bytes."""
        key = (sid, token_id)
        found = self._token_steps.get(key)
        if found is None:
            data = self.vocab.token_bytes(token_id)
            found = DEAD if data is None else self.step(sid, data)
            if len(self._token_steps) >= _MAX_TOKEN_STEPS:
                self._token_steps.clear()
            self._token_steps[key] = found
        return found

    def _read_rest(self, sid: int, data: bytes, start: int) -> int:
        """The state after ``data[start:]`` from ``sid``, read branch by branch (the state's
        split, kept from its mask, see :meth:`_branches`): each ``LEX h · T`` reads its bytes
        with the lexeme alone (derivatives every grammar shares) and, where ``h`` may end,
        hands the rest to the state of ``T`` (whose split its crossings made). A branch that
        cannot read the first byte costs one memo lookup, where deriving the whole state
        rebuilt every branch's sequence (on MaskBench, a quarter more advance time; on the work
        corpus, 31% more derivatives).

        The parts still alive at the end are joined into one state; with one part this is the
        state the derivative reaches. Parts that start with no lexeme are derived."""
        a, f = self._automaton, self._factory
        n = len(data)
        parts: list[Expr] = []
        todo = [(sid, start)]
        seen: set[tuple[int, int]] = set()
        while todo:
            item = todo.pop()
            if item in seen:  # a nullable lexeme's tail met again at the same byte
                continue
            seen.add(item)
            s, i = a.follow(item[0], data, item[1])  # as far as the table knows
            if s == DEAD:
                continue
            if i == n:
                parts.append(a.exprs[s])
                continue
            groups, raw = self._branches(a.exprs[s])
            for h, tail in groups:
                if tail.kind == NEVER or not a.is_live(tail):
                    continue
                x, j, tsid = h, i, -1
                while j < n:
                    if x._nullable or (x._nullable is None and f.nullable(x)):  # it may end here: the tail reads on
                        if tsid < 0:
                            tsid = a.intern(tail)
                        todo.append((tsid, j))
                    rep = class_byte(x._cuts if x._cuts is not None else f.cuts(x), data[j])
                    x = x._derivs.get(rep) or f.derive(x, rep)  # type: ignore[assignment]  # the memo first
                    if x.kind == NEVER:
                        break
                    j += 1
                else:
                    if not x.has_bool or a.is_live(x):
                        parts.append(f._seq2(f.lexeme(x), tail))
            for r in raw:
                r = a.derive_bytes(r, data, i)
                if r.kind != NEVER:
                    parts.append(r)
        e = parts[0] if len(parts) == 1 else f.alt(*parts)
        return a.intern(e) if e.kind != NEVER and a.is_live(e) else DEAD

    def is_accepting(self, sid: int) -> bool:
        return bool(self._automaton.accepting[sid])

    def special_transitions(self, sid: int) -> dict[int, int]:
        """``{token id: next state}`` for the named special tokens that may come in ``sid``."""
        found = self._special_next.get(sid)
        if found is None:
            with self._lock:
                a, f = self._automaton, self._factory
                e = a.exprs[sid]
                found, tried = {}, -1
                while tried < len(self._specials):  # a derivative may lower a rule naming a new one
                    tried = len(self._specials)
                    for token_id, symbol in list(self._special_ids().items()):
                        d = f.derive(e, symbol)
                        if d.kind != NEVER and a.is_live(d):
                            found[token_id] = a.intern(d)
                self._special_next[sid] = found
        return found

    def step_special(self, sid: int, token_id: int) -> int:
        """The state after the special token ``token_id`` (``DEAD`` if the grammar forbids it)."""
        return self.special_transitions(sid).get(token_id, DEAD)

    def names_special(self, token_id: int) -> bool:
        """Whether the grammar names this special token."""
        return token_id in self._special_ids()

    # -- token masks --------------------------------------------------------------------------

    def token_mask(self, sid: int) -> np.ndarray:
        """Packed int32 words: bit ``i % 32`` of word ``i // 32`` set iff token ``i`` may come
        next, EOS not included. Cached per state; do not modify the result."""
        mask = self._masks.get(sid)
        if mask is not None:
            return mask
        with self._lock:
            mask = self._masks.get(sid)
            if mask is None:
                mask = self._compute_mask(sid)
                mask.setflags(write=False)
                self._remember(sid, mask)
            return mask

    def _remember(self, sid: Any, mask: np.ndarray) -> None:
        self._masks[sid] = mask
        self._mask_bytes += mask.nbytes
        while self._mask_bytes > self._cache_bytes and len(self._masks) > 1:
            _, old = self._masks.popitem(last=False)
            self._mask_bytes -= old.nbytes

    def _compute_mask(self, sid: int) -> np.ndarray:
        self.stats["masks"] += 1
        a, f, space = self._automaton, self._factory, self._space
        groups, raw_parts = self._branches(a.exprs[sid])
        raw = list(raw_parts)
        words = np.zeros(self.n_words, dtype=np.int32)
        crossing: list[np.ndarray] = []
        self._in_progress.add(sid)
        try:
            lexemes: list[tuple[Expr, Expr]] = []
            for h, tail in groups:
                if tail.kind == NEVER or not a.is_live(tail):
                    continue
                self.stats["branch_groups"] += 1
                if h.kind == BYTES or (h.kind == SEQ and h.args[0].kind == BYTES):
                    crossing.append(self._literal_head(h, tail))
                else:
                    lexemes.append((h, tail))
            for (h, tail), info in zip(lexemes, space.infos([h for h, _ in lexemes])):
                np.bitwise_or(words, info.inner, out=words)
                if not (info.nullable or info.exit_nodes.size):
                    continue
                tsid = a.intern(tail)
                if info.nullable:
                    if tsid in self._in_progress:  # a nullable cycle: walk this part as a whole
                        raw.append(f.seq(f.lexeme(h), tail))
                    else:
                        np.bitwise_or(words, self.token_mask(tsid), out=words)
                if info.exit_nodes.size:
                    crossing.append(self._crossing(info, tsid))
            if raw:
                rest = f.alt(*raw)
                if rest.kind != NEVER and a.is_live(rest):
                    np.bitwise_or(words, self._raw_mask(rest), out=words)
        finally:
            self._in_progress.discard(sid)
        if crossing:
            ids = np.concatenate(crossing) if len(crossing) > 1 else crossing[0]
            if ids.size:
                space.bits.set(words, ids)
        return words

    def _literal_head(self, h: Expr, tail: Expr) -> np.ndarray:
        """A lexeme that goes on with forced text (the rest of a key, ``":``): its tokens are
        the prefixes of the text, found along one trie path (kept per text by the lexeme
        space), and the tokens that spell all of it and go on into what follows, read from
        the path's end. No walk, no lexeme state. Kept per (text, tail): states that differ
        elsewhere share the branch (about half of those met on MaskBench)."""
        found = self._literals.get((h, tail))
        if found is None:
            parts = self._literal_tokens(h, tail)
            found = np.concatenate(parts) if len(parts) > 1 else parts[0]
            self._literals[(h, tail)] = found
        return found

    def _literal_tokens(self, h: Expr, tail: Expr) -> list[np.ndarray]:
        f = self._factory
        text, rest = (h.args[0], f.empty) if h.kind == BYTES else (h.args[0].args[0], h.args[1])
        ids, end = self._space.literal(text)
        out = [ids]
        if end is not None:
            after = f.seq(f.lexeme(rest), tail) if rest.kind != EMPTY else tail
            if after.kind != NEVER and self._automaton.is_live(after):
                self.stats["literal_crossings"] += 1
                out.extend(self._cross_from(end, after, 0))
        return out

    def _raw_mask(self, e: Expr) -> np.ndarray:
        """The mask of a part that starts with no lexeme (a GBNF rule's text), by a walk of the
        whole trie, kept per clamped form: states differing only in large repetition counts
        share one walk."""
        key = ("raw", self._factory.clamp(e, self._space.clamp_bound))
        found = self._masks.get(key)
        if found is None:
            self.stats["raw_walks"] += 1
            a, trie = self._automaton, self.vocab.trie
            walk = a.walk(a.intern(key[1]), trie)
            found = walk.mask(trie, self._space.token_slot, self.n_words, self.vocab.size)
            self._remember(key, found)
        return found

    def _branches(self, e: Expr) -> tuple[tuple[tuple[Expr, Expr], ...], tuple[Expr, ...]]:
        """Split a state into ``(lexeme h, tail T)`` pairs and the rest (not starting with a
        lexeme): a state is the alternative of ``LEX h · T`` for each pair and of each rest.
        Kept per expression: the tail a lexeme crosses into is met again from other lexemes."""
        found = self._branch_memo.get(e)
        if found is None:
            found = self._split(e)
            if len(self._branch_memo) >= _MAX_BRANCH_MEMO:
                self._branch_memo.clear()
            self._branch_memo[e] = found
        return found

    def _split(self, e: Expr) -> tuple[tuple[tuple[Expr, Expr], ...], tuple[Expr, ...]]:
        f = self._factory
        empty = f.empty
        groups: dict[Expr, list[Expr]] = {}
        raw: list[Expr] = []
        entered: set[tuple[Expr, Expr]] = set()
        stack = [(e, empty)]
        while stack:
            x, cont = stack.pop()
            k = x.kind
            if k == ALT:
                stack.extend((m, cont) for m in x.args)
            elif k == SEQ:
                head, tail = x.args
                stack.append((head, f._seq2(tail, cont)))
                if f.nullable(head):
                    stack.append((tail, cont))
            elif k == LEX:
                groups.setdefault(x.args[0], []).append(cont)
            elif k == REF:
                if (x, cont) not in entered:
                    entered.add((x, cont))
                    stack.append((f.body(x), cont))
            elif k == REPEAT:
                item, lo, hi = x.args
                if lo > 0 and f.nullable(item):
                    lo = 0
                rest = f.repeat(item, max(lo - 1, 0), None if hi is None else hi - 1)
                stack.append((item, f._seq2(rest, cont)))
            elif k != EMPTY and k != NEVER:
                raw.append(f._seq2(x, cont))
        return tuple((h, f.alt(*tails)) for h, tails in groups.items()), tuple(raw)

    def _crossing(self, info: LexemeInfo, tsid: int) -> np.ndarray:
        """Tokens that end lexeme ``info`` inside them and continue into state ``tsid``."""
        key = (id(info), tsid)
        hit = self._exits.get(key)
        if hit is not None and hit[0] is info:
            return hit[1]
        if info.string is not None:  # a JSON string body: one walk per tail, filtered by each body
            below = self._string_exits.get(tsid)
            if below is None:
                below = self._string_exits[tsid] = self._below(info.exit_nodes, tsid)
            ids = self._space.strings.crossing_filter(below, *info.string)  # type: ignore[union-attr]
        else:
            ids = self._below(info.exit_nodes, tsid)
        self._exits[key] = (info, ids)
        return ids

    def _below(self, starts: np.ndarray, tsid: int) -> np.ndarray:
        self.stats["crossing_walks"] += 1
        found = self._cross_from(starts, self._automaton.exprs[tsid], 0)
        if not found:
            return np.zeros(0, dtype=np.int32)
        return np.concatenate(found) if len(found) > 1 else found[0]

    def _cross_from(self, starts: np.ndarray, tail: Expr, depth: int) -> list[np.ndarray]:
        """The tokens below the trie nodes ``starts`` (a node set of the lexeme space) whose
        rest can begin ``tail``: read lexeme by lexeme through the lexeme space's shared
        crossings (:meth:`LexemeSpace.cross`), so what one schema walked, the next finds.
        Only what is not a lexeme is read with this grammar's own automaton."""
        space, trie, f = self._space, self.vocab.trie, self._factory
        if depth > _MAX_CROSSED_LEXEMES:  # tokens spanning this many lexemes: read the rest whole
            a = self._automaton
            return [tokens_at(trie, a.walk_below(starts, a.intern(tail), trie))]
        groups, raw = self._branches(tail)
        out: list[np.ndarray] = []
        for h, after in groups:
            if after.kind == NEVER or not self._automaton.is_live(after):
                continue
            tokens, ends = space.cross(starts, h)
            if tokens.size:
                out.append(tokens)
            if ends is not None:
                out.extend(self._cross_from(ends, after, depth + 1))
            if f.nullable(h):  # the lexeme may be empty here: its successor starts now
                out.extend(self._cross_from(starts, after, depth + 1))
        if raw:
            rest = f.alt(*raw)
            if rest.kind != NEVER and self._automaton.is_live(rest):
                a = self._automaton
                out.append(tokens_at(trie, a.walk_below(starts, a.intern(rest), trie)))
        return out

    def reference_mask(self, sid: int) -> np.ndarray:
        """The token mask of ``sid`` by one plain walk of the whole state over the whole trie:
        no lexemes, no shared tables, no caches. Slow; the oracle the tests hold
        :meth:`token_mask` to."""
        with self._lock:
            trie = self.vocab.trie
            walk = self._automaton.walk(sid, trie)
            return walk.mask(trie, self._space.token_slot, self.n_words, self.vocab.size)

    def reference_step(self, sid: int, data: bytes) -> int:
        """The state after ``data`` from ``sid`` by deriving the whole state byte by byte: no
        table, no branches. The oracle the tests hold :meth:`step` to (same language; the state
        may differ where several branches read the token)."""
        with self._lock:
            return self._automaton.derive_rest(sid, data, 0)

    def fill_mask(self, sid: int, out: np.ndarray, *, terminated: bool = False) -> None:
        """Write the allowed set of state ``sid`` (EOS included when accepting) into ``out``."""
        if terminated:
            out[:] = 0
        else:
            out[: self.n_words] = self.token_mask(sid)
            if out.shape[0] > self.n_words:
                out[self.n_words:] = 0
        if terminated or self._automaton.accepting[sid]:
            self.set_eos(out)
        if self._specials and not terminated:
            for token_id in self.special_transitions(sid):
                out[token_id // 32] |= np.int32(np.uint32(1 << (token_id % 32)).view(np.int32))

    def set_eos(self, out: np.ndarray) -> None:
        """Set the bits of the EOS ids in the packed mask ``out`` (a scalar OR per id: there are
        one to three, and ``ufunc.at`` costs more than a cached mask's whole copy)."""
        for word, bit in self._eos_bits:
            out[word] |= bit

    def matcher(self, *, max_tokens: object = None) -> "Matcher":
        """A fresh matcher at the start of the output.

        ``max_tokens``: the token budget of the whole output, its EOS included (``max_new_tokens``,
        vLLM's ``max_tokens``), a positive int. The matcher then allows only tokens after which a
        complete output still fits (see :mod:`enforcer.engine.budget`). ``None``: no budget.
        Typed ``object`` because the Matcher checks it: the compiled build would otherwise turn a
        wrong value into a TypeError before it, not the OptionError a user is promised.
        """
        from .matcher import Matcher

        return Matcher(self, max_tokens=max_tokens)  # type: ignore[arg-type]

    # -- hooks for enforcer.engine.budget and enforcer.engine.forced (never on the mask path) ----

    def token_transitions(self, sid: int) -> tuple[np.ndarray, np.ndarray]:
        """Every token that may come in ``sid`` and the state it leads to: ``(ids, next_states)``,
        special tokens the grammar names included, EOS not. One walk of the whole trie from
        ``sid`` with true states at every node (no lexeme split), so milliseconds where a string
        is open: for the budget's search, which needs where each token leads, not just whether."""
        with self._lock:
            ids, nxt = self._trie_transitions(sid, self.vocab.trie)
            special = self.special_transitions(sid) if self._specials else {}
            if special:
                ids = np.concatenate([ids, np.fromiter(special.keys(), dtype=np.int64, count=len(special))])
                nxt = np.concatenate([nxt, np.fromiter(special.values(), dtype=np.int32, count=len(special))])
            return ids, nxt

    def _trie_transitions(self, sid: int, trie: Any) -> tuple[np.ndarray, np.ndarray]:
        nodes, states = self._automaton._walk_from(np.zeros(1, dtype=np.int64), sid, trie)
        if not nodes:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        nodes_a = np.concatenate(nodes) if len(nodes) > 1 else nodes[0]
        states_a = np.concatenate(states) if len(states) > 1 else states[0]
        starts = trie.token_offsets[nodes_a]
        counts = trie.token_offsets[nodes_a + 1] - starts
        has = counts > 0
        starts, counts, node_states = starts[has], counts[has], states_a[has]
        total = int(counts.sum())
        ids = trie.token_ids[concat_ranges(starts, counts, total)].astype(np.int64)
        nxt = np.repeat(node_states, counts).astype(np.int32)
        keep = ids < self.vocab.size
        return ids[keep], nxt[keep]

    def byte_transitions(self, sid: int, *, stop_after: int = 256) -> list[tuple[int, int, int]]:
        """``(lo, hi, next)``: the byte ranges ``lo..hi-1`` that may come in ``sid`` (to a live
        state), by byte class; stops once more than ``stop_after`` bytes are known to be allowed
        (forced text asks for ``stop_after=1``)."""
        with self._lock:
            a = self._automaton
            bounds = a._class_bounds(sid)
            out: list[tuple[int, int, int]] = []
            allowed = 0
            for k in range(len(bounds) - 1):
                lo, hi = bounds[k], bounds[k + 1]
                nxt = int(a.table[sid, lo])
                if nxt == -1:
                    nxt = a._derive_class_index(sid, bounds, k)
                if nxt != DEAD:
                    out.append((lo, hi, nxt))
                    allowed += hi - lo
                    if allowed > stop_after:
                        break
            return out

    def states_below(self, starts: np.ndarray, sid: int) -> tuple[np.ndarray, np.ndarray]:
        """The live trie nodes strictly below ``starts`` read from state ``sid``, and their
        states (how tokens run on after a lexeme ends inside them)."""
        with self._lock:
            nodes, states = self._automaton._walk_from(starts, sid, self.vocab.trie)
            if not nodes:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
            return np.concatenate(nodes), np.concatenate(states)

    def string_branch(self, sid: int) -> tuple[Any, tuple, int, Expr] | None:
        """``(family, (ranges, lo, hi), tail state, body expression)`` when state ``sid`` is one
        JSON string body (no excluded names) followed by a tail: its tokens are then known
        from the vocabulary's string tables (:class:`~enforcer.engine.lexemes.StringFamily`)
        without a walk. ``None`` for any other shape."""
        strings = self._space.strings
        if strings is None:
            return None
        with self._lock:
            groups, raw = self._branches(self._automaton.exprs[sid])
            if raw or len(groups) != 1:
                return None
            (h, tail), = groups
            found = strings.match(h)
            if found is None or found[3]:
                return None
            if tail.kind == NEVER or not self._automaton.is_live(tail):
                return None
            return strings, found[:3], self._automaton.intern(tail), h

    def tokens_below(self, node: int, sid: int) -> np.ndarray:
        """Token ids strictly below trie node ``node`` whose bytes past it may be read from state
        ``sid`` (forced text: can a token that spells the end of it run on into what follows?)."""
        with self._lock:
            trie = self.vocab.trie
            return tokens_at(trie, self._automaton.walk_below(np.array([node], dtype=np.int64), sid, trie))

    def expression(self, sid: int) -> Expr:
        """The expression of state ``sid`` (what may still follow)."""
        return self._automaton.exprs[sid]

    @property
    def num_states(self) -> int:
        return self._automaton.num_states

    @property
    def memory_bytes(self) -> int:
        """Bytes this grammar holds by itself: its state table, cached masks and crossings (the
        lexemes it shares with other grammars are counted by its compiler)."""
        crossings = sum(ids.nbytes for ids in self._string_exits.values())
        crossings += sum(ids.nbytes for _, ids in self._exits.values())
        crossings += sum(ids.nbytes for ids in self._literals.values())
        return self._automaton.memory_bytes() + self._mask_bytes + crossings + 100 * len(self._token_steps)

    def __repr__(self) -> str:
        return f"Grammar({self.source or 'custom'}, states={self.num_states}, masks={len(self._masks)})"
