"""Tests of the JSON Schema ``pattern`` parser (enforcer.grammar.regex).

The language of a node is checked with a small matcher over code points (``matches`` from
tests/ir_oracle.py, a test oracle only) and compared with Python's ``re`` on a translated pattern,
since Python's dialect differs from ECMA-262 in ``.``, ``$``, ``\\s`` and (without
``re.ASCII``) ``\\d``/``\\w``.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enforcer.errors import SchemaError, UnsupportedSchemaError
from enforcer.grammar import regex as regex_module
from enforcer.grammar.ir import (
    MAX_CODE_POINT,
    Alt,
    CharClass,
    Empty,
    Never,
    Node,
    Repeat,
    Seq,
    normalize_ranges,
)
from enforcer.grammar.regex import parse_regex
from tests.ir_oracle import matches

# --- structure checks -------------------------------------------------------------------------


def _walk(node: Node):
    yield node
    for child in getattr(node, "items", ()):
        yield from _walk(child)
    if isinstance(node, Repeat):
        yield from _walk(node.item)


def assert_char_level(node: Node) -> None:
    for sub in _walk(node):
        assert isinstance(sub, (Empty, Never, CharClass, Seq, Alt, Repeat)), sub
        if isinstance(sub, CharClass):
            assert sub.ranges and sub.ranges == normalize_ranges(sub.ranges)
            assert all(0 <= lo <= hi <= MAX_CODE_POINT for lo, hi in sub.ranges)
            # normalised means no two ranges touch
            assert all(a[1] + 1 < b[0] for a, b in zip(sub.ranges, sub.ranges[1:]))


# --- ECMA -> Python translation for comparison ------------------------------------------------

_PY_SPACE = r" \t\n\x0b\x0c\r\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_PY_DOT = r"[^\n\r\u2028\u2029]"


def to_python(pattern: str) -> str:
    """The Python ``re`` spelling (with re.ASCII) of the ECMA patterns used in these tests."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1]
            if nxt == "u" and pattern[i + 2] == "{":
                end = pattern.index("}", i)
                out.append("\\U%08x" % int(pattern[i + 3 : end], 16))
                i = end + 1
                continue
            if nxt == "s":
                out.append(_PY_SPACE if in_class else f"[{_PY_SPACE}]")
            elif nxt == "S":
                assert not in_class
                out.append(f"[^{_PY_SPACE}]")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
            if pattern[i + 1] == "^":
                out.append("^")
                i += 1
        elif c == ".":
            out.append(_PY_DOT)
        elif c == "$":
            out.append(r"\Z")
        elif pattern.startswith("(?<", i) and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


# Patterns typical of JSON Schemas, in ECMA-262 syntax.
PATTERNS = [
    r"^[a-z]+$",
    r"^\d{3}-\d{4}$",
    r"^(\([0-9]{3}\))?[0-9]{3}-[0-9]{4}$",
    r"[A-Z]{2,}",
    r"^\S+@\S+\.\S+$",
    r"^[\u4e00-\u9fff]+$",
    r"a|b$",
    r"^$",
    r".",
    r"^[\u{1F600}-\u{1F64F}]+$",
    r"\u{1F600}",
    r"^[a-zA-Z0-9_-]{3,16}$",
    r"^\w+$",
    r"^[^\s]+$",
    r"^#?([a-fA-F0-9]{6}|[a-fA-F0-9]{3})$",
    r"^(\d+)(\.\d+)?$",
    r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$",
    r"^[A-Z][a-z]*( [A-Z][a-z]*)*$",
    r"^\d{4}-\d{2}-\d{2}$",
    r"^(?:[01]\d|2[0-3]):[0-5]\d$",
    r"^https?://[^\s/$.?#].[^\s]*$",
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
    r"abc",
    r"^abc",
    r"abc$",
    r"^a|b",
    r"(^a|^b)c",
    r"(^a|b)c",
    r"x(a|b$)",
    r"^(a|b)*?c+?$",
    r"a{2,3}",
    r"^a{0}b$",
    r"[\d.]+",
    r"^[^a-c]*$",
    r"\s",
    r"^\D\W$",
    r"^(?<year>\d{4})-(?<month>\d{2})$",
    r"^[\-\/\\]+$",
    r"^\t\n?$",
    r"^\x41\u0042[\x61-\x63]$",
    r"^(a|ab)(c|bcd)(d*)$",
    r"^.*$",
    r"(a|)+b",
    r"^[😀-🙏]+$",
    r"\.$",
    r"^\s*\S.*$",
    r"(ab)+|c{2}",
    r"",
]

ALPHABET = list("abcdxABZ0129-_.@/:# ()\\\t\n\r")
ALPHABET += ["\xa0", "\u2028", "é", "中", "😀", "🙏", "٣"]


@st.composite
def near_matches(draw: st.DrawFn, compiled: re.Pattern[str]) -> str:
    """Strings that match, contain a match, or are random; then maybe edited by one character."""
    s = draw(
        st.one_of(
            st.from_regex(compiled, fullmatch=True),
            st.from_regex(compiled),
            st.text(st.sampled_from(ALPHABET), max_size=10),
        )
    )
    edit = draw(st.sampled_from(["keep", "insert", "delete", "replace"]))
    if edit == "keep" or (edit != "insert" and not s):
        return s
    i = draw(st.integers(0, len(s) - (edit != "insert")))
    c = draw(st.sampled_from(ALPHABET))
    if edit == "insert":
        return s[:i] + c + s[i:]
    return s[:i] + ("" if edit == "delete" else c) + s[i + 1 :]


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_language_matches_python_re(pattern: str, data: st.DataObject) -> None:
    compiled = re.compile(to_python(pattern), re.ASCII)
    full, search = parse_regex(pattern), parse_regex(pattern, search=True)
    assert_char_level(full)
    assert_char_level(search)
    for s in data.draw(st.lists(near_matches(compiled), min_size=1, max_size=8)):
        assert matches(full, s) == bool(compiled.fullmatch(s)), (pattern, s, "full")
        assert matches(search, s) == bool(compiled.search(s)), (pattern, s, "search")


# --- explicit examples ------------------------------------------------------------------------

CASES = [
    # pattern, string, full match?, search match?
    ("^abc$", "abc", True, True),
    ("^abc$", "xabc", False, False),
    ("abc", "xabcx", False, True),
    ("^a|b$", "ax", False, True),
    ("^a|b$", "xb", False, True),
    ("^a|b$", "xax", False, False),
    ("^a|b$", "bx", False, False),
    ("(^a|^b)c", "bcx", False, True),
    ("(^a|^b)c", "xbc", False, False),
    ("x(a|b$)", "xaz", False, True),
    ("x(a|b$)", "xbz", False, False),
    ("(^a|b)(c|d$)", "zbd", False, True),
    ("(^a|b)(c|d$)", "adz", False, False),
    ("((^a))b", "abz", False, True),
    ("", "anything\n", False, True),
    ("", "", True, True),
    ("$", "xyz", False, True),
    ("^", "", True, True),
    (".", "\n", False, False),
    (".", "\r", False, False),
    (".", "\u2028", False, False),
    (".", "\u2029", False, False),
    (".", "\U0001F600", True, True),
    (r"^.$", "\U0001F600", True, True),
    ("^.$", "\ud83d\ude00", False, False),  # a UTF-16 pair is not one code point here
    ("[^a]", "\U0001F600", True, True),
    (r"\uD83D\uDE00", "\U0001F600", True, True),
    (r"[\uD83D\uDE00-\uD83D\uDE4F]", "\U0001F610", True, True),
    (r"[\uD83D\uDE00-\uD83D\uDE4F]", "\U0001F650", False, False),
    (r"\u{1F600}", "\U0001F600", True, True),
    (r"\u{41}", "A", True, True),
    (r"\u{0000041}", "A", True, True),
    ("\ud83d\ude00", "\U0001F600", True, True),  # literal pair in the pattern string
    (r"\cJ", "\n", True, True),
    (r"\ca", "\x01", True, True),
    (r"[\cZ]", "\x1a", True, True),
    (r"\0", "\0", True, True),
    (r"\x7e", "~", True, True),
    (r"\v\f", "\x0b\x0c", True, True),
    (r"[\b]", "\b", True, True),
    (r"\/\-\.\*\+\?\(\)\[\]\{\}\|\^\$\\", "/-.*+?()[]{}|^$\\", True, True),
    (r'\"\#\ \:\@\'', "\"# :@'", True, True),
    ("[-a]", "-", True, True),
    ("[a-]", "-", True, True),
    ("[a-c-e]", "-", True, True),
    ("[a-c-e]", "d", False, False),
    (r"[\w-]", "-", True, True),
    (r"[\s\d]", "\u3000", True, True),
    ("[]", "", False, False),
    ("[]", "a", False, False),
    ("a[]", "a", False, False),
    ("[^]", "\n", True, True),
    ("a]b}", "a]b}", True, True),
    ("a{b", "a{b", True, True),
    ("a{2", "a{2", True, True),
    ("a{1,}", "aaaa", True, True),
    ("a{2}?", "aa", True, True),
    ("a+?", "aaa", True, True),
    ("a??", "", True, True),
    ("(?:ab){2,3}", "ababab", True, True),
    ("(?:ab){2,3}", "abababab", False, True),
    (r"\d", "٣", False, False),  # ECMA \d is ASCII only
    (r"\w", "é", False, False),
    (r"\W", "é", True, True),
    (r"\s", "\ufeff", True, True),
    (r"\s", "\u200b", False, False),  # zero width space is not white space
    (r"\S", "\u200b", True, True),
    (r"\D", "\U0001F600", True, True),
    (r"^\p{L}+$", "héllo中", True, True),
    (r"^\p{L}+$", "héllo 中", False, False),
    (r"\p{L}+", "héllo中", True, True),
    (r"\p{Lu}", "É", True, True),
    (r"\p{Lu}", "é", False, False),
    (r"\p{Ll}", "é", True, True),
    (r"\p{Lt}", "ǅ", True, True),
    (r"\p{Lm}", "ʰ", True, True),
    (r"\p{Lo}", "中", True, True),
    (r"\p{N}", "½", True, True),
    (r"\p{Nd}", "٣", True, True),
    (r"\p{P}", "!", True, True),
    (r"\p{S}", "€", True, True),
    (r"\p{Z}", "\u3000", True, True),
    (r"\P{L}", "a", False, False),
    (r"\P{L}", "1", True, True),
    (r"[^\P{L}]", "a", True, True),
    (r"[\p{Nd}\p{Lu}]+", "A1٣", True, True),
    (r"\p{Any}", "\n", True, True),
    (r"\p{ASCII}", "\x7f", True, True),
    (r"\p{ASCII}", "\x80", False, False),
    (r"\p{Assigned}", "a", True, True),
]


@pytest.mark.parametrize(("pattern", "s", "full", "search"), CASES)
def test_examples(pattern: str, s: str, full: bool, search: bool) -> None:
    full_node = parse_regex(pattern)
    search_node = parse_regex(pattern, search=True)
    assert_char_level(full_node)
    assert_char_level(search_node)
    assert matches(full_node, s) == full
    assert matches(search_node, s) == search


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("^abc$", "abc"),
        ("a*?", "a*"),
        ("a+?", "a+"),
        ("a{2,5}?", "a{2,5}"),
        ("(?<n>ab)", "(ab)"),
        ("(?:ab)", "ab"),
        (r"\p{Lu}", r"\p{Uppercase_Letter}"),
        (r"\p{Lu}", r"\p{gc=Lu}"),
        (r"\p{Lu}", r"\p{General_Category=Uppercase_Letter}"),
        (r"\p{L}", r"\p{Letter}"),
        (r"\p{N}", r"\p{Number}"),
        (r"\p{P}", r"\p{Punctuation}"),
        (r"\p{S}", r"\p{Symbol}"),
        (r"\p{Z}", r"\p{Separator}"),
        (r"\p{Nd}", r"\p{Decimal_Number}"),
        (r"\p{L}", r"[\p{Lu}\p{Ll}\p{Lt}\p{Lm}\p{Lo}]"),
        (r"\uD83D\uDE00", r"\u{1F600}"),
        (r"[\uD83D\uDE00-\uD83D\uDE4F]", r"[\u{1F600}-\u{1F64F}]"),
        (r"\d", "[0-9]"),
        (r"\w", "[A-Za-z0-9_]"),
        (r"\D", "[^0-9]"),
        (r"[^\D]", r"\d"),
        (r"[\W\w]", "[^]"),
        (".", r"[^\n\r\u2028\u2029]"),
        ("^a|^b", "a|b"),
    ],
)
def test_same_node(a: str, b: str) -> None:
    assert parse_regex(a) == parse_regex(b)


def test_character_sets() -> None:
    assert parse_regex(r"\s") == CharClass(
        (
            (0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
            (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
            (0xFEFF, 0xFEFF),
        )
    )  # fmt: skip
    assert parse_regex(".") == CharClass(
        ((0, 9), (11, 12), (14, 0x2027), (0x202A, MAX_CODE_POINT))
    )
    assert parse_regex("[^a]") == CharClass(((0, 0x60), (0x62, MAX_CODE_POINT)))
    assert parse_regex("[cab-d]") == CharClass(((0x61, 0x64),))
    assert parse_regex("[^]") == CharClass(((0, MAX_CODE_POINT),))


def test_structure_is_character_level() -> None:
    node = parse_regex("ab")
    assert node == Seq((CharClass(((97, 97),)), CharClass(((98, 98),))))
    assert parse_regex("a{3}") == Repeat(CharClass(((97, 97),)), 3, 3)
    assert parse_regex("") == Empty()
    assert parse_regex("[]") == Never()
    star = Repeat(CharClass(((0, MAX_CODE_POINT),)))
    assert parse_regex("", search=True) == star
    assert parse_regex("a", search=True) == Seq((star, CharClass(((97, 97),)), star))
    assert parse_regex("^a$", search=True) == CharClass(((97, 97),))


def test_property_matches_unicodedata() -> None:
    letters = parse_regex(r"\p{L}")
    upper = parse_regex(r"\p{Lu}")
    numbers = parse_regex(r"\p{N}")
    assert isinstance(letters, CharClass)
    for cp in range(0, 0x3000, 7):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat == "Cs":
            continue
        assert matches(letters, ch) == cat.startswith("L"), hex(cp)
        assert matches(upper, ch) == (cat == "Lu"), hex(cp)
        assert matches(numbers, ch) == cat.startswith("N"), hex(cp)


# Assertions anywhere outside a quantifier, against Python's re (ASCII \w, as ECMA's): search
# semantics over short strings of the characters the patterns care about.
ASSERTIONS = [r"\bfoo\b", r"\Bo", r"o\B", r"a^b", r"a$b", r"(a$|b)c", r"a(^b)", r"a*^b", r"$^", r"^$",
              r"(^a|b)c", r"^(?!.*bad).*$", r"(?=\d{2})\d+x", r"(?!a)\w\b", r"\b\w+\b-", r"x(?=y|$)",
              r"^\b", r"\b$", r"(?=a)(?=ab)a", r"a(?!b)(?!c)", r"(\bo|x\B)y", r"(?=^a)", r"a(?!\b)", r"(?=o\b)", r"(?!x$)x"]


@pytest.mark.parametrize("pattern", ASSERTIONS)
def test_assertions_match_like_python(pattern: str) -> None:
    node = parse_regex(pattern, search=True)
    strings = [""] + ["".join(p) for n in (1, 2, 3) for p in itertools.product("abdoxy1 -", repeat=n)]
    strings += ["foo", " foo ", "afoo", "foo_", "bad", "not bad", "12x", "1x", "xy", "x", "abc", "oy", "o y"]
    for text in strings:
        expected = re.search(pattern, text, flags=re.ASCII) is not None
        assert matches(node, text) == expected, (pattern, text, expected)


def test_property_table_is_built_once() -> None:
    """The Unicode category table costs a scan of every code point: once per process, not per
    pattern (its time is in the benchmarks, not asserted here)."""
    regex_module._category_table.cache_clear()
    regex_module._property_ranges.cache_clear()
    parse_regex(r"\p{L}")
    parse_regex(r"\p{Lu}\p{N}")
    assert regex_module._category_table.cache_info().misses == 1


# --- errors ----------------------------------------------------------------------------------

UNSUPPORTED = [
    (r"(a)\1", "backreference"),
    (r"(?<x>a)\k<x>", "backreference"),
    ("(?<=a)b", "lookbehind"),
    ("(?<!a)b", "lookbehind"),
    ("(^a)*", "quantified group"),
    ("(a|^b)?c", "quantified group"),
    (r"(\ba)+", "quantified group"),
    (r"\p{Greek}", "Greek"),
    (r"\p{Script=Latin}", "Script=Latin"),
    (r"\p{Alphabetic}", "Alphabetic"),
    ("(?i)abc", "flag"),
    ("(?i:abc)", "flag"),
]


@pytest.mark.parametrize("search", [False, True])
@pytest.mark.parametrize(("pattern", "mention"), UNSUPPORTED)
def test_unsupported(pattern: str, mention: str, search: bool) -> None:
    with pytest.raises(UnsupportedSchemaError) as info:
        parse_regex(pattern, search=search)
    assert mention in str(info.value)
    assert info.value.keyword == "pattern"


SYNTAX_ERRORS = [
    ("(ab", "missing ')'", 0),
    ("a(b(c)", "missing ')'", 1),
    ("ab)", "unmatched ')'", 2),
    ("a{2,1}", "out of order", 1),
    ("*a", "nothing to repeat", 0),
    ("a|+", "nothing to repeat", 2),
    ("(?:?)", "nothing to repeat", 3),
    ("a**", "nothing to repeat", 2),
    ("a{2}{3}", "nothing to repeat", 4),
    ("{2}", "nothing to repeat", 0),
    ("^*", "nothing to repeat", 1),
    ("a{,3}", "'{,n}'", 1),
    (r"\a", "invalid escape '\\a'", 0),
    (r"x\e", "invalid escape '\\e'", 1),
    (r"\é", "invalid escape", 0),
    (r"\01", "octal", 0),
    (r"[\1]", "invalid escape", 1),
    (r"[\B]", "invalid escape", 1),
    (r"\c1", "\\c", 0),
    (r"\x4", "hex", 0),
    (r"\xZZ", "hex", 0),
    (r"\u12", "hex", 0),
    (r"\u{110000}", "\\u{", 0),
    (r"\u{}", "\\u{", 0),
    (r"\u{12", "\\u{", 0),
    ("[abc", "unterminated character class", 0),
    ("x[a\\]", "unterminated character class", 1),
    ("[z-a]", "out of order", 1),
    (r"[\d-z]", "range", 1),
    (r"[a-\w]", "range", 1),
    ("\\", "end of pattern", 0),
    (r"\p", "\\p", 0),
    (r"\p{}", "\\p", 0),
    ("(?<1x>a)", "group name", 0),
    ("(?<x", "group name", 0),
    ("(?P<x>a)", "(?P", 0),
    ("(?)", "(?)", 0),
]


@pytest.mark.parametrize(("pattern", "mention", "position"), SYNTAX_ERRORS)
def test_syntax_errors(pattern: str, mention: str, position: int) -> None:
    with pytest.raises(SchemaError) as info:
        parse_regex(pattern)
    assert not isinstance(info.value, UnsupportedSchemaError)
    message = str(info.value)
    assert mention in message
    assert f"position {position} " in message
    assert info.value.keyword == "pattern"
