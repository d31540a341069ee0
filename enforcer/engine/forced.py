"""Fast-forward: the tokens the grammar forces next, so a generation loop can append them in one
forward pass instead of sampling them one pass each.

Much of a JSON answer is forced text: keys in schema order, ``":"``, ``","``, closing brackets.
Where only one byte can come next (and the output is not complete, and no special token may
come), that byte is forced; the forced bytes run until the first choice.

**Which tokens.** The forced bytes are tokenized canonically (the tokenizer's own ``encode``
when it spells them back exactly, else the fewest tokens with the longest first), then cut the
way llguidance cuts its "ff tokens": a model tokenizes forced text and what follows it
together, so a token that spells the end of the forced text may well run on into the free text
after it (``": "`` + ``Jo`` as ``":"`` + ``"Jo``). If some token starts with a suffix of the
forced bytes (within the last four tokens) and continues into something the grammar allows
after them, the tokens covering that suffix are left to the model: forcing them would forbid
tokenizations the model may prefer. What remains is appended as is: it is the only text the
grammar allows, and the tokens are checked against the matcher (budget included) before they
are returned, so forced tokens never change the set of texts the output can be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from .automaton import DEAD

if TYPE_CHECKING:
    from .grammar import Grammar
    from .matcher import Matcher

MAX_FORCED_BYTES = 4096
_LOOKBACK_TOKENS = 4


def forced_bytes(grammar: Grammar, sid: int, limit: int = MAX_FORCED_BYTES) -> tuple[bytes, int]:
    """The bytes every continuation of ``sid`` starts with, and the state after them: stops
    where the output is complete (EOS may come), where a special token may come, and before
    the first byte with a choice."""
    out = bytearray()
    while len(out) < limit and not grammar.is_accepting(sid):
        if grammar._specials and grammar.special_transitions(sid):
            break
        moves = grammar.byte_transitions(sid, stop_after=1)
        if len(moves) != 1:
            break
        lo, hi, nxt = moves[0]
        if hi - lo != 1:
            break
        out.append(lo)
        sid = nxt
    return bytes(out), sid


def fewest_tokens(grammar: Grammar, data: bytes) -> list[int] | None:
    """The fewest tokens spelling ``data`` (the longest first among equals), ``None`` if no
    tokenization exists."""
    trie = grammar.vocab.trie
    n = len(data)
    inf = n + 1
    best = [inf] * (n + 1)
    choice = [(-1, -1)] * (n + 1)  # (end, token) of the first token from i
    best[n] = 0
    for i in range(n - 1, -1, -1):
        node = 0
        for j in range(i, n):
            node = trie.child(node, data[j])
            if node < 0:
                break
            ids = trie.tokens_at(node)
            if ids.size and best[j + 1] + 1 <= best[i]:
                best[i] = best[j + 1] + 1
                choice[i] = (j + 1, int(ids[0]))
    if best[0] >= inf:
        return None
    out, i = [], 0
    while i < n:
        i, token = choice[i]
        out.append(token)
    return out


def _canonical(grammar: Grammar, data: bytes, encode: Callable[[bytes], Sequence[int]] | None) -> list[int] | None:
    vocab = grammar.vocab
    if encode is not None:
        try:
            tokens = [int(t) for t in encode(data)]
        except Exception:  # noqa: BLE001 - any tokenizer failure: use our own tokenization
            tokens = []
        pieces = [vocab.token_bytes(t) if 0 <= t < vocab.size else None for t in tokens]
        if tokens and all(p is not None for p in pieces) and b"".join(pieces) == data:  # type: ignore[arg-type]
            return tokens
    return fewest_tokens(grammar, data)


def _chop(grammar: Grammar, tokens: list[int], end_state: int) -> list[int]:
    """Drop the last tokens where a longer token could start inside them and run on past the
    forced text into what the grammar allows next (llguidance's rule)."""
    vocab, trie = grammar.vocab, grammar.vocab.trie
    tail = tokens[-_LOOKBACK_TOKENS:]
    suffix = b"".join(vocab.token_bytes(t) or b"" for t in tail)
    suffix = suffix[-max(trie.max_depth, 1):]
    for i in range(len(suffix)):
        node = trie.find(suffix[i:])
        if node < 0 or trie.subtree_end[node] <= node + 1:
            continue
        if grammar.tokens_below(node, end_state).size:
            cut, covered = 0, 0
            while covered < len(suffix) - i:
                cut += 1
                covered += len(vocab.token_bytes(tokens[-cut]) or b"")
            return tokens[:-cut]
    return tokens


def forced_tokens(matcher: Matcher, encode: Callable[[bytes], Sequence[int]] | None = None) -> list[int]:
    """The tokens the grammar forces next from ``matcher``'s position (see the module
    docstring); ``[]`` when the next token is the model's choice. ``matcher`` is not moved."""
    if matcher.is_terminated():
        return []
    grammar = matcher.grammar
    data, end_state = forced_bytes(grammar, matcher.state)
    if not data or end_state == DEAD:
        return []
    tokens = _canonical(grammar, data, encode)
    if not tokens:
        return []
    tokens = _chop(grammar, tokens, end_state)
    probe = matcher.fork()
    out: list[int] = []
    for token in tokens:  # the budget may refuse a long tokenization; so may anything else
        if not probe.is_token_allowed(token):
            break
        probe.advance(token)
        out.append(token)
    return out
