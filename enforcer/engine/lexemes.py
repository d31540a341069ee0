"""What every grammar of a vocabulary shares: lexeme automata and their token sets.

A grammar state that starts with a lexeme (``LEX h`` followed by a tail ``T``) allows two kinds
of tokens (see :mod:`enforcer.engine.grammar`):

* tokens read entirely inside the lexeme: ``inner(h)``, which depends on ``h`` alone;
* tokens in which the lexeme ends and that continue into ``T``: they start at an *exit node* of
  the token trie, a node whose prefix completes ``h``, and their rest is read from ``T``.

``h`` is the same expression in every grammar that writes the same kind of value (a JSON string
with the same bounds, a number, a key), so its inner set and exit nodes are computed once per
vocabulary and kept here, in the :class:`LexemeSpace` of the compiler: a schema never seen
before pays only for its own structure. Lexeme states are keyed by their clamped form (see
``ExprFactory.clamp``), so the positions of a long bounded string share one entry until the
last few characters.

Tokens longer than a short bound (20 bytes in Llama 3: 588 tokens of 128,000) are walked apart
(:class:`LongTokens`): a lexeme with a repetition count above that bound (an email's local part
of up to 64 characters, a hostname label of 63, a pattern ``{0,250}``) takes one walk of the
whole trie clamped at the short bound, shared by its positions until the last few, and an exact
walk of the long tokens' paths alone, which is cheap. Clamped at the longest token instead,
every position of an email was a walk of the whole trie.

JSON string bodies (``repeat(char, lo, hi) "``) get their sets from per-vocabulary tables of
character counts instead of a trie walk (see :mod:`enforcer.schema.json_tokens`): every length
bound costs a few numpy operations, not a walk of the whole vocabulary.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..trie import TokenTrie
from ..vocab import Vocabulary
from .automaton import DEAD, Automaton, TokenBits, leading_run, pack_ids, tokens_at
from .expr import ALT, AND, BYTES, CLASS, EMPTY, LEX, NEVER, NOT, REPEAT, SEQ, SPECIAL, Expr, ExprFactory


_RENEW_STATES = 8192


@dataclass(frozen=True)
class LexemeInfo:
    """What a lexeme state allows by itself.

    ``inner``: packed mask of the tokens read entirely inside the lexeme (for lexemes walked
    together, inside any of them: see :meth:`LexemeSpace.infos`). ``nullable``: the
    lexeme may end right here (then anything the tail allows may come too). ``exit_nodes``: trie
    nodes below which tokens continue past the lexeme's end. ``string``: for JSON string
    bodies, ``(class, lo, hi, excluded)`` (see :class:`StringFamily`); crossing tokens are then
    filtered by class and count.
    """

    inner: np.ndarray
    nullable: bool
    exit_nodes: np.ndarray
    string: tuple | None = None

    @property
    def nbytes(self) -> int:
        return int(self.inner.nbytes + self.exit_nodes.nbytes) + 100


class LongTokens:
    """The tokens longer than ``bound`` bytes, in a trie of their own (see the module docstring).

    The bound is the shortest, from 16 bytes on, at which these tokens' paths are at most
    1/32 of the trie's nodes: a walk of them costs little beside a walk of the whole trie."""

    MIN_BOUND: ClassVar[int] = 16
    MAX_SHARE: ClassVar[int] = 32

    def __init__(self, vocab: Vocabulary, bound: int, n_words: int):
        self.bound = bound
        self.trie, self.node = vocab.trie.long_tokens(bound)  # node: of each of its nodes, in the whole trie
        self.token_slot = token_slots(self.trie, vocab.size)
        self.others = ~pack_ids(self.trie.token_ids, n_words)  # packed: every token but these

    @classmethod
    def of(cls, vocab: Vocabulary, n_words: int) -> "LongTokens | None":
        """The long tokens of ``vocab``, or ``None`` when no bound keeps their paths few (a
        short vocabulary's tokens are all short: one walk is exact)."""
        trie = vocab.trie
        reach = np.sort(trie.reach)
        for bound in range(cls.MIN_BOUND, trie.max_depth):
            on_paths = reach.size - int(np.searchsorted(reach, bound, side="right"))
            if on_paths * cls.MAX_SHARE <= trie.num_nodes:
                return cls(vocab, bound, n_words)
        return None


def token_slots(trie: TokenTrie, size: int) -> np.ndarray:
    """Per token id: the level-layout slot of its node in ``trie``, or the last slot ("not in the
    trie"), for :meth:`Walk.mask`."""
    token_node = np.full(size, trie.num_nodes, dtype=np.int64)
    known = trie.token_node[:size]
    token_node[: known.size] = np.where(known >= 0, known, trie.num_nodes)
    return trie.level_layout.position[token_node]


_STRING_MASKS = 1024  # string-body masks kept by bounds (16 kB each in Llama 3), then forgotten at once
_CLASS_TABLES = 64  # character classes kept (their per-token tables: 144 kB each in Llama 3), likewise
_ENDS, _PARTIALS, _CLOSES = 0, 1, 2  # token kinds of a string body: ends inside it, inside a character, at its quote


class StringFamily:
    """JSON string bodies over one vocabulary: ``repeat(c, lo, hi) '"'`` for a character class
    ``c``, optionally minus a finite set of bodies (object keys that must not be a declared name),
    decided from the count tables (see the module docstring) instead of a walk."""

    def __init__(self, factory: ExprFactory, tables: Any, vocab: Vocabulary):
        from ..schema.json_tokens import END, PARTIAL, QUOTE

        self.factory = factory
        self.tables = tables
        self.trie = vocab.trie
        self.n_words = (vocab.size + 31) // 32
        self.size = vocab.size
        kind, quote_node = tables.kind, tables.quote_node
        known = np.full(vocab.size, -2, dtype=np.int64)  # ids past the tokenizer: in no node
        n = min(vocab.size, vocab.trie.token_node.size)
        known[:n] = vocab.trie.token_node[:n]
        self._end = kind == END
        self._partial = kind == PARTIAL
        self._closing = (kind == QUOTE) & (quote_node == known)  # ends at the quote
        self._count = tables.count
        self._kinds = (self._end, self._partial, self._closing)  # indexed by _ENDS, _PARTIALS, _CLOSES
        self._most = int(self._count.max()) if self._count.size else 0
        self._nothing = np.zeros(self.n_words, dtype=np.int32)
        self._levels: dict[tuple[int, int], np.ndarray] = {}
        self._in_class: dict[tuple, np.ndarray] = {}
        self._class_packed: dict[tuple, np.ndarray] = {}
        self._masks: dict[tuple, np.ndarray] = {}

    def match(self, h: Expr) -> tuple[tuple, int, int | None, tuple[bytes, ...]] | None:
        """``(class ranges, lo, hi, excluded bodies)`` if ``h`` is a string body of this family."""
        if h.kind == BYTES and h.args[0] == b'"':
            return ((0, 0x10FFFF),), 0, 0, ()
        if h.kind != SEQ or h.args[1].kind != BYTES or h.args[1].args[0] != b'"':
            return None
        body = h.args[0]
        excluded: tuple[bytes, ...] = ()
        if body.kind == AND and len(body.args) == 2:
            rep, other = body.args if body.args[0].kind == REPEAT else body.args[::-1]
            if other.kind != NOT or rep.kind != REPEAT or rep.args[2] is not None:
                return None
            words = finite_words(other.args[0], limit=4096)
            if words is None:
                return None
            excluded, body = tuple(words), rep
        if body.kind != REPEAT:
            return None
        ranges = self.factory.json_chars.get(body.args[0])
        if ranges is None:
            return None
        return ranges, body.args[1], body.args[2], excluded

    def _class_ok(self, ranges: tuple) -> np.ndarray:
        found = self._in_class.get(ranges)
        if found is None:
            if len(self._in_class) >= _CLASS_TABLES:  # a server meets classes without end
                self._in_class.clear()
                self._class_packed.clear()
            found = self._in_class[ranges] = self.tables.in_class(ranges)
        return found

    def inner(self, ranges: tuple, lo: int, hi: int | None, excluded: tuple[bytes, ...]) -> np.ndarray:
        key = (ranges, lo, hi, excluded)
        found = self._masks.get(key)
        if found is None:
            most = self._most
            top = most if hi is None else hi
            # end inside the body with room for more (a partial character needs one more),
            # or close it with a count in [lo, hi]
            words = (self._at_most(_ENDS, top) | self._at_most(_PARTIALS, top - 1)
                     | (self._at_most(_CLOSES, top) & ~self._at_most(_CLOSES, lo - 1)))
            words &= self._class_words(ranges)
            dropped = []  # the closing tokens whose body is an excluded name
            for word in excluded:
                node = self.trie.find(word + b'"')
                if node >= 0:
                    dropped.append(self.trie.tokens_at(node))
            if dropped:
                words &= ~pack_ids(np.concatenate(dropped), self.n_words)
            found = words
            found.setflags(write=False)
            if len(self._masks) >= _STRING_MASKS:
                self._masks.clear()
            self._masks[key] = found
        return found

    @property
    def memory_bytes(self) -> int:
        """Bytes of the tables kept (bounded: see ``_STRING_MASKS``, ``_CLASS_TABLES``)."""
        kept = (*self._masks.values(), *self._in_class.values(), *self._class_packed.values(),
                *self._levels.values())
        return sum(int(table.nbytes) for table in kept)

    def _at_most(self, kind: int, count: int) -> np.ndarray:
        """Packed: the tokens of ``kind`` (see ``_ENDS``) with at most ``count`` characters. A
        length bound costs three of these, each made once per vocabulary and count (counts past
        the longest token share one), instead of six passes over every token per bound."""
        count = min(count, self._most)
        if count < 0:
            return self._nothing
        found = self._levels.get((kind, count))
        if found is None:
            found = self._levels[(kind, count)] = self._pack(self._kinds[kind] & (self._count <= count))
        return found

    def _class_words(self, ranges: tuple) -> np.ndarray:
        """Packed :meth:`_class_ok`."""
        found = self._class_packed.get(ranges)
        if found is None:
            found = self._class_packed[ranges] = self._pack(self._class_ok(ranges))
        return found

    def _pack(self, bits: np.ndarray) -> np.ndarray:
        full = np.zeros(self.n_words * 32, dtype=bool)
        full[: self.size] = bits
        return np.packbits(full, bitorder="little").view(np.int32)

    def crossing_filter(self, ids: np.ndarray, ranges: tuple, lo: int, hi: int | None,
                        excluded: tuple[bytes, ...]) -> np.ndarray:
        """Of the tokens that close a string and continue (``ids``), those whose body fits."""
        counts = self._count[ids]
        keep = (counts >= lo) & self._class_ok(ranges)[ids]
        if hi is not None:
            keep &= counts <= hi
        ids = ids[keep]
        if excluded and ids.size:
            quote_node = self.tables.quote_node[ids]
            bad = np.zeros(ids.size, dtype=bool)
            for word in excluded:
                node = self.trie.find(word + b'"')
                if node >= 0:
                    bad |= quote_node == node
            ids = ids[~bad]
        return ids


def finite_words(e: Expr, *, limit: int) -> list[bytes] | None:
    """The words of a finite, reference-free language (``None`` if infinite, or more than
    ``limit`` words, or not plain alternatives and sequences of literals and byte classes)."""
    k = e.kind
    if k == EMPTY:
        return [b""]
    if k == NEVER:
        return []
    if k == BYTES:
        return [e.args[0]]
    if k == CLASS:
        mask = e.args[0]
        return [bytes([b]) for b in range(256) if (mask >> b) & 1]
    if k == ALT:
        out: list[bytes] = []
        for x in e.args:
            words = finite_words(x, limit=limit)
            if words is None:
                return None
            out.extend(words)
            if len(out) > limit:
                return None
        return out
    if k == SEQ:
        heads = finite_words(e.args[0], limit=limit)
        tails = finite_words(e.args[1], limit=limit) if heads is not None else None
        if heads is None or tails is None or len(heads) * len(tails) > limit:
            return None
        return [a + b for a in heads for b in tails]
    if k == REPEAT and e.args[2] is not None:
        item = finite_words(e.args[0], limit=limit)
        if item is None:
            return None
        out, layer = ([b""] if e.args[1] == 0 else []), [b""]
        for count in range(1, e.args[2] + 1):
            layer = [a + b for a in layer for b in item]
            if len(layer) + len(out) > limit:
                return None
            if count >= e.args[1]:
                out.extend(layer)
        return out
    if k == LEX:
        return finite_words(e.args[0], limit=limit)
    return None


class LexemeSpace:
    """The lexeme automaton of one expression factory and vocabulary, and the per-lexeme token
    sets; bounded by ``cache_bytes`` (least recently used entries go first)."""

    def __init__(self, factory: ExprFactory, vocab: Vocabulary, *, max_states: int, cache_bytes: int,
                 strings: StringFamily | None = None, long_apart: bool = True):
        self.factory = factory
        self.vocab = vocab
        self.strings = strings
        self.automaton = Automaton(factory, max_states=max_states, what="lexeme")
        self.max_states = max_states
        self.cache_bytes = cache_bytes
        self.clamp_bound = max(vocab.trie.max_depth, 1)
        self.n_words = (vocab.size + 31) // 32
        self.token_slot = token_slots(vocab.trie, vocab.size)
        self.bits = TokenBits(self.n_words * 32)
        self.long = LongTokens.of(vocab, self.n_words) if long_apart else None
        self._info: OrderedDict[Expr, LexemeInfo] = OrderedDict()
        self._short: OrderedDict[tuple[Expr, ...], tuple[np.ndarray, list[np.ndarray]]] = OrderedDict()
        self._node_sets: dict[bytes, np.ndarray] = {}
        self._literals: dict[bytes, tuple[np.ndarray, np.ndarray | None]] = {}
        self._together: OrderedDict[tuple[Expr, ...], list[LexemeInfo]] = OrderedDict()  # see infos
        self._crossings: OrderedDict[tuple[int, Expr], tuple[np.ndarray, np.ndarray, np.ndarray | None]] = OrderedDict()
        self._bytes = 0
        self.stats = {"lexeme_walks": 0, "string_tables": 0, "hits": 0, "crossing_walks": 0,
                      "joint_walks": 0, "long_walks": 0}

    def infos(self, heads: list[Expr]) -> list[LexemeInfo]:
        """The token sets of the lexemes one state may start with (``heads``: the expressions
        inside ``LEX``, distinct), in order.

        Most are kept one by one, by their clamped form. Lexemes that each need a walk of the
        whole trie (not forced text first, like a key: see :func:`_starts_narrow`) and meet at
        one state (a key under several patterns: one lexeme per combination of patterns it
        matches; alternatives of string formats) are walked together, once, as their
        alternative: a walk costs about the same for one lexeme as for several, and the worst
        steps of real schemas were five to eight such walks in a row. Each of them then carries
        the inner tokens of all of them (the state takes their union anyway) and its own exit
        nodes. Kept per set of lexemes."""
        keys = [self.factory.clamp(h, self.clamp_bound) for h in heads]
        found = [self._known(key) for key in keys]
        joint = [k for k, info in enumerate(found) if info is None and not _starts_narrow(keys[k])]
        if len(joint) > 1:
            for k, info in zip(joint, self._together_info(tuple(keys[k] for k in joint))):
                found[k] = info
        return [info if info is not None else self._keep(key, self._walk((key,))[0]) for key, info in zip(keys, found)]

    def _together_info(self, keys: tuple[Expr, ...]) -> list[LexemeInfo]:
        """The infos of lexemes walked together (:meth:`_walk`), kept per set."""
        found = self._together.get(keys)
        if found is not None:
            self._together.move_to_end(keys)
            self.stats["hits"] += 1
            return found
        found = self._together[keys] = self._walk(keys)
        self._bytes += _together_bytes(found)
        self._evict()
        return found

    def _known(self, key: Expr) -> LexemeInfo | None:
        """The kept info of a clamped lexeme, or a string body's from the count tables; ``None``
        when it takes a walk."""
        found = self._info.get(key)
        if found is not None:
            self._info.move_to_end(key)
            self.stats["hits"] += 1
            return found
        family = self.strings.match(key) if self.strings is not None else None
        if family is None:
            return None
        self.stats["string_tables"] += 1
        return self._keep(key, LexemeInfo(self.strings.inner(*family), False,  # type: ignore[union-attr]
                                          self.node_set(self.strings.tables.exit_nodes), family))  # type: ignore[union-attr]

    def _keep(self, key: Expr, found: LexemeInfo) -> LexemeInfo:
        self._info[key] = found
        self._bytes += found.nbytes
        self._evict()
        self._renew_automaton()
        return found

    def _renew_automaton(self) -> None:
        """Start the lexeme automaton afresh once it holds :data:`_RENEW_STATES` states (or half
        its limit): what it learnt is kept per lexeme (masks, exit nodes, crossings), and its
        table doubles as it grows, a copy paid inside one step (16,000 to 32,000 states:
        25-35 ms of one mask in a long-running process, MaskBench esquio)."""
        if self.automaton.num_states > min(self.max_states // 2, _RENEW_STATES):
            self.automaton = Automaton(self.factory, max_states=self.max_states, what="lexeme")

    def _walk(self, keys: tuple[Expr, ...]) -> list[LexemeInfo]:
        """The infos of lexemes ``keys`` (clamped at the longest token), walked together when
        there are several (:meth:`_walk_lexemes`).

        When some count runs above the long tokens' bound, that is two walks: the whole trie
        clamped at the bound (kept, see :meth:`_short_part`: exact for the tokens of at most
        ``bound`` bytes), and the long tokens' trie with the keys themselves."""
        f, long = self.factory, self.long
        shorts = tuple(f.clamp(k, long.bound) for k in keys) if long is not None else keys
        if long is None or shorts == keys:  # no count above the bound: one walk is exact
            self.stats["lexeme_walks" if len(keys) == 1 else "joint_walks"] += 1
            inner, exits = self._walk_lexemes(keys, self.vocab.trie, self.token_slot)
            inner.setflags(write=False)
            return [LexemeInfo(inner, f.nullable(k), self.node_set(e)) for k, e in zip(keys, exits)]
        short_inner, short_exits = self._short_part(shorts, long)
        self.stats["long_walks"] += 1
        long_inner, long_exits = self._walk_lexemes(keys, long.trie, long.token_slot)
        inner = short_inner | long_inner
        inner.setflags(write=False)
        depth = long.trie.node_depth
        return [LexemeInfo(inner, f.nullable(k), self.node_set(np.concatenate((here, long.node[there[depth[there] > long.bound]]))))
                for k, here, there in zip(keys, short_exits, long_exits)]

    def _short_part(self, shorts: tuple[Expr, ...], long: LongTokens) -> tuple[np.ndarray, list[np.ndarray]]:
        """The inner tokens and exit nodes of lexemes ``shorts`` (clamped at ``long.bound``)
        among the tokens of at most ``long.bound`` bytes, kept per set of lexemes: every
        position of a long string but its last few has the same."""
        found = self._short.get(shorts)
        if found is not None:
            self._short.move_to_end(shorts)
            self.stats["hits"] += 1
            return found
        self.stats["lexeme_walks" if len(shorts) == 1 else "joint_walks"] += 1
        trie = self.vocab.trie
        inner, exits = self._walk_lexemes(shorts, trie, self.token_slot)
        inner &= long.others
        depth = trie.node_depth
        found = self._short[shorts] = (inner, [e[depth[e] <= long.bound] for e in exits])
        self._bytes += _short_bytes(found)
        self._evict()
        return found

    def _walk_lexemes(self, keys: tuple[Expr, ...], trie: TokenTrie,
                      token_slot: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """One walk of ``trie`` for lexemes ``keys``: the packed mask of the tokens read inside
        any of them (a new array), and each one's exit nodes.

        Several lexemes are one walk of ``h1 E1 | h2 E2 | ...``, where ``Ei`` is a symbol no
        byte reads: a node is live when some lexeme goes on, and lexeme ``i`` may end at a node
        whose state still holds ``Ei`` behind a nullable prefix."""
        f, a = self.factory, self.automaton
        if len(keys) == 1:
            walk = a.walk(a.intern(keys[0]), trie)
            exits = [walk.exits(trie, a.accepting)]
        else:
            ends = [f.special(f"\x00end of lexeme {i}") for i in range(len(keys))]
            walk = a.walk(a.intern(f.alt(*(f.seq(key, end) for key, end in zip(keys, ends)))), trie)
            reached = walk.states if walk.dense is None else walk.dense
            accepting = np.zeros((len(keys), a.accepting.size), dtype=bool)
            which = {end.args[0]: i for i, end in enumerate(ends)}
            for state in np.flatnonzero(np.bincount(reached, minlength=1)).tolist():
                if state != DEAD:
                    for i in _ended(f, a.exprs[state], which):
                        accepting[i, state] = True
            exits = [walk.exits(trie, accepting[i]) for i in range(len(keys))]
        inner = walk.mask(trie, token_slot, self.n_words, self.vocab.size)
        self._renew_automaton()
        return inner, exits

    def literal(self, text: bytes) -> tuple[np.ndarray, np.ndarray | None]:
        """The tokens that are prefixes of ``text`` (all of it included), and the node set of
        the node spelling all of it when tokens go on below it (else ``None``)."""
        found = self._literals.get(text)
        if found is None:
            trie = self.vocab.trie
            node = 0
            path: list = []
            for byte in text:
                node = trie.child(node, byte)
                if node < 0:
                    break
                path.append(node)
            ids = (np.concatenate([trie.tokens_at(n) for n in path]) if path else np.zeros(0, dtype=np.int32))
            end = self.node_set(np.asarray([node])) if node >= 0 and trie.subtree_end[node] > node + 1 else None
            found = self._literals[text] = (ids, end)
            if len(self._literals) > 200_000:
                self._literals.clear()
        return found

    def node_set(self, nodes: np.ndarray) -> np.ndarray:
        """The canonical array for a set of trie nodes: equal sets are the same object, so a
        set can key a cache (:meth:`cross`)."""
        if nodes.size <= 64:  # most sets: a Python set beats np.unique's wrapper and sort
            nodes = np.array(sorted(set(nodes.tolist())), dtype=np.int64)
        else:
            nodes = np.unique(nodes.astype(np.int64))
        key = nodes.tobytes()
        found = self._node_sets.get(key)
        if found is None:
            found = self._node_sets[key] = nodes
            found.setflags(write=False)
        return found

    def cross(self, starts: np.ndarray, h: Expr) -> tuple[np.ndarray, np.ndarray | None]:
        """Reading lexeme ``h`` from below the trie nodes ``starts`` (a :meth:`node_set`):
        the tokens that end inside ``h``, and the nodes where ``h`` may end with tokens going
        on below them (or ``None``). What is left of a token after one lexeme ends is read
        lexeme by lexeme, and these pieces depend on the lexemes only: the comma after a
        string, the key after the comma, are the same in every schema, so they are walked
        once per vocabulary."""
        key = (id(starts), h)
        found = self._crossings.get(key)
        if found is not None and found[0] is starts:
            self._crossings.move_to_end(key)
            return found[1], found[2]
        self.stats["crossing_walks"] += 1
        a, trie = self.automaton, self.vocab.trie
        nodes, states = a._walk_from(starts, a.intern(h), trie, markers=True)
        if nodes:
            nodes_all = np.concatenate(nodes) if len(nodes) > 1 else nodes[0]
            states_all = np.concatenate(states) if len(states) > 1 else states[0]
            tokens = tokens_at(trie, nodes_all)
            ends = nodes_all[a.accepting[states_all]]
            ends = ends[trie.subtree_end[ends] > ends + 1]
            end_set = self.node_set(ends) if ends.size else None
        else:
            tokens, end_set = np.zeros(0, dtype=np.int32), None
        self._crossings[key] = (starts, tokens, end_set)
        self._bytes += int(tokens.nbytes) + 100
        self._evict()
        return tokens, end_set

    def _evict(self) -> None:
        while self._bytes > self.cache_bytes and (self._info or self._crossings or self._together or self._short):
            if self._crossings:
                _, (_, tokens, _) = self._crossings.popitem(last=False)
                self._bytes -= int(tokens.nbytes) + 100
            elif self._together:
                _, together = self._together.popitem(last=False)
                self._bytes -= _together_bytes(together)
            elif self._short:
                _, short = self._short.popitem(last=False)
                self._bytes -= _short_bytes(short)
            else:
                _, old = self._info.popitem(last=False)
                self._bytes -= old.nbytes

    @property
    def memory_bytes(self) -> int:
        strings = self.strings.memory_bytes if self.strings is not None else 0
        return self._bytes + self.automaton.memory_bytes() + strings


def _together_bytes(infos: list[LexemeInfo]) -> int:
    """What lexemes walked together hold: one inner mask, shared, and their own exit nodes."""
    return int(infos[0].inner.nbytes) + sum(int(info.exit_nodes.nbytes) + 100 for info in infos)


def _short_bytes(part: tuple[np.ndarray, list[np.ndarray]]) -> int:
    return int(part[0].nbytes) + sum(int(e.nbytes) for e in part[1]) + 100


def _starts_narrow(h: Expr) -> bool:
    """Whether a walk of lexeme ``h`` follows one trie path first (forced text, maybe after the
    layout's whitespace: a declared key, an enum value): cheap alone, and walked as one branch
    of an alternative it would lose that shortcut (and cost a walk of the whole trie)."""
    run = leading_run(h)
    e = run[2] if run is not None else h
    return e.kind == BYTES or (e.kind == SEQ and e.args[0].kind == BYTES)


def _ended(f: ExprFactory, state: Expr, which: dict[int, int]) -> list[int]:
    """The lexemes (by their end symbol, see :meth:`LexemeSpace._walk_lexemes`) that may end
    in ``state``: alternatives ``x Ei`` with ``x`` nullable. Sequences stay right-nested and
    alternatives flat, so ``Ei`` is the last item of its branch."""
    out: list = []
    for branch in state.args if state.kind == ALT else (state,):
        x = branch
        while x.kind == SEQ and f.nullable(x.args[0]):
            x = x.args[1]
        if x.kind == SPECIAL and x.args[0] in which:
            out.append(which[x.args[0]])
    return out
