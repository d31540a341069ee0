"""Which tokens are plain JSON string content, computed once per vocabulary.

Inside a JSON string most of the vocabulary is allowed, so walking the token trie there visits
nearly every node: milliseconds per distinct state, and a ``maxLength`` makes every position a
distinct state. Yet for most tokens the answer does not depend on the state at all: a token made
only of whole string characters (``" the"``, ``"日本"``, ``"\\n"``) is allowed exactly when the
string may still take that many characters. This module finds those tokens and their character
counts (XGrammar calls them context-independent); the engine then only walks the small trie of
the remaining tokens (those with a quote, a partial escape or a partial UTF-8 character).

The language here must be exactly :data:`~enforcer.schema.json_text.ANY_JSON_CHAR`'s:
printable ASCII raw except ``"`` and ``\\``; other characters raw (valid UTF-8, no controls) or
``\\uXXXX`` (surrogate pairs above the BMP); short escapes ``\\" \\\\ \\/ \\b \\f \\n \\r \\t``.
``tests/schema/test_json_tokens.py`` checks it against the generic walk.
"""

from __future__ import annotations

import re

import numpy as np

from ..trie import TokenTrie
from ..vocab import Vocabulary

_PLAIN = re.compile(r'[^"\\\x00-\x1f]*\Z')
_ESCAPE = re.compile(r'\\(?:(["\\/bfnrt])|u([0-9a-fA-F]{4}))')


def string_character_count(piece: bytes) -> int:
    """How many JSON string characters ``piece`` spells, or -1 if it is not whole characters."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return -1  # ends (or starts) inside a UTF-8 character
    if _PLAIN.match(text):
        return len(text) if text else -1
    count, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            m = _ESCAPE.match(text, i)
            if m is None:
                return -1
            if m.group(2) is not None:
                value = int(m.group(2), 16)
                if 0xDC00 <= value <= 0xDFFF:
                    return -1
                if 0xD800 <= value <= 0xDBFF:  # needs its low surrogate in the same token
                    low = _ESCAPE.match(text, m.end())
                    if low is None or low.group(2) is None or not 0xDC00 <= int(low.group(2), 16) <= 0xDFFF:
                        return -1
                    i = low.end()
                    count += 1
                    continue
                if 0x20 <= value <= 0x7E and value not in (0x22, 0x5C):
                    return -1  # printable ASCII is written raw (see json_char)
            i = m.end()
            count += 1
        elif ch == '"' or ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF:
            return -1
        else:
            i += 1
            count += 1
    return count


def _build(vocab: Vocabulary) -> tuple[np.ndarray, TokenTrie, np.ndarray]:
    counts = np.full(vocab.size, -1, dtype=np.int32)
    residual: list[bytes | None] = []
    for token_id in range(vocab.size):
        piece = vocab.token_bytes(token_id)
        if piece:
            counts[token_id] = string_character_count(piece)
        residual.append(piece if counts[token_id] < 0 else None)
    trie = TokenTrie.build(residual)
    token_node = np.where(trie.token_node >= 0, trie.token_node, trie.num_nodes).astype(np.int64)
    return counts, trie, token_node


def string_token_runs(vocab: Vocabulary) -> tuple[np.ndarray, TokenTrie, np.ndarray]:
    """``(counts, residual_trie, residual_token_node)`` for ``vocab``, built once and kept."""
    return vocab.derived("json-string-characters", _build)
