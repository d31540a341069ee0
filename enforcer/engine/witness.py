"""Achievable completions in tokens, by structure: a short text of each expression, the fewest
tokens that spell it, and the most tokens any state reached from it can need.

Why: the token budget (:mod:`enforcer.engine.budget`) must prove, for the tokens a state allows,
that a complete output still fits. A search over token transitions proves it exactly but walks
the trie once per state it expands (milliseconds each). Most decisions need much less: that
*some* completion fits, or that every state a token can reach has one that fits. Both come
from the expression alone:

* **The witness text** of ``e`` (:mod:`enforcer.engine.texts`): a string of ``e`` chosen by structure (sequences concatenate,
  an alternative takes its shortest, ``x{lo,hi}`` is ``lo`` copies, a byte class gives one of its
  bytes). Spelled with the fewest tokens of the vocabulary, it is a completion of that many
  tokens, so ``D(e) <= tokens(e)``: an upper bound, achievable by construction (every prefix of
  a string of ``e`` leaves a live state). A byte per token (what the budget used before) counts
  ``"description":`` as 14; spelled, it is 3 or 4.
* **The ceiling** of ``e``: ``D(y) <= ceiling(e)`` for *every* state ``y`` reached from ``e``.
  A budget at or above it cannot be overrun by any token, so the state's mask is the grammar's
  own and no walk is paid. ``a b``: inside ``a``, ``ceiling(a)`` to finish it and ``tokens(b)``
  after; ``x{lo,hi}``: finish one copy, then ``lo - 1`` more; a literal: the most tokens any of
  its suffixes needs. Rules that nest without end (a free JSON value) have none (``INF``).

**Spelling shares tails.** A state deep in an object is ``LEX h · T`` with ``T`` the rest of the
object, and every sibling state shares ``T`` (expressions are interned, so a sequence's suffix
is one object). The fewest tokens of ``text(a) + text(b)`` are found right to left: positions
inside ``a`` look ahead into ``b``'s first :data:`HEAD` bytes, whose counts ``b`` keeps. A token
running further past the boundary is not considered, so a count may exceed the optimum; it is
still achievable (a tokenization of the text), which is all a bound above needs. A new state
then costs a dynamic program over its head only.

Special tokens and complements have no text here (``INF``), nor an intersection none of whose
parts' texts the others accept: the budget's search decides those states. Texts longer than :data:`MAX_TEXT` bytes are not built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .expr import ALT, BYTES, CLASS, EMPTY, LEX, NEVER, REF, REPEAT, SEQ, Expr
from .fold import fold
from .texts import MAX_TEXT, Texts

if TYPE_CHECKING:
    from ..vocab import Vocabulary
    from .expr import ExprFactory

INF = 1 << 40
HEAD = 24          # bytes of a text kept for the tokens that cross into it from the left
_MEMO = 500_000    # entries per table before it is cleared


class _Spelling:
    """The fewest tokens spelling the witness text of one expression (see the module docstring).

    Positions ``0 .. own - 1`` are this node's own text; from ``own`` on the text is ``tail``'s.
    ``costs[p]``: the fewest tokens from position ``p`` (``p < own``); ``steps[p]``: the first
    of them, ``(end position, token id)``. ``head``/``head_costs``: the first :data:`HEAD` bytes
    of the whole text and their counts, for a node that puts text before this one."""

    __slots__ = ("length", "own", "costs", "steps", "tail", "head", "head_costs")

    def __init__(self, length: int, own: int, costs: list[int], steps: list[tuple[int, int]],
                 tail: _Spelling | None, head: bytes, head_costs: list[int]):
        self.length = length
        self.own = own
        self.costs = costs
        self.steps = steps
        self.tail = tail
        self.head = head
        self.head_costs = head_costs

    @property
    def cost(self) -> int:
        if self.own:
            return self.costs[0]
        return self.tail.cost if self.tail is not None else 0


_EMPTY_SPELLING = _Spelling(0, 0, [], [], None, b"", [])


class Witness:
    """Witness texts, their spellings and ceilings for one vocabulary and expression factory.
    Memoised per expression (bounded tables); not thread-safe by itself (the budget calls it
    under the grammar's lock)."""

    def __init__(self, vocab: Vocabulary, factory: ExprFactory):
        self.trie = vocab.trie
        self.factory = factory
        self._has_token = vocab.derived("enforcer.witness.has-token", _has_token_list)
        self._byte_tokens = vocab.derived("enforcer.witness.byte-tokens", _single_byte_tokens)
        self._texts = Texts(factory, prefer=self._byte_tokens)
        self._spellings: dict[Expr, _Spelling | None] = {}
        self._ceilings: dict[Expr, int] = {}

    # -- texts ------------------------------------------------------------------------------------

    def text(self, e: Expr) -> bytes | None:
        """A string of ``e`` chosen by structure (:class:`~enforcer.engine.texts.Texts`; ``None``:
        none is built, see the module docstring)."""
        return self._texts.text(e)

    # -- spellings --------------------------------------------------------------------------------

    def tokens(self, e: Expr) -> int:
        """Tokens of an achievable completion of ``e`` from its start: ``D(e) <= tokens(e)``."""
        s = self._spelling(e)
        return INF if s is None else s.cost

    def path(self, e: Expr) -> list[int] | None:
        """The token ids of that completion, in order (``None`` where :meth:`tokens` is INF)."""
        s = self._spelling(e)
        if s is None or s.cost >= INF:
            return None
        out: list[int] = []
        node: _Spelling | None = s
        p = 0
        while node is not None:
            if p >= node.own:
                p -= node.own
                node = node.tail
                continue
            end, token = node.steps[p]
            out.append(token)
            p = end
        return out

    def _spelling(self, e: Expr) -> _Spelling | None:
        found = self._spellings.get(e, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        if e.kind != SEQ:
            text = self.text(e)
            result = None if text is None else self._spell(text, _EMPTY_SPELLING)
            self._keep(e, result)
            return result
        chain: list[Expr] = []  # the sequence's suffixes not yet spelled, outermost first
        x = e
        while x.kind == SEQ and x not in self._spellings:
            chain.append(x)
            x = x.args[1]
        tail = self._spelling(x)  # a suffix already spelled, or the last part
        for node in reversed(chain):
            if tail is not None:
                text = self.text(node.args[0])
                tail = None if text is None or len(text) + tail.length > MAX_TEXT else self._spell(text, tail)
            self._keep(node, tail)
        return tail

    def _keep(self, e: Expr, s: _Spelling | None) -> None:
        if len(self._spellings) > _MEMO:
            self._spellings.clear()
        self._spellings[e] = s

    def _spell(self, text: bytes, tail: _Spelling) -> _Spelling:
        """``text`` spelled in front of ``tail``: the fewest tokens from each position of ``text``,
        right to left, with tokens that may run into ``tail``'s head."""
        n = len(text)
        if n == 0:
            return tail
        data = text + tail.head
        reach = len(data)
        whole = tail.length == len(tail.head)  # the tail's text ends inside its head
        children = self.trie.children_map
        has_token = self._has_token
        costs = [INF] * n
        steps: list[tuple[int, int]] = [(-1, -1)] * n
        tail_costs = tail.head_costs
        for i in range(n - 1, -1, -1):
            node, best, step = 0, INF, (-1, -1)
            for j in range(i, reach):
                node = children(node).get(data[j], -1)
                if node < 0:
                    break
                token = has_token[node]
                if token < 0:
                    continue
                end = j + 1
                if end < n:
                    after = costs[end]
                elif end - n < len(tail_costs):
                    after = tail_costs[end - n]
                elif whole and end - n == tail.length:
                    after = 0
                else:
                    continue
                if after + 1 <= best:  # among equals the longest token
                    best, step = after + 1, (end, token)
            costs[i], steps[i] = min(best, INF), step
        head = data[:HEAD]
        head_costs = (costs + tail_costs)[:len(head)]
        return _Spelling(n + tail.length, n, costs, steps, tail, head, head_costs)

    # -- ceilings ---------------------------------------------------------------------------------

    def ceiling(self, e: Expr) -> int:
        """The most tokens any state reached from ``e`` needs to complete (``INF``: none proved;
        see the module docstring)."""
        found = self._ceilings.get(e)
        if found is not None:
            return found
        if len(self._ceilings) > _MEMO:
            self._ceilings.clear()
        return fold(e, self._ceilings, self._ceiling_parts, self._ceiling_of, INF)

    def _ceiling_parts(self, e: Expr) -> list[Expr]:
        k = e.kind
        if k == SEQ:  # head and rest: a new state is a new head before a rest measured already
            return list(e.args)
        if k == ALT:
            return [x for x in e.args if x.kind != NEVER]
        if k == REPEAT:
            return [e.args[0]] if e.args[2] != 0 else []
        if k == LEX:
            return [e.args[0]]
        if k == REF:
            return [self.factory.body(e)]
        return []

    def _ceiling_of(self, e: Expr) -> int:
        ceilings, k = self._ceilings, e.kind
        if k == SEQ:  # inside the head: finish it, then spell the rest; or inside the rest
            head, rest = e.args
            result = max(ceilings[head] + self.tokens(rest), ceilings[rest])
        elif k == ALT:
            result = max((ceilings[x] for x in e.args if x.kind != NEVER), default=0)
        elif k == REPEAT:
            inner, lo, hi = e.args
            result = 0 if hi == 0 else ceilings[inner] + max(lo - 1, 0) * self.tokens(inner)
        elif k == LEX:
            result = ceilings[e.args[0]]
        elif k == REF:
            result = ceilings[self.factory.body(e)]
        else:
            result = self._leaf_ceiling(e)
        return min(result, INF)

    def _leaf_ceiling(self, e: Expr) -> int:
        k = e.kind
        if k == BYTES:  # a state may stand at any position of the literal
            s = self._spelling(e)
            return INF if s is None else max(s.costs, default=0)
        if k == CLASS:
            return 1 if e.args[0] & self._byte_tokens else INF
        return 0 if k in (EMPTY, NEVER) else INF  # SPECIAL, AND, NOT


_MISSING = object()


def warm(vocab: Vocabulary) -> None:
    """Build the per-vocabulary tables a :class:`Witness` reads (see :func:`budget.prepare`)."""
    vocab.derived("enforcer.witness.has-token", _has_token_list)
    vocab.derived("enforcer.witness.byte-tokens", _single_byte_tokens)


def _has_token_list(vocab: Vocabulary) -> list[int]:
    """Per trie node: a token id that ends there, or -1 (a list: read per byte in loops)."""
    trie = vocab.trie
    starts, ends = trie.token_offsets[:-1], trie.token_offsets[1:]
    out = [-1] * (len(trie.token_offsets) - 1)
    for node in (ends > starts).nonzero()[0].tolist():
        usable = [t for t in trie.tokens_at(node).tolist() if t < vocab.size]
        if usable:
            out[node] = min(usable)
    return out


def _single_byte_tokens(vocab: Vocabulary) -> int:
    """Bit ``b`` set when the byte ``b`` alone is a token of the vocabulary."""
    trie, mask = vocab.trie, 0
    for b in range(256):
        node = trie.find(bytes([b]))
        if node >= 0 and trie.tokens_at(node).size:
            mask |= 1 << b
    return mask
