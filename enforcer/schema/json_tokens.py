"""How every token reads inside a JSON string, computed once per vocabulary.

Inside a JSON string most of the vocabulary is allowed, so walking the token trie there visits
nearly every node: milliseconds per distinct state, and a ``maxLength`` makes every position a
distinct state. Yet the answer for a token depends on the state only through a few numbers. Read
from a character boundary inside a string, a token is

* ``END``: ``count`` whole string characters (``" the"``, ``"日本"``, ``"\\n"``), allowed when
  the string may still take that many;
* ``PARTIAL``: ``count`` whole characters, then the start of one more (half a UTF-8 character,
  ``\\``, ``\\u00``), allowed when it may take ``count + 1``;
* ``QUOTE``: ``count`` whole characters, then the closing quote, then whatever follows the
  string (``"``, ``",``, ``abc"}``): allowed when the string may end after ``count`` and the rest
  can follow it;
* ``INVALID``: anything else (a continuation byte first, a control character, ``\\u0041``).

XGrammar calls the first kinds context-independent. The engine builds the masks of string
states from these tables (per length bounds, kept per vocabulary) and walks only below the
closing quotes of ``QUOTE`` tokens, with the grammar's state after the string.

The language here must be exactly :data:`~enforcer.schema.json_text.ANY_JSON_CHAR`'s:
printable ASCII raw except ``"`` and ``\\``; other characters raw (valid UTF-8, no controls) or
``\\uXXXX`` (surrogate pairs above the BMP); short escapes ``\\" \\\\ \\/ \\b \\f \\n \\r \\t``.
``tests/schema/test_json_tokens.py`` checks it against the generic trie walk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..vocab import Vocabulary

END, PARTIAL, QUOTE, INVALID = range(4)
_SHORT_VALUE = {ord('"'): 0x22, ord("\\"): 0x5C, ord("/"): 0x2F, ord("b"): 0x08, ord("f"): 0x0C,
                ord("n"): 0x0A, ord("r"): 0x0D, ord("t"): 0x09}
_HEX = frozenset(b"0123456789abcdefABCDEF")
# Second-byte ranges of well-formed UTF-8 by lead byte (Unicode Table 3-7); None: not a lead.
_SECOND: list[tuple[int, int] | None] = [None] * 256
for _b in range(0xC2, 0xE0):
    _SECOND[_b] = (0x80, 0xBF)
_SECOND[0xE0] = (0xA0, 0xBF)
for _b in range(0xE1, 0xED):
    _SECOND[_b] = (0x80, 0xBF)
_SECOND[0xED] = (0x80, 0x9F)  # no surrogates
for _b in (0xEE, 0xEF):
    _SECOND[_b] = (0x80, 0xBF)
_SECOND[0xF0] = (0x90, 0xBF)
for _b in range(0xF1, 0xF4):
    _SECOND[_b] = (0x80, 0xBF)
_SECOND[0xF4] = (0x80, 0x8F)


def _escape_value_ok(value: int) -> bool:
    """Whether ``\\uXXXX`` with this value spells a character by itself (json_char's policy)."""
    if 0x20 <= value <= 0x7E and value not in (0x22, 0x5C):
        return False  # printable ASCII is written raw
    return not 0xD800 <= value <= 0xDFFF


def _hex_prefix_ok(digits: bytes, low_surrogate: bool) -> bool:
    """Whether some completion of ``\\u`` + ``digits`` (fewer than 4) is a valid escape: a
    character by itself, a high surrogate (completed by a pair), or, after a high surrogate,
    a low one."""
    k = len(digits)
    value = int(digits, 16) if k else 0
    lo, hi = value << (4 * (4 - k)), ((value + 1) << (4 * (4 - k))) - 1
    if low_surrogate:
        return lo <= 0xDFFF and hi >= 0xDC00
    if lo <= 0xDBFF and hi >= 0xD800:
        return True  # a high surrogate is a valid start
    return any(max(a, lo) <= min(b, hi) for a, b in ((0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C), (0x7F, 0xD7FF),
                                                      (0xE000, 0xFFFF)))


_ESCAPABLE: tuple[tuple[int, int], ...] = ((0x00, 0x1F), (0x22, 0x22), (0x2F, 0x2F), (0x5C, 0x5C),
                                           (0x7F, 0xD7FF), (0xE000, 0x10FFFF))  # what a lone backslash starts


def classify(piece: bytes) -> tuple[int, int, int]:
    """``(kind, count, quote_end)`` of a token read from a character boundary inside a JSON
    string: ``quote_end`` is the length of the prefix through the closing quote (``QUOTE``)."""
    kind, count, quote_end, _, _ = read(piece)
    return kind, count, quote_end


def read(piece: bytes) -> tuple[int, int, int, list[int], tuple[tuple[int, int], ...]]:
    """:func:`classify`, plus the code points of the whole characters read and, for ``PARTIAL``,
    the code point ranges the unfinished character can still become."""
    i, n, count = 0, len(piece), 0
    chars: list[int] = []
    while i < n:
        b = piece[i]
        if b == 0x22:
            return QUOTE, count, i + 1, chars, ()
        if b == 0x5C:
            step, value = _escape(piece, i)
            if step == 0:
                return INVALID, count, 0, chars, ()
            if step < 0:
                return PARTIAL, count, 0, chars, _escape_partial(piece[i:])
            i += step
            count += 1
            chars.append(value)
            continue
        if b < 0x20:
            return INVALID, count, 0, chars, ()
        if b < 0x80:
            i += 1
            count += 1
            chars.append(b)
            continue
        second = _SECOND[b]
        if second is None:
            return INVALID, count, 0, chars, ()
        length = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
        for j in range(1, length):
            if i + j >= n:
                return PARTIAL, count, 0, chars, (_utf8_range(piece[i:], length),)
            c = piece[i + j]
            lo, hi = second if j == 1 else (0x80, 0xBF)
            if not lo <= c <= hi:
                return INVALID, count, 0, chars, ()
        chars.append(ord(piece[i:i + length].decode("utf-8")))
        i += length
        count += 1
    return END, count, 0, chars, ()


def _utf8_range(prefix: bytes, length: int) -> tuple[int, int]:
    """The code points whose UTF-8 form starts with the valid ``prefix`` of a ``length``-byte
    character."""
    lead = prefix[0]
    second = _SECOND[lead]
    assert second is not None
    low = bytearray(prefix)
    high = bytearray(prefix)
    for j in range(len(prefix), length):
        low.append(second[0] if j == 1 else 0x80)
        high.append(second[1] if j == 1 else 0xBF)
    return ord(bytes(low).decode("utf-8")), ord(bytes(high).decode("utf-8"))


def _escape_partial(tail: bytes) -> tuple[tuple[int, int], ...]:
    """The code points an unfinished escape (``\\``, ``\\u00``, ``\\ud83d\\u``...) can become."""
    if len(tail) == 1:
        return _ESCAPABLE
    digits = tail[2:6]
    if len(digits) < 4:
        k = len(digits)
        value = int(digits, 16) if k else 0
        lo, hi = value << (4 * (4 - k)), ((value + 1) << (4 * (4 - k))) - 1
        out = [(max(a, lo), min(b, hi)) for a, b in ((0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C), (0x7F, 0xD7FF),
                                                     (0xE000, 0xFFFF)) if max(a, lo) <= min(b, hi)]
        h_lo, h_hi = max(lo, 0xD800), min(hi, 0xDBFF)
        if h_lo <= h_hi:  # a high surrogate: the astral characters of those blocks
            out.append((0x10000 + ((h_lo - 0xD800) << 10), 0x10000 + ((h_hi - 0xD800) << 10) + 0x3FF))
        return tuple(out)
    high = int(digits, 16)  # a whole high surrogate, then part of "\uDCxx"
    base = 0x10000 + ((high - 0xD800) << 10)
    low_digits = tail[8:12]
    k = len(low_digits)
    value = int(low_digits, 16) if k else 0
    lo, hi = value << (4 * (4 - k)), ((value + 1) << (4 * (4 - k))) - 1
    lo, hi = max(lo, 0xDC00), min(hi, 0xDFFF)
    return ((base + lo - 0xDC00, base + hi - 0xDC00),)


def _escape(piece: bytes, i: int) -> tuple[int, int]:
    """An escape at ``piece[i]`` (a backslash): ``(length, code point)`` if whole and valid,
    ``(-1, 0)`` if the token ends inside a valid prefix of one, ``(0, 0)`` if invalid."""
    n = len(piece)
    if i + 1 >= n:
        return -1, 0
    c = piece[i + 1]
    if c != 0x75:  # 'u'
        return (2, _SHORT_VALUE[c]) if c in _SHORT_VALUE else (0, 0)
    digits = piece[i + 2:i + 6]
    if any(d not in _HEX for d in digits):
        return 0, 0
    if len(digits) < 4:
        return (-1, 0) if _hex_prefix_ok(digits, False) else (0, 0)
    value = int(digits, 16)
    if 0xDC00 <= value <= 0xDFFF:
        return 0, 0
    if not 0xD800 <= value <= 0xDBFF:
        return (6, value) if _escape_value_ok(value) else (0, 0)
    rest = piece[i + 6:i + 12]  # a high surrogate needs "\\u" + a low one
    expect = b"\\u"
    for j, d in enumerate(rest[:2]):
        if d != expect[j]:
            return 0, 0
    if len(rest) < 2:
        return -1, 0
    low = rest[2:6]
    if any(d not in _HEX for d in low):
        return 0, 0
    if len(low) < 4:
        return (-1, 0) if _hex_prefix_ok(low, True) else (0, 0)
    low_value = int(low, 16)
    if not 0xDC00 <= low_value <= 0xDFFF:
        return 0, 0
    return 12, 0x10000 + ((value - 0xD800) << 10) + (low_value - 0xDC00)


@dataclass(frozen=True)
class StringTokens:
    """Per token id: ``kind`` and ``count`` (see the module docstring); ``quote_node`` the trie
    node of the token's prefix through the closing quote (``QUOTE`` tokens, else -1);
    ``exit_nodes`` those nodes that have tokens below them, where a string can end inside a
    token that then continues. ``char_values[char_index[char_start[t]:char_start[t + 1]]]``
    are the code points of t's whole characters (before its event): a vocabulary spells
    hundreds of thousands of characters with a few thousand code points, so a class is
    decided once per code point and gathered; ``partial_lo/hi[partial_start[t]:...]`` the
    ranges t's unfinished last character can become (``PARTIAL``). With these a character
    class decides its tokens with a few numpy operations (:meth:`in_class`)."""

    kind: np.ndarray
    count: np.ndarray
    quote_node: np.ndarray
    exit_nodes: np.ndarray
    char_values: np.ndarray
    char_index: np.ndarray
    char_start: np.ndarray
    partial_lo: np.ndarray
    partial_hi: np.ndarray
    partial_start: np.ndarray

    def in_class(self, ranges: tuple[tuple[int, int], ...]) -> np.ndarray:
        """Per token: every whole character is in ``ranges`` and, for ``PARTIAL`` tokens, the
        unfinished one can still become one that is."""
        bounds = np.asarray([b for lo, hi in ranges for b in (lo, hi + 1)], dtype=np.int64)
        member = ((np.searchsorted(bounds, self.char_values, side="right") % 2) == 1)[self.char_index]
        outside = np.zeros(member.size + 1, dtype=np.int32)
        np.cumsum(~member, out=outside[1:])
        ok = outside[self.char_start[1:]] == outside[self.char_start[:-1]]
        if self.partial_lo.size:
            # a partial range meets the class when some class range overlaps it
            first = np.searchsorted(bounds, self.partial_lo, side="right")
            last = np.searchsorted(bounds, self.partial_hi, side="right")
            meets = (first % 2 == 1) | (last > first)
            hits = np.concatenate([[0], np.cumsum(meets)])
            partial_ok = hits[self.partial_start[1:]] > hits[self.partial_start[:-1]]
            ok &= (self.kind != PARTIAL) | partial_ok
        return ok


def _build(vocab: Vocabulary) -> StringTokens:
    size = vocab.size
    kind = np.full(size, INVALID, dtype=np.int8)
    count = np.zeros(size, dtype=np.int32)
    quote_end = np.zeros(size, dtype=np.int32)
    chars: list[int] = []
    char_start = np.zeros(size + 1, dtype=np.int64)
    partial: list[tuple[int, int]] = []
    partial_start = np.zeros(size + 1, dtype=np.int64)
    for token_id in range(size):
        piece = vocab.token_bytes(token_id)
        if piece:
            k, c, q, cps, ranges = read(piece)
            kind[token_id], count[token_id], quote_end[token_id] = k, c, q
            if k != INVALID:
                chars.extend(cps)
                partial.extend(ranges)
        char_start[token_id + 1] = len(chars)
        partial_start[token_id + 1] = len(partial)
    trie = vocab.trie
    quote_node = np.full(size, -1, dtype=np.int64)
    quoted = np.flatnonzero(kind == QUOTE)
    node = trie.token_node[quoted].astype(np.int64)
    # climb from each token's node up to the depth just past its closing quote
    depth = trie.node_depth[node]
    target = quote_end[quoted]
    while True:
        above = depth > target
        if not above.any():
            break
        node[above] = trie.node_parent[node[above]]
        depth = trie.node_depth[node]
    quote_node[quoted] = node
    exits = np.unique(node)
    exits = exits[trie.subtree_end[exits] > exits + 1]
    plo = np.asarray([lo for lo, _ in partial], dtype=np.int64)
    phi = np.asarray([hi for _, hi in partial], dtype=np.int64)
    char_values, char_index = np.unique(np.asarray(chars, dtype=np.int64), return_inverse=True)
    return StringTokens(kind, count, quote_node, exits.astype(np.int64), char_values,
                        char_index.astype(np.int32), char_start, plo, phi, partial_start)


_TABLES_VERSION = 2  # bump when the reading of tokens changes


def _load_or_build(vocab: Vocabulary) -> StringTokens:
    """From the on-disk cache beside the vocabulary's (a second or two saved per process for a
    128k vocabulary), else built and stored."""
    from .. import cache

    key = f"{vocab.fingerprint}-{_TABLES_VERSION}"
    entry = cache.load("json-strings", key)
    if entry is not None:
        arrays, _ = entry
        try:
            return StringTokens(**arrays)
        except TypeError:
            pass  # a field set of another release: rebuild
    tables = _build(vocab)
    cache.store("json-strings", key, {name: getattr(tables, name) for name in tables.__dataclass_fields__})
    return tables


def string_tokens(vocab: Vocabulary) -> StringTokens:
    """The tables of ``vocab``, built once and kept with it (and on disk)."""
    return vocab.derived("json-string-tokens", _load_or_build)


def string_character_count(piece: bytes) -> int:
    """How many JSON string characters ``piece`` spells, or -1 if it is not whole characters."""
    kind, count, _ = classify(piece)
    return count if kind == END and count else -1
