"""A lower bound on the tokens a state still needs, from the text it must write.

Why: the budget's shortest-completion search (:mod:`enforcer.engine.budget`) is an A* search,
and with the trivial bound ("at least one token") it expands every state closer than the
answer: in a 16-property schema, thousands of partial keys, optional properties begun, string
escapes and longer numbers, each a walk of the trie. What keeps it narrow is this bound.

**The bound.** Every completion of a state writes the pieces its expression requires in order:
keys, ``":"``, closing brackets, and small values (an enum, a digit). Cut the expression's
sequence into *runs* of such pieces, each a small finite language (a literal; an alternative of
literals; a byte class of a few bytes), separated by what is not (a free string, a long number,
an optional part). Within a run, count the token *ends* that must fall inside it, whatever its
tokenization: the tokens covering a run are one that may begin before it (its tail a suffix of
some token), whole tokens, and one that may run past its end (a prefix of some longer token); a
token that covers all of a run with bytes on both sides ends nowhere in it. Each token ends at
one place, so the counts of the runs add up and never count a token twice:
``tokens >= sum over runs of their token ends``. Between runs: alternatives take the least,
``x{lo,hi}`` is ``lo`` times ``x``, an intersection the largest of its parts, string bodies and
the like count nothing; a rule met again while being examined counts nothing (the least
fixpoint from below stays a lower bound).

Per vocabulary (kept with it): the trie of every token's proper suffixes, cut to
:data:`SUFFIX_DEPTH` bytes (what may end a token that began earlier; past the cut, the bound
assumes the best case). Per run: a shortest-path over its positions (a few dozen), kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..trie import TokenTrie
from .expr import ALT, AND, BYTES, CLASS, EMPTY, LEX, NEVER, REF, REPEAT, SEQ, SPECIAL, Expr
from .fold import fold, least_parts

if TYPE_CHECKING:
    from ..vocab import Vocabulary
    from .expr import ExprFactory

INF = 1 << 40
SUFFIX_DEPTH = 16
_RUN_WORDS = 64  # a piece with more strings than this ends a run
_RUN_BYTES = 512  # ... or with more bytes: a run costs a shortest path over every byte of it
_CLASS_BYTES = 16  # a byte class wider than this ends a run


def _word_parts(factory: ExprFactory):
    def parts(e: Expr) -> list[Expr]:
        k = e.kind
        if k in (ALT, SEQ):
            return list(e.args)
        if k in (LEX, REPEAT):
            return [e.args[0]]
        if k == REF:
            return [factory.body(e)]
        return []
    return parts


def suffix_trie(vocab: Vocabulary) -> TokenTrie:
    """The trie of every proper suffix of every token (``t[i:]``, ``i >= 1``), cut to
    :data:`SUFFIX_DEPTH` bytes; a node holds an "id" when a whole suffix ends there."""
    def build(v: Vocabulary) -> TokenTrie:
        seen: set[bytes] = set()
        for token in range(v.size):
            data = v.token_bytes(token)
            if data is None:
                continue
            for i in range(1, len(data)):
                seen.add(data[i:i + SUFFIX_DEPTH])
        return TokenTrie.build(sorted(seen))

    return vocab.derived("enforcer.bounds.suffix-trie", build)


class _RunWalk:
    """How a run is read byte by byte, and walked along a trie (see :meth:`LiteralBounds._run`)."""

    def __init__(self, owner: LiteralBounds, pieces: tuple[tuple[bytes, ...], ...]):
        self.owner = owner
        self.pieces = pieces
        self.n = len(pieces)
        self.end = (self.n, -1, -1)

    def successors(self, point: tuple[int, int, int]) -> list[tuple[int, tuple[int, int, int]]]:
        """``(byte, next point)``."""
        k, w, o = point
        if k == self.n:
            return []
        pieces = self.pieces
        if o < 0:
            out = []
            for j, word in enumerate(pieces[k]):
                if word:
                    out.append((word[0], (k, j, 1) if len(word) > 1 else (k + 1, -1, -1)))
                else:
                    out.extend(self.successors((k + 1, -1, -1)))
            return out
        word = pieces[k][w]
        return [(word[o], (k, w, o + 1) if o + 1 < len(word) else (k + 1, -1, -1))]

    def closure(self, point: tuple[int, int, int]) -> list[tuple[int, int, int]]:
        """``point`` and, at the start of a piece that may be empty, the starts after it."""
        out = [point]
        while point[2] < 0 and point[0] < self.n and b"" in self.pieces[point[0]]:
            point = (point[0] + 1, -1, -1)
            out.append(point)
        return out

    def follow(self, trie: TokenTrie, start: tuple[int, int, int], max_depth: int):
        """``(node, point, depth)`` for every node of ``trie`` reached along the run."""
        child = self.owner._child
        stack = [(0, start, 0)]
        while stack:
            node, point, depth = stack.pop()
            if depth >= max_depth:
                continue
            for byte, nxt in self.successors(point):
                c = child(trie, node, byte)
                if c >= 0:
                    yield c, nxt, depth + 1
                    stack.append((c, nxt, depth + 1))

    def fewest_after(self, point: tuple[int, int, int], value) -> int:
        """The fewest token ends after ``point`` (a token boundary there), given ``value`` of
        the points after it."""
        trie = self.owner.trie
        offsets, subtree_end = trie.token_offsets, trie.subtree_end
        best = min((value(q) for q in self.closure(point)[1:]), default=INF)
        if self.end in self.closure(point):
            return 0
        for node, nxt, _ in self.follow(trie, point, 1 << 30):
            reached = self.closure(nxt)
            if self.end in reached and subtree_end[node] > node + 1:
                return 0  # the last token runs past the run
            if offsets[node + 1] > offsets[node]:
                best = min(best, 1 + min(value(q) for q in reached))
        return best


class LiteralBounds:
    """Token-end counts of runs and the lower bound of expressions, for one vocabulary and
    expression factory (see the module docstring). Memoised; not thread-safe by itself."""

    def __init__(self, vocab: Vocabulary, factory: ExprFactory):
        self.trie = vocab.trie
        self.suffixes = suffix_trie(vocab)
        self.factory = factory
        self._runs: dict[tuple[tuple[bytes, ...], ...], int] = {}
        self._expr: dict[Expr, int] = {}
        self._words: dict[Expr, tuple[bytes, ...] | None] = {}
        self._word_parts = _word_parts(factory)
        self._children: dict[tuple[int, int, int], int] = {}
        self._tails: dict[tuple[tuple[bytes, ...], ...], tuple[dict, int]] = {}

    # -- pieces -----------------------------------------------------------------------------------

    def words(self, e: Expr) -> tuple[bytes, ...] | None:
        """The strings of ``e`` when it is a small finite language (a run piece), else ``None``."""
        if e in self._words:
            return self._words[e]
        return fold(e, self._words, self._word_parts, self._words_of, None)

    def _words_of(self, e: Expr) -> tuple[bytes, ...] | None:
        """``e``'s words from its parts' (all known, see :func:`fold`)."""
        words, k = self._words, e.kind
        result: list[bytes] | None = None
        if k == BYTES:
            result = [e.args[0]]
        elif k == EMPTY:
            result = [b""]
        elif k == CLASS:
            mask = e.args[0]
            if bin(mask).count("1") <= _CLASS_BYTES:
                result = [bytes([b]) for b in range(256) if (mask >> b) & 1]
        elif k == LEX:
            result = list(words[e.args[0]] or ()) or None
        elif k == REF:
            body = words[self.factory.body(e)]
            result = list(body) if body is not None else None
        elif k == ALT:
            out: list[bytes] = []
            for x in e.args:
                w = words[x]
                if w is None or len(out) + len(w) > _RUN_WORDS:
                    out = None  # type: ignore[assignment]
                    break
                out.extend(w)
            result = out
        elif k == SEQ:
            a, b = words[e.args[0]], words[e.args[1]]
            if a is not None and b is not None and len(a) * len(b) <= _RUN_WORDS:
                result = [x + y for x in a for y in b]
        elif k == REPEAT:
            item, lo, hi = e.args
            w = words[item]
            if w is not None and hi is not None and hi <= 4:
                out, layer = ([b""] if lo == 0 else []), [b""]
                for count in range(1, hi + 1):
                    layer = [x + y for x in layer for y in w]
                    if len(out) + len(layer) > _RUN_WORDS:
                        out = None  # type: ignore[assignment]
                        break
                    if count >= lo:
                        out.extend(layer)
                result = out
        if result is not None and sum(map(len, result)) > _RUN_BYTES:
            result = None
        return tuple(sorted(set(result))) if result is not None else None

    # -- runs -------------------------------------------------------------------------------------

    def run(self, pieces: tuple[tuple[bytes, ...], ...]) -> int:
        """The fewest token ends inside a run of pieces (each a set of strings), however the
        run is chosen and tokenized in context (see the module docstring)."""
        found = self._runs.get(pieces)
        if found is None:
            found = self._runs[pieces] = self._run(pieces)
        return found

    def _child(self, trie: TokenTrie, node: int, byte: int) -> int:
        key = (id(trie), node, byte)
        found = self._children.get(key)
        if found is None:
            if len(self._children) > 2_000_000:
                self._children.clear()
            found = self._children[key] = trie.child(node, byte)
        return found

    def _run(self, pieces: tuple[tuple[bytes, ...], ...]) -> int:
        """Points: ``(k, w, o)``, offset ``o`` into string ``w`` of piece ``k``, and ``(k, -1,
        -1)`` the start of piece ``k`` (any of its strings); ``(n, -1, -1)`` is the end. The
        fewest ends after a point (a boundary there) come from the rest of the run
        (:meth:`_tail`, shared by every state whose run ends the same way); only the first
        piece's points are worked out here."""
        walk = _RunWalk(self, pieces)
        start, end = (0, -1, -1), walk.end
        rest = pieces[1:]

        def later(point: tuple[int, int, int]) -> int:
            if point[0] == 0:
                return after[point]
            return self._tail(rest, (point[0] - 1, point[1], point[2]))

        after: dict[tuple[int, int, int], int] = {}
        firsts = [(0, w, o) for w, word in enumerate(pieces[0]) for o in range(len(word) - 1, 0, -1)]
        for point in [*sorted(firsts, key=lambda p: -p[2]), start]:
            after[point] = walk.fewest_after(point, later)
        # a token that began before the run: it ends where a suffix of a token ends
        best = min(later(q) for q in walk.closure(start))
        for node, point, depth in walk.follow(self.suffixes, start, SUFFIX_DEPTH):
            reached = walk.closure(point)
            if end in reached and (depth == SUFFIX_DEPTH or self.suffixes.subtree_end[node] > node + 1):
                return 0  # one token around the whole run, with bytes on both sides
            if depth == SUFFIX_DEPTH:  # past the cut it may end anywhere after: count nothing more
                return min(best, 1)
            if self.suffixes.token_offsets[node + 1] > self.suffixes.token_offsets[node]:
                best = min(best, 1 + min(later(q) for q in reached))
        return best

    def _tail(self, rest: tuple[tuple[bytes, ...], ...], point: tuple[int, int, int]) -> int:
        """The fewest token ends after ``point`` of the run ``rest`` (a boundary at it)."""
        found = self._tails.get(rest)
        if found is None:
            found = self._tail_table(rest)
        table, shift = found
        return table[(point[0] + shift, point[1], point[2])] if point[0] < len(rest) else 0

    def _tail_table(self, rest: tuple[tuple[bytes, ...], ...]) -> tuple[dict, int]:
        """Backwards over the whole run: every point's fewest ends after it; kept for every
        suffix of the run."""
        walk = _RunWalk(self, rest)
        table: dict[tuple[int, int, int], int] = {walk.end: 0}
        points = [(k, -1, -1) for k in range(len(rest))]
        points += [(k, w, o) for k, piece in enumerate(rest) for w, word in enumerate(piece)
                   for o in range(1, len(word))]
        points.sort(key=lambda p: (p[0], p[2] if p[2] >= 0 else 0), reverse=True)
        for point in points:
            table[point] = walk.fewest_after(point, table.__getitem__)
        if len(self._tails) > 200_000:
            self._tails.clear()
        for j in range(len(rest)):
            self._tails.setdefault(rest[j:], (table, j))
        return table, 0

    # -- expressions ------------------------------------------------------------------------------

    def expression(self, e: Expr) -> int:
        """A lower bound on the tokens every string of ``e`` needs (see the module docstring)."""
        found = self._expr.get(e)
        if found is not None:
            return found
        if len(self._expr) > 1_000_000:
            self._expr.clear()
        return fold(e, self._expr, self._expression_parts, self._expression_of, 0)

    def _expression_parts(self, e: Expr) -> list[Expr]:
        if e.kind == SEQ or self.words(e) is not None:
            return self._breakers(e)
        return least_parts(e, self.factory)  # a rule met again while examined counts nothing

    def _expression_of(self, e: Expr) -> int:
        memo, k = self._expr, e.kind
        if k == SEQ or self.words(e) is not None:
            result = self._sequence(e)
        elif k == SPECIAL:
            result = 1
        elif k == NEVER:
            result = INF
        elif k == ALT:
            result = min(memo[x] for x in e.args)
        elif k == REPEAT:
            result = e.args[1] * memo[e.args[0]] if e.args[1] else 0
        elif k == LEX:
            result = memo[e.args[0]]
        elif k == AND:
            result = max(memo[x] for x in e.args)
        elif k == REF:
            result = memo[self.factory.body(e)]
        else:  # EMPTY, CLASS, NOT
            result = 0
        return min(result, INF)

    def _items(self, e: Expr):
        """A sequence, in a loop (sequences are long), as what :meth:`_sequence` adds up: run
        pieces (word tuples) and breakers (expressions measured on their own). Rules and lexemes
        in the sequence are opened in place (a ``}`` that closes a nested object joins the
        ``]`` before it into one run); a rule already open is a breaker."""
        stack: list[Expr] = [e]
        opened: set[Expr] = set()
        while stack:
            x = stack.pop()
            while x.kind == SEQ:
                stack.append(x.args[1])
                x = x.args[0]
            words = self.words(x)
            if words is not None:
                if words != (b"",):
                    yield words
                continue
            inner = None
            if x.kind == LEX:
                inner = x.args[0]
            elif x.kind == REF and x not in opened and len(opened) < 64:
                opened.add(x)
                inner = self.factory.body(x)
            if inner is not None and inner.kind in (SEQ, LEX, REF):
                stack.append(inner)
                continue
            yield x

    def _breakers(self, e: Expr) -> list[Expr]:
        return [x for x in self._items(e) if not isinstance(x, tuple)]

    def _sequence(self, e: Expr) -> int:
        """Runs, and what breaks them (measured already: see :meth:`expression`), added up."""
        pieces: list[tuple[bytes, ...]] = []
        total = 0
        for item in self._items(e):
            if isinstance(item, tuple):
                pieces.append(item)
                continue
            if pieces:
                total += self.run(tuple(pieces))
                pieces = []
            total += self._expr[item]
            if total >= INF:
                return INF
        if pieces:
            total += self.run(tuple(pieces))
        return total
