"""Deterministic text corpus for proving that tokenizer token bytes are exact.

The property under test: for every string ``s`` in the corpus, concatenating
the byte strings of the tokens of ``tokenizer.encode(s)`` must give exactly
``s.encode("utf-8")``.  The enforcer masks tokens by their *bytes*, so a
single wrong or missing byte in the token-to-bytes table silently corrupts
constrained output.  The corpus is built to hit the places where such
tables typically go wrong:

``ascii``
    Prose, identifiers, code, digits and punctuation with leading and
    trailing spaces.  Exercises the common merges, the "space + word"
    prefix tokens (``Ġword`` / ``▁word``), digit splitting and
    contractions that pre-tokenizer regexes special-case (``'s``, ``'ll``).
``json``
    Serialized JSON (compact, indent 2/4/tab) with nested values, negative
    and exponent numbers and escaped strings (``\\"``, ``\\\\``, ``\\n``,
    ``\\u00e9``, ``\\ud83d\\ude00`` written as escapes).  This is what the
    enforcer emits most, and quote/brace/escape tokens are merged in many
    tokenizer-specific ways (``":"``, ``"},``, ``\\n\\t\\t``...).
``whitespace``
    Long runs of spaces (up to 200), tabs, newlines, ``\\r\\n``, mixed runs,
    Unicode spaces and whitespace between JSON tokens.  Vocabularies hold
    many dedicated whitespace tokens, pre-tokenizers split runs with
    lookaheads (``\\s+(?!\\S)``), and SentencePiece models rewrite spaces to
    ``▁``; all are classic sources of off-by-one-space bugs.
``cjk``
    Chinese, Japanese kana and Korean hangul mixed with ASCII and
    full-width punctuation (``，。``).  Three-byte UTF-8 characters are often
    split across tokens, so single tokens hold partial UTF-8 sequences;
    SentencePiece models fall back to ``<0xNN>`` byte tokens for rare ones.
``emoji``
    Single emoji, ZWJ sequences, regional-indicator flags, skin-tone
    modifiers, keycaps, tag sequences and variation selectors.  Four-byte
    UTF-8, long grapheme clusters and byte-fallback tokens.
``combining``
    Decomposed accents (``e`` + U+0301), stacked marks, NFD forms (including
    conjoining hangul jamo), Devanagari, Thai, Arabic and Hebrew.  Catches
    tokenizers that silently normalise (NFC/NFKC) and tables that assume a
    token starts on a character boundary.
``odd``
    Literal backslashes and broken escapes (``\\x``, ``\\u12``), text that
    looks like byte-fallback pieces (``<0x41>``), control characters,
    ``▁`` (U+2581) itself, zero-width characters, U+FEFF, bidi controls,
    private use and rare astral characters (U+1D400, U+20000).  These hit
    byte-fallback decoding, the ``▁`` <-> space mapping, BOM stripping and
    "unknown" handling.
``mixed``
    Random concatenations of fragments of the categories above, so that
    category boundaries fall inside merges.

Text that looks like special-token markup (``<|endoftext|>``, ``<s>``,
``[INST]`` ...) is deliberately *excluded* from :func:`roundtrip_corpus`:
many tokenizers legitimately encode it as a single special token whose
"bytes" are not the text.  Such strings are exported separately as
:data:`SPECIAL_LOOKING` for tests that check special-token handling.

Known inherent exceptions (not bugs in the corpus): SentencePiece-style
tokenizers that map spaces to ``▁`` cannot distinguish a literal U+2581
from a space, and tokenizers with a normaliser (NFC/NFKC, control-character
cleaning, BOM stripping) change the text before encoding.  Tests for such
tokenizers have to compare against the normalised text or filter with
:func:`labelled_corpus`.

Everything is generated from a seeded :class:`random.Random`; no network, no
files, stdlib only.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from typing import Callable, Union

__all__ = [
    "CATEGORIES",
    "MAX_LEN",
    "SPECIAL_LOOKING",
    "labelled_corpus",
    "looks_special",
    "roundtrip_corpus",
]

#: Upper bound on the length (in code points) of a corpus string.
MAX_LEN = 400

#: Category names, in schedule order.  ``mixed`` combines the others.
CATEGORIES: tuple[str, ...] = (
    "ascii",
    "json",
    "whitespace",
    "cjk",
    "emoji",
    "combining",
    "odd",
    "mixed",
)

# Share of the corpus per category, in percent (sums to 100).  Every named
# category gets 12% so that the >= 8% guarantee holds for any n >= 13.
_SHARES: dict[str, int] = {
    "ascii": 12,
    "json": 12,
    "whitespace": 12,
    "cjk": 12,
    "emoji": 12,
    "combining": 12,
    "odd": 12,
    "mixed": 16,
}

# ---------------------------------------------------------------------------
# Special-token look-alikes
# ---------------------------------------------------------------------------

#: Strings that look like special tokens of common model families.  They are
#: never part of :func:`roundtrip_corpus`; tokenizers may (correctly) encode
#: them as special tokens.
SPECIAL_LOOKING: list[str] = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>system<|end_header_id|>\n\n",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|python_tag|>",
    "<|reserved_special_token_0|>",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
    "<|extra_0|>",
    "<|end|>",
    "<|user|>",
    "<|assistant|>",
    "<|system|>",
    "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
    "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>",
    "<s>",
    "</s>",
    "<s>[INST] Hello [/INST]",
    "[INST]",
    "[/INST]",
    "<<SYS>>\nYou are helpful.\n<</SYS>>",
    "[TOOL_CALLS]",
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "[PAD]",
    "[UNK]",
    "<unk>",
    "<pad>",
    "<mask>",
    "<bos>",
    "<eos>",
    "<start_of_turn>user\nhi<end_of_turn>",
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<extra_id_0>",
    "<fim_prefix>",
    "text before<|endoftext|>text after",
    'prefix </s> {"a": 1}',
]

_SPECIAL_RE = re.compile(
    r"<\||\|>"  # <|...|> (GPT, Llama 3, Qwen, Phi, ...)
    r"|<｜|｜>"  # DeepSeek's full-width bars
    r"|</?[A-Za-z_][A-Za-z0-9_.:\-]*>"  # <s>, </s>, <unk>, <think>, <tool_call>
    r"|\[/?[A-Za-z_][A-Za-z0-9_]*\]"  # [INST], [/INST], [TOOL_CALLS], [CLS]
)


def looks_special(s: str) -> bool:
    """True if ``s`` contains text that a tokenizer might treat as a special token."""
    return _SPECIAL_RE.search(s) is not None


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

Gen = Callable[[random.Random], str]


def _rand_char(rng: random.Random, lo: int, hi: int) -> str:
    return chr(rng.randint(lo, hi))


def _rand_from_ranges(rng: random.Random, ranges: list[tuple[int, int]]) -> str:
    lo, hi = rng.choice(ranges)
    return chr(rng.randint(lo, hi))


def _clip(s: str, limit: int = MAX_LEN) -> str:
    return s[:limit]


def _pad(rng: random.Random, s: str, p: float = 0.3) -> str:
    """Randomly add leading / trailing spaces."""
    if rng.random() < p:
        s = " " * rng.choice((1, 1, 1, 2, 3, 4)) + s
    if rng.random() < p:
        s = s + " " * rng.choice((1, 1, 1, 2, 3, 4))
    return s


# ---------------------------------------------------------------------------
# 1. ASCII prose and identifiers
# ---------------------------------------------------------------------------

_WORDS = (
    "the quick brown fox jumps over a lazy dog and then token byte merge grammar "
    "schema value parser state cache vocab model output input stream buffer offset "
    "length index prefix suffix regex match error return null true false async "
    "await yield class import from lambda string number object array field key "
    "request response server client user name email address city country price "
    "total count items list map set queue stack tree graph node edge weight layer "
    "is was are were be been have has had do does did will would can could should "
    "of to in for on with at by about into through after before between under "
    "I you he she it we they this that these those what which who when where why how"
).split()
_CONTRACTIONS = ("don't", "it's", "we'll", "I'm", "they've", "can't", "She's", "you'd", "WON'T", "isn't")
_PUNCT_MID = (",", ",", ";", ":", " -", " --", "/", " &", " +")
_PUNCT_END = (".", ".", ".", "!", "?", "...", ":", "?!", ".)", '."')
_ASCII_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))


def _word(rng: random.Random) -> str:
    return rng.choice(_WORDS)


def _ascii_number(rng: random.Random) -> str:
    k = rng.randrange(8)
    if k == 0:
        return str(rng.randint(0, 9))
    if k == 1:
        return str(rng.randint(10, 10**rng.randint(2, 12)))
    if k == 2:
        return f"-{rng.randint(1, 9999)}"
    if k == 3:
        return f"{rng.randint(0, 999)}.{rng.randint(0, 99999)}"
    if k == 4:
        return f"{rng.randint(1, 999)}{rng.choice((',', '_', '.'))}{rng.randint(0, 999):03d}"
    if k == 5:
        return f"{rng.randint(1, 31)}{rng.choice(('st', 'nd', 'rd', 'th'))}"
    if k == 6:
        return f"0x{rng.randint(0, 2**32):X}"
    return f"{rng.randint(1, 99)}%"


def _identifier(rng: random.Random) -> str:
    parts = [_word(rng).lower() for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.3:
        parts.append(str(rng.randint(0, 999)))
    style = rng.randrange(7)
    if style == 0:
        ident = "_".join(parts)
    elif style == 1:
        ident = parts[0] + "".join(p.capitalize() for p in parts[1:])
    elif style == 2:
        ident = "".join(p.capitalize() for p in parts)
    elif style == 3:
        ident = "_".join(parts).upper()
    elif style == 4:
        ident = "-".join(parts)
    elif style == 5:
        ident = "__" + "_".join(parts) + "__"
    else:
        ident = "_" + "".join(parts)
    return ident


def _sentence(rng: random.Random) -> str:
    words: list[str] = []
    for i in range(rng.randint(2, 14)):
        r = rng.random()
        if r < 0.08:
            w = rng.choice(_CONTRACTIONS)
        elif r < 0.16:
            w = _ascii_number(rng)
        elif r < 0.22:
            w = _identifier(rng)
        elif r < 0.26:
            w = rng.choice(('"', "'", "(")) + _word(rng) + rng.choice(('"', "'", ")"))
        else:
            w = _word(rng)
        if rng.random() < 0.1:
            w = w.upper()
        if words and rng.random() < 0.12:
            words[-1] += rng.choice(_PUNCT_MID)
        words.append(w)
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + rng.choice(_PUNCT_END)


_CODE_TEMPLATES = (
    "def {a}({b}, {c}=None):\n    return {b} + {n}",
    "if ({a} >= {n} && {b} != 0) {{ {c}++; }}",
    "const {a} = {b}.map(({c}) => {c} * {n});",
    "for (int {a} = 0; {a} < {n}; ++{a}) {b}({a});",
    "{a} = {{'{b}': {n}, '{c}': {b}}}",
    "SELECT {a}, COUNT(*) FROM {b} WHERE {c} = '{n}' GROUP BY {a};",
    "{a}.{b}({c}, {n})?.{b}",
    "let mut {a}: Vec<u8> = Vec::with_capacity({n});",
    "$ {a} --{b}={n} -x ./{c}.txt",
    "https://example.com/{a}/{b}?q={c}&n={n}#top",
    "{a}@{b}.org",
    "assert {a} == {n}, f\"{b}={{{c}!r}}\"",
)


def _gen_ascii(rng: random.Random) -> str:
    k = rng.randrange(6)
    if k == 0:
        s = " ".join(_sentence(rng) for _ in range(rng.randint(1, 4)))
    elif k == 1:
        seps = ("", " ", ".", "_", "::", "->", ", ", "(", ")", "=", " = ", "\n")
        s = _identifier(rng)
        for _ in range(rng.randint(0, 8)):
            s += rng.choice(seps) + _identifier(rng)
    elif k == 2:
        tpl = rng.choice(_CODE_TEMPLATES)
        s = tpl.format(a=_identifier(rng), b=_identifier(rng), c=_identifier(rng), n=_ascii_number(rng))
    elif k == 3:
        s = "".join(rng.choice(_ASCII_PRINTABLE) for _ in range(rng.randint(1, 60)))
    elif k == 4:
        r = rng.randrange(4)
        if r == 0:
            s = rng.choice(_ASCII_PRINTABLE)
        elif r == 1:
            s = _word(rng)
        elif r == 2:
            s = _ascii_number(rng)
        else:
            s = _identifier(rng)
    else:
        s = _sentence(rng) + " " + _identifier(rng) + "(" + _ascii_number(rng) + ")"
    return _pad(rng, s)


# ---------------------------------------------------------------------------
# 2. JSON text
# ---------------------------------------------------------------------------


class _Num:
    """A JSON number kept as literal text (so '1E+10', '-0.0' survive)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Obj(list):
    """A JSON object as an ordered list of ``(key, value)`` pairs."""


JsonValue = Union[None, bool, str, _Num, _Obj, list]

_JSON_STR_PIECES = (
    "hello", "world", "value", "naïve café", "é", "ü", "ß", "Ω", "€", "日本語", "한국어", "😀", "👍🏽",
    '"', '\\', "\n", "\t", "\r", "/", "\b", "\f", "\x00", "\x1f", "\u2028", "say \"hi\"",
    "C:\\path\\to", "line1\nline2", " ", "  ", "", "true", "null", "123", "ümlaut", "\u00e9t\u00e9",
)


def _json_number(rng: random.Random) -> _Num:
    if rng.random() < 0.15:
        return _Num(repr(rng.uniform(-1e6, 1e6) * 10.0 ** rng.randint(-30, 30)))
    sign = "-" if rng.random() < 0.35 else ""
    if rng.random() < 0.3:
        intpart = "0"
    else:
        intpart = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(0, 18)))
    frac = ""
    if rng.random() < 0.5:
        frac = "." + "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(1, 10)))
    exp = ""
    if rng.random() < 0.3:
        exp = rng.choice("eE") + rng.choice(("", "+", "-")) + str(rng.randint(0, 400))
    return _Num(sign + intpart + frac + exp)


def _json_raw_string(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return _identifier(rng)
    if r < 0.45:
        return _sentence(rng)
    return "".join(rng.choice(_JSON_STR_PIECES) for _ in range(rng.randint(0, 6)))


def _json_string(rng: random.Random, s: str) -> str:
    """Serialize ``s``; escapes non-ASCII as \\uXXXX (surrogate pairs) half the time."""
    out = json.dumps(s, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.2:
        # Upper-case hex digits in \uXXXX escapes are valid JSON too.
        out = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), out)
    if rng.random() < 0.1:
        out = out.replace("/", "\\/")
    return out


def _json_value(rng: random.Random, depth: int) -> JsonValue:
    if depth > 0 and rng.random() < 0.45:
        if rng.random() < 0.55:
            return _Obj(
                (_json_raw_string(rng) if rng.random() < 0.3 else _identifier(rng), _json_value(rng, depth - 1))
                for _ in range(rng.randint(0, 5))
            )
        return [_json_value(rng, depth - 1) for _ in range(rng.randint(0, 5))]
    r = rng.random()
    if r < 0.4:
        return _json_raw_string(rng)
    if r < 0.8:
        return _json_number(rng)
    return rng.choice((None, True, False))


def _emit_json(
    rng: random.Random,
    v: JsonValue,
    indent: str | None,
    ws: Callable[[], str],
    item_sep: str = ", ",
    key_sep: str = ": ",
    level: int = 0,
) -> str:
    """Serialize ``v``; ``indent=None`` puts ``ws()`` around every structural token."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, _Num):
        return v.text
    if isinstance(v, str):
        return _json_string(rng, v)
    is_obj = isinstance(v, _Obj)
    open_, close = ("{", "}") if is_obj else ("[", "]")
    if not v:
        return open_ + ws() + close
    items: list[str] = []
    for x in v:
        if is_obj:
            key, val = x
            items.append(_json_string(rng, key) + ws() + key_sep + ws()
                         + _emit_json(rng, val, indent, ws, item_sep, key_sep, level + 1))
        else:
            items.append(_emit_json(rng, x, indent, ws, item_sep, key_sep, level + 1))
    if indent is None:
        body = items[0]
        for item in items[1:]:
            body += ws() + item_sep + ws() + item
        return open_ + ws() + body + ws() + close
    inner = "\n" + indent * (level + 1)
    return open_ + inner + ("," + inner).join(items) + "\n" + indent * level + close


def _json_text(rng: random.Random, ws: Callable[[], str] | None = None) -> str:
    for attempt in range(6):
        depth = max(0, rng.randint(1, 4) - attempt)
        v = _json_value(rng, depth)
        if attempt < 3 and rng.random() < 0.85 and not isinstance(v, list):
            v = _Obj([(_identifier(rng), v)] + [(_identifier(rng), _json_value(rng, depth)) for _ in range(rng.randint(0, 3))])
        style = rng.randrange(5)
        nows: Callable[[], str] = lambda: ""
        if ws is not None:
            s = _emit_json(rng, v, None, ws, ",", ":")
        elif style == 0:
            s = _emit_json(rng, v, None, nows, ",", ":")  # compact
        elif style == 1:
            s = _emit_json(rng, v, None, nows, ", ", ": ")  # json.dumps default
        else:
            indent = ("  ", "    ", "\t")[style - 2]
            s = _emit_json(rng, v, indent, nows, ",", ": ")
        if len(s) <= MAX_LEN:
            return s
    return s  # caller clips; a truncated document is still realistic output


def _gen_json(rng: random.Random) -> str:
    s = _json_text(rng)
    if rng.random() < 0.1:
        s = s + "\n"
    return s


# ---------------------------------------------------------------------------
# 3. Whitespace runs
# ---------------------------------------------------------------------------

_RUN_LENGTHS = (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 63, 64, 65, 79, 80, 100, 127, 128, 129, 150, 199, 200)
_UNICODE_SPACES = ("\u00a0", "\u2002", "\u2003", "\u2009", "\u200a", "\u202f", "\u205f", "\u3000", "\u2028", "\u2029", "\u0085", "\u1680")


def _ws_run(rng: random.Random, max_len: int = 200) -> str:
    k = rng.randrange(6)
    if k == 0:
        return " " * min(max_len, rng.choice(_RUN_LENGTHS))
    if k == 1:
        return "\t" * rng.randint(1, 12)
    if k == 2:
        return rng.choice(("\n", "\r\n")) * rng.randint(1, 6)
    if k == 3:
        return " " * rng.randint(0, 8) + "\n" + " " * rng.randint(0, 16)
    alphabet = (" ", " ", " ", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, min(max_len, 40))))


def _gen_whitespace(rng: random.Random) -> str:
    k = rng.randrange(7)
    if k == 0:  # pure space run
        return " " * rng.choice(_RUN_LENGTHS + tuple(range(1, 201, 13)))
    if k == 1:  # whitespace-only mixed run
        return _ws_run(rng)
    if k == 2:  # words separated by whitespace runs
        s = _ws_run(rng) if rng.random() < 0.5 else ""
        for _ in range(rng.randint(1, 8)):
            s += (_word(rng) if rng.random() < 0.8 else _ascii_number(rng)) + _ws_run(rng, 60)
        return s
    if k == 3:  # JSON with whitespace between tokens
        return _json_text(rng, ws=lambda: _ws_run(rng, 12) if rng.random() < 0.5 else "")
    if k == 4:  # indented code lines, CRLF or LF endings, trailing spaces
        eol = rng.choice(("\n", "\r\n"))
        unit = rng.choice(("  ", "    ", "\t", "        "))
        lines = []
        for _ in range(rng.randint(2, 8)):
            lvl = rng.randint(0, 4)
            body = _identifier(rng) if rng.random() < 0.8 else ""
            trail = " " * rng.randint(0, 3) if rng.random() < 0.3 else ""
            lines.append(unit * lvl + body + trail)
        return eol.join(lines) + (eol if rng.random() < 0.5 else "")
    if k == 5:  # unicode spaces mixed with ASCII ones
        return "".join(rng.choice(_UNICODE_SPACES + (" ", "\t", "\n", "a", "1"))
                       for _ in range(rng.randint(1, 30)))
    # leading/trailing heavy whitespace around a short text
    return _ws_run(rng) + rng.choice((_word(rng), _sentence(rng), "{}", "[]", "\"\"")) + _ws_run(rng)


# ---------------------------------------------------------------------------
# 4. CJK
# ---------------------------------------------------------------------------

_HANZI = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好"
    "都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法"
    "此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再"
    "平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车"
)
_HIRAGANA = (0x3041, 0x3096)
_KATAKANA = (0x30A1, 0x30FA)
_HANGUL = (0xAC00, 0xD7A3)
_CJK_PUNCT = "，。、！？：；「」『』（）《》【】…—～·〜・"
_CJK_PHRASES = (
    "你好，世界。", "我爱北京天安门。", "这是一个测试。", "请输入您的电子邮件地址：",
    "こんにちは、世界！", "東京タワーはどこですか？", "ありがとうございます。", "ラーメンを食べたい。",
    "안녕하세요, 세계!", "한국어를 공부합니다.", "감사합니다.", "대한민국 서울특별시",
    "中文English混合mixed文本", "使用Python 3.11版本，速度提升了25%。", "価格は¥1,980です。",
    "第１２３号", "ＡＢＣ　ｄｅｆ　０１２",
)


def _cjk_run(rng: random.Random) -> str:
    k = rng.randrange(6)
    n = rng.randint(1, 20)
    if k == 0:
        return "".join(rng.choice(_HANZI) for _ in range(n))
    if k == 1:
        return "".join(_rand_char(rng, *_HIRAGANA) for _ in range(n))
    if k == 2:
        return "".join(_rand_char(rng, *_KATAKANA) for _ in range(n)) + ("ー" if rng.random() < 0.3 else "")
    if k == 3:
        return "".join(_rand_char(rng, *_HANGUL) for _ in range(n))
    if k == 4:  # rare BMP ideographs (Unified + Extension A)
        return "".join(_rand_from_ranges(rng, [(0x4E00, 0x9FFF), (0x3400, 0x4DBF)]) for _ in range(n))
    return "".join(rng.choice(_HANZI) if rng.random() < 0.5 else _rand_char(rng, *_HIRAGANA) for _ in range(n))


def _gen_cjk(rng: random.Random) -> str:
    k = rng.randrange(4)
    if k == 0:
        return rng.choice(_CJK_PHRASES) if rng.random() < 0.5 else rng.choice(_CJK_PHRASES) + _cjk_run(rng)
    parts: list[str] = []
    for _ in range(rng.randint(1, 10)):
        r = rng.random()
        if r < 0.55:
            parts.append(_cjk_run(rng))
        elif r < 0.75:
            parts.append(rng.choice(_CJK_PUNCT))
        elif r < 0.9:
            parts.append(rng.choice((" ", "")) + rng.choice((_word(rng), _ascii_number(rng), _identifier(rng))) + rng.choice((" ", "")))
        else:
            parts.append(rng.choice(_CJK_PHRASES))
    parts.insert(rng.randint(0, len(parts)), _cjk_run(rng))  # at least one CJK run
    s = "".join(parts)
    if k == 2 and rng.random() < 0.7:
        s += rng.choice("。！？")
    return s


# ---------------------------------------------------------------------------
# 5. Emoji
# ---------------------------------------------------------------------------

_ZWJ = "\u200d"
_VS16 = "\ufe0f"
_VS15 = "\ufe0e"
_SKIN = tuple(chr(c) for c in range(0x1F3FB, 0x1F400))
_EMOJI_RANGES = [(0x1F600, 0x1F64F), (0x1F300, 0x1F5FF), (0x1F680, 0x1F6C5), (0x1F90C, 0x1F9FF), (0x1FA70, 0x1FA7C)]
_VS_BASES = "❤☀☺✔☂☎✈✉⚠♻☝✌⭐⚡"
_PEOPLE = ("\U0001F44D", "\U0001F44B", "\U0001F9D1", "\U0001F469", "\U0001F468", "\u270B", "\U0001F64F", "\U0001F476", "\U0001F3C3")
_OBJECTS = ("\U0001F4BB", "\U0001F680", "\U0001F52C", "\U0001F3A8", "\U0001F33E", "\u2695\ufe0f", "\U0001F373", "\U0001F692")
_ZWJ_SEQS = (
    "👨‍👩‍👧‍👦", "👩‍👩‍👦", "👨‍👨‍👧", "🏳️‍🌈", "🏴‍☠️", "❤️‍🔥", "🧑‍🤝‍🧑", "👁️‍🗨️", "🐕‍🦺", "😮‍💨", "🧔🏻‍♂️", "👩🏾‍❤️‍💋‍👨🏼",
)
_FLAG_CODES = ("US", "JP", "FR", "DE", "GB", "CN", "KR", "IN", "BR", "CA", "UA", "ZA", "MX", "SE", "NG")
_TAG_FLAGS = ("gbeng", "gbsct", "gbwls")


def _ri(letter: str) -> str:
    return chr(0x1F1E6 + ord(letter) - ord("A"))


def _emoji_unit(rng: random.Random) -> str:
    k = rng.randrange(9)
    if k == 0:
        return _rand_from_ranges(rng, _EMOJI_RANGES)
    if k == 1:
        return rng.choice(_VS_BASES) + rng.choice((_VS16, _VS16, _VS15, ""))
    if k == 2:
        return rng.choice(_PEOPLE) + rng.choice(_SKIN)
    if k == 3:
        return rng.choice(_ZWJ_SEQS)
    if k == 4:  # profession: person [+ skin] + ZWJ + object
        return rng.choice(("\U0001F9D1", "\U0001F469", "\U0001F468")) + (rng.choice(_SKIN) if rng.random() < 0.5 else "") + _ZWJ + rng.choice(_OBJECTS)
    if k == 5:  # flags: valid pairs, random pairs, lone indicators
        r = rng.random()
        if r < 0.6:
            code = rng.choice(_FLAG_CODES)
        elif r < 0.9:
            code = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        else:
            code = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return "".join(_ri(c) for c in code)
    if k == 6:  # keycaps
        return rng.choice("0123456789#*") + _VS16 + "\u20e3"
    if k == 7:  # tag sequence flags (astral tag characters)
        return "\U0001F3F4" + "".join(chr(0xE0000 + ord(c)) for c in rng.choice(_TAG_FLAGS)) + "\U000E007F"
    # family built dynamically with random skin tones
    members = [rng.choice(("\U0001F468", "\U0001F469", "\U0001F467", "\U0001F466", "\U0001F9D1")) + (rng.choice(_SKIN) if rng.random() < 0.4 else "")
               for _ in range(rng.randint(2, 4))]
    return _ZWJ.join(members)


def _gen_emoji(rng: random.Random) -> str:
    k = rng.randrange(4)
    if k == 0:
        return _emoji_unit(rng)
    if k == 1:
        return "".join(_emoji_unit(rng) for _ in range(rng.randint(2, 12)))
    parts: list[str] = []
    for _ in range(rng.randint(2, 10)):
        if rng.random() < 0.45:
            parts.append(_emoji_unit(rng))
        else:
            parts.append(rng.choice((_word(rng), _sentence(rng), _cjk_run(rng) if k == 3 else _word(rng), "!", ",", ":")))
    parts.insert(rng.randint(0, len(parts)), _emoji_unit(rng))  # at least one emoji
    return rng.choice(("", " ")).join(parts)


# ---------------------------------------------------------------------------
# 6. Combining marks and complex scripts
# ---------------------------------------------------------------------------

_COMBINING_RANGES = [(0x0300, 0x036F), (0x1AB0, 0x1ABE), (0x1DC0, 0x1DFF), (0x20D0, 0x20F0), (0xFE20, 0xFE2F)]
_ACCENTED_WORDS = (
    "café", "naïve", "résumé", "Ångström", "São Paulo", "Zürich", "crème brûlée", "Đà Nẵng", "Tiếng Việt",
    "façade", "jalapeño", "Øresund", "Şişli", "Łódź", "Èze", "coöperate", "Māori", "Ελληνικά", "Ἀθῆναι",
    "Ёлка", "Ðiện", "ǅemal", "Ǻngel", "über", "mañana", "piñata", "Rhône", "Málaga", "Dvořák",
)
_DEVANAGARI_PHRASES = ("नमस्ते दुनिया", "हिन्दी भाषा", "क्षत्रिय", "संस्कृतम्", "श्री", "ज़िंदगी")
_THAI_PHRASES = ("สวัสดีครับ", "ภาษาไทย", "กรุงเทพมหานคร", "ขอบคุณค่ะ", "น้ำ")
_ARABIC_PHRASES = ("مرحبا بالعالم", "اللُّغَةُ الْعَرَبِيَّةُ", "بِسْمِ ٱللَّٰهِ", "السلام عليكم", "٠١٢٣٤٥٦٧٨٩")
_HEBREW_PHRASES = ("שָׁלוֹם עוֹלָם", "עברית", "בְּרֵאשִׁית", "תּוֹדָה רַבָּה")
_KOREAN_WORDS = ("한국어", "안녕하세요", "서울", "감사합니다", "값")


def _devanagari(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 8)):
        syl = _rand_char(rng, 0x0915, 0x0939)
        if rng.random() < 0.3:
            syl += "\u094d" + _rand_char(rng, 0x0915, 0x0939)
        if rng.random() < 0.6:
            syl += _rand_char(rng, 0x093E, 0x094C)
        if rng.random() < 0.2:
            syl += rng.choice(("\u0902", "\u0901", "\u0903", "\u093c"))
        out.append(syl)
    return "".join(out)


def _thai(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 10)):
        syl = _rand_char(rng, 0x0E01, 0x0E2E)
        if rng.random() < 0.5:
            syl += rng.choice(("\u0e31", "\u0e34", "\u0e35", "\u0e36", "\u0e37", "\u0e38", "\u0e39"))
        if rng.random() < 0.4:
            syl += _rand_char(rng, 0x0E48, 0x0E4B)
        out.append(syl)
    return "".join(out)


def _arabic(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 10)):
        c = _rand_char(rng, 0x0628, 0x064A)
        if rng.random() < 0.5:
            c += _rand_char(rng, 0x064B, 0x0652)
        out.append(c)
        if rng.random() < 0.15:
            out.append(" ")
    return "".join(out)


def _hebrew(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 10)):
        c = _rand_char(rng, 0x05D0, 0x05EA)
        if rng.random() < 0.5:
            c += _rand_char(rng, 0x05B0, 0x05BC)
        out.append(c)
    return "".join(out)


def _stacked(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 8)):
        base = rng.choice("aeiouxyzAEIOUn") if rng.random() < 0.8 else rng.choice(" 0.")
        marks = "".join(_rand_from_ranges(rng, _COMBINING_RANGES) for _ in range(rng.randint(1, 8)))
        out.append(base + marks)
    return "".join(out)


def _gen_combining(rng: random.Random) -> str:
    k = rng.randrange(10)
    if k == 0:
        return unicodedata.normalize("NFD", " ".join(rng.choice(_ACCENTED_WORDS) for _ in range(rng.randint(1, 5))))
    if k == 1:  # single decomposed accents inside ASCII words
        w = _word(rng)
        i = rng.randint(0, len(w))
        return _pad(rng, w[:i] + rng.choice("eaouiEAOUnc") + rng.choice("\u0301\u0300\u0302\u0308\u0303\u0327\u030c") + w[i:])
    if k == 2:
        return _stacked(rng)
    if k == 3:
        return rng.choice(_DEVANAGARI_PHRASES) if rng.random() < 0.4 else _devanagari(rng) + rng.choice((" ", "।", " ")) + _devanagari(rng)
    if k == 4:
        return rng.choice(_THAI_PHRASES) if rng.random() < 0.4 else _thai(rng)
    if k == 5:
        return rng.choice(_ARABIC_PHRASES) if rng.random() < 0.4 else _arabic(rng)
    if k == 6:
        return rng.choice(_HEBREW_PHRASES) if rng.random() < 0.4 else _hebrew(rng)
    if k == 7:  # NFD hangul -> conjoining jamo
        return unicodedata.normalize("NFD", " ".join(rng.choice(_KOREAN_WORDS) for _ in range(rng.randint(1, 4))))
    if k == 8:  # bidi mix with ASCII
        return (f"The word {rng.choice(_HEBREW_PHRASES + _ARABIC_PHRASES)} means "
                f"{_word(rng)} ({unicodedata.normalize('NFD', rng.choice(_ACCENTED_WORDS))}).")
    # mark with no base: at string start or after whitespace
    return rng.choice(("", " ", "\n")) + "".join(_rand_from_ranges(rng, _COMBINING_RANGES) for _ in range(rng.randint(1, 4))) + rng.choice(("", _word(rng)))


# ---------------------------------------------------------------------------
# 7. Invalid-looking escapes and odd text
# ---------------------------------------------------------------------------

# \t, \n and \r belong to the whitespace category (and are rewritten by some
# normalisers); all other C0 controls, DEL and the C1 controls are here.
_CONTROL = tuple(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + ("\x7f",) + tuple(chr(c) for c in range(0x80, 0xA0))
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u200e", "\u200f",
               "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u034f")
_BACKSLASH_BITS = (
    "\\x", "\\x4", "\\xZZ", "\\x41", "\\u12", "\\u12G4", "\\u", "\\U0001F600", "\\ud83d", "\\udc00", "\\\\\\\\",
    "\\", "\\\\", "\\n", "\\t", "\\0", "\\'", '\\"', "\\N{SNOWMAN}", "\\q", "\\e[31m", "C:\\Users\\admin\\new_folder",
    "\\d+\\s*\\w", "\\\\server\\share", "\\u00e9", "\\/", "\\b",
)
_ANGLE_BITS = ("<0x41>", "<0x0A>", "<0xE2><0x96><0x81>", "<0xFF>", "<0x00>", "0x41", "<0x>", "<0xZZ>", "<0x1F600>",
               "a < b", "x > y", "1 <= 2", "<>", "<=>", "->", "=>", "a|b", "||", "<!-- note -->", "<<", ">>", "<3")
_ASTRAL_RANGES = [(0x1D400, 0x1D7FF), (0x20000, 0x2A6DF), (0x10000, 0x1007F), (0x10330, 0x1034A),
                  (0x1F000, 0x1F02B), (0x13000, 0x1342E), (0x1D100, 0x1D126)]
_PRIVATE_RANGES = [(0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)]


def _odd_piece(rng: random.Random) -> str:
    k = rng.randrange(10)
    if k == 0:
        return rng.choice(_BACKSLASH_BITS)
    if k == 1:
        if rng.random() < 0.5:
            return rng.choice(_ANGLE_BITS)
        return "".join(f"<0x{rng.randint(0, 255):02X}>" for _ in range(rng.randint(1, 4)))
    if k == 2:
        return "".join(rng.choice(_CONTROL) for _ in range(rng.randint(1, 5)))
    if k == 3:
        return rng.choice(("\u2581", "\u2581\u2581", "\u2581" + _word(rng), _word(rng) + "\u2581" + _word(rng), "\u2581 \u2581", " \u2581"))
    if k == 4:
        return "".join(rng.choice(_ZERO_WIDTH) for _ in range(rng.randint(1, 3)))
    if k == 5:
        return "".join(_rand_from_ranges(rng, _PRIVATE_RANGES) for _ in range(rng.randint(1, 3)))
    if k == 6:
        return "".join(_rand_from_ranges(rng, _ASTRAL_RANGES) for _ in range(rng.randint(1, 4)))
    if k == 7:
        return rng.choice(("\ufffd", "\ufffc", "\U0001D400", "\U00020000", "\U0010FFFD", "\u00ff\u00fe", "\u0100"))
    if k == 8:
        return "\ufeff" + _word(rng)
    return rng.choice((_word(rng), _identifier(rng), " ", _ascii_number(rng)))


def _gen_odd(rng: random.Random) -> str:
    n = rng.randint(1, 6)
    joiner = rng.choice(("", "", " ", "\n"))
    return joiner.join(_odd_piece(rng) for _ in range(n))


# ---------------------------------------------------------------------------
# 8. Mixed
# ---------------------------------------------------------------------------

_BASE_GENERATORS: dict[str, Gen] = {
    "ascii": _gen_ascii,
    "json": _gen_json,
    "whitespace": _gen_whitespace,
    "cjk": _gen_cjk,
    "emoji": _gen_emoji,
    "combining": _gen_combining,
    "odd": _gen_odd,
}


def _gen_mixed(rng: random.Random) -> str:
    names = rng.sample(sorted(_BASE_GENERATORS), rng.randint(2, 4))
    budget = MAX_LEN // len(names)
    parts = [_BASE_GENERATORS[name](rng)[:budget] for name in names]
    sep = rng.choice(("", " ", "\n", "\t", ": ", " - "))
    return sep.join(parts)


_GENERATORS: dict[str, Gen] = {**_BASE_GENERATORS, "mixed": _gen_mixed}

# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------


def _schedule(n: int, rng: random.Random) -> list[str]:
    """Category label per slot, proportional to ``_SHARES`` (largest remainder)."""
    total = sum(_SHARES.values())
    exact = {c: n * _SHARES[c] / total for c in CATEGORIES}
    counts = {c: int(exact[c]) for c in CATEGORIES}
    left = n - sum(counts.values())
    for c in sorted(CATEGORIES, key=lambda c: (counts[c] - exact[c], CATEGORIES.index(c)))[:left]:
        counts[c] += 1
    labels = [c for c in CATEGORIES for _ in range(counts[c])]
    rng.shuffle(labels)
    return labels


def _acceptable(s: str) -> bool:
    if not s or len(s) > MAX_LEN or looks_special(s):
        return False
    try:
        s.encode("utf-8")  # rejects lone surrogates
    except UnicodeEncodeError:
        return False
    return True


def labelled_corpus(n: int = 2400, seed: int = 1234) -> list[tuple[str, str]]:
    """Like :func:`roundtrip_corpus` but returns ``(category, text)`` pairs."""
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for label in _schedule(n, rng):
        gen = _GENERATORS[label]
        for attempt in range(1000):
            s = _clip(gen(rng))
            if attempt >= 50:  # short generators may collide: lengthen
                s = _clip(s + gen(rng))
            if s not in seen and _acceptable(s):
                break
        else:  # pragma: no cover - generators are far more varied than this
            raise RuntimeError(f"could not generate a new {label!r} string")
        seen.add(s)
        out.append((label, s))
    return out


def roundtrip_corpus(n: int = 2400, seed: int = 1234) -> list[str]:
    """Return ``n`` distinct, non-empty, valid Unicode strings (1..MAX_LEN chars).

    Deterministic for a given ``(n, seed)``.  No string contains
    special-token look-alikes (see :data:`SPECIAL_LOOKING`).  Every category
    in :data:`CATEGORIES` except ``mixed`` makes up 12% of the corpus
    (``mixed`` the remaining 16%), rounded to whole strings.
    """
    return [s for _, s in labelled_corpus(n, seed)]
