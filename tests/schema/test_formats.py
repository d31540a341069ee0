"""Tests of the ``format`` languages (enforcer.schema.formats).

Three sources of truth, checked with the IR oracle (tests/ir_oracle.py):

* the JSON Schema Test Suite's format files (the ``valid`` flag of string instances);
* ``jsonschema``'s own checkers where they are strict with the packages installed here
  (``date``, ``ipv4``, ``ipv6``, ``uuid``), on generated and mutated strings;
* small independent reference checkers written procedurally below (time arithmetic for leap
  seconds, duration element order, host name and e-mail rules), on generated strings.
"""

from __future__ import annotations

import calendar
import ipaddress
import json
import re
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enforcer.grammar.ir import Alt, Bytes, CharClass, Empty, Intersect, Never, Repeat, Seq
from enforcer.schema.formats import FORMATS, format_language
from tests.ir_oracle import matches, node_count

SUITE = Path(__file__).resolve().parents[1] / "compliance" / "suite" / "draft2020-12" / "optional" / "format"
CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Suite cases the languages knowingly disagree with: valid IDNA A-labels, rejected because every
# label with "--" in the 3rd and 4th positions is (Punycode validity is not checked).
KNOWN_DISAGREEMENTS = {
    # Digit runs are bounded (19 per duration field) so that a model cannot ramble.
    ("duration", "P" + "9" * 78 + "D"),
    ("hostname", "xn--9n2bp8q.xn--9t4b11yi5a"),
    ("hostname", "xn--zca29lwxobi7a"),
    ("hostname", "xn--qmbc"),
    ("hostname", "xn--ll-0ea"),
    ("hostname", "xn--wva3je"),
    ("hostname", "xn--4dbc5h"),
    ("hostname", "xn--4dbc8h"),
    ("hostname", "xn--k8j5u"),
    ("hostname", "xn--bck0j"),
    ("hostname", "xn--vek778f"),
    ("hostname", "xn--ngba1o"),
    ("hostname", "xn--0-gyc"),
    ("hostname", "xn--11b2ezcw70k"),
    ("hostname", "xn--11b2ezcs70k"),
    ("hostname", "xn--ngba5hb2804a"),
}


# Formats whose generated language is a documented subset (enforcer.schema.formats): IDNA2008
# host names beyond lower-case Latin-1 U-labels (other scripts, CONTEXTJ/CONTEXTO rules, the
# ideographic full stops) are rejected, so for these only "no invalid string accepted" is checked.
SUBSET_FORMATS = frozenset({"idn-hostname", "idn-email"})


def suite_cases() -> list[tuple[str, str, bool]]:
    if not SUITE.is_dir():
        return []
    cases = []
    for name in sorted(FORMATS):
        for group in json.loads((SUITE / f"{name}.json").read_text(encoding="utf-8")):
            for test in group["tests"]:
                if isinstance(test["data"], str):
                    cases.append((name, test["data"], test["valid"]))
    return cases


SUITE_CASES = suite_cases()


@pytest.mark.skipif(not SUITE_CASES, reason="JSON Schema Test Suite not available")
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_suite(name: str) -> None:
    node = format_language(name)
    assert node is not None
    wrong = []
    for fmt, text, valid in SUITE_CASES:
        if fmt == name and matches(node, text) != valid:
            wrong.append((text, valid))
    assert all(valid for _, valid in wrong)  # disagreements only ever reject, never accept
    if name in SUBSET_FORMATS:
        return
    assert {(name, text) for text, _ in wrong} == {k for k in KNOWN_DISAGREEMENTS if k[0] == name}
    assert all(valid for _, valid in wrong)  # disagreements only ever reject, never accept


def test_suite_through_the_engine() -> None:
    """The languages survive JSON escaping and lowering to bytes unchanged."""
    from enforcer.engine.expr import ExprFactory
    from enforcer.engine.lower import Lowering
    from enforcer.schema.json_text import encode_chars

    for name in sorted(FORMATS):
        lowering = Lowering(ExprFactory())
        expr = lowering.lower(encode_chars(format_language(name)))
        f = lowering.factory
        for fmt, text, valid in SUITE_CASES:
            if fmt == name and (name, text) not in KNOWN_DISAGREEMENTS:
                body = json.dumps(text)[1:-1].encode()
                got = f.nullable(f.derive_bytes(expr, body))
                if name in SUBSET_FORMATS:
                    assert valid or not got, (name, text)
                else:
                    assert got == valid, (name, text)


def test_unknown_and_shape() -> None:
    assert format_language("not-a-format") is None
    for name in FORMATS:
        node = format_language(name)
        assert node is format_language(name)  # built once
        assert node_count(node) < 4000, name
        stack, seen = [node], set()
        while stack:
            n = stack.pop()
            if id(n) in seen:  # a DAG: shared sub-trees once
                continue
            seen.add(id(n))
            assert isinstance(n, (Empty, Never, Bytes, CharClass, Seq, Alt, Repeat, Intersect)), (name, n)
            stack.extend(getattr(n, "items", ()))
            if isinstance(n, Repeat):
                stack.append(n.item)


# --- generated strings -----------------------------------------------------------------------


@st.composite
def edited(draw: st.DrawFn, seeds: st.SearchStrategy[str], alphabet: str) -> str:
    """A seed string with 0-3 random one-character edits."""
    s = draw(seeds)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        if op != "insert" and not s:
            continue
        i = draw(st.integers(0, len(s) - (op != "insert")))
        c = draw(st.sampled_from(alphabet))
        s = s[:i] + ("" if op == "delete" else c) + s[i + (op != "insert") :]
    return s


def two(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda v: f"{v:02d}")


dates = st.builds(
    lambda y, m, d: f"{y:04d}-{m}-{d}",
    st.one_of(st.integers(0, 9999), st.sampled_from([0, 4, 100, 400, 1900, 2000, 2023, 2024, 2100])),
    two(0, 13),
    two(0, 32),
)
offsets = st.one_of(
    st.sampled_from(["Z", "z", "+00:00", "-00:00"]),
    st.builds(lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), two(0, 24), two(0, 60)),
)
times = st.builds(
    lambda h, m, s, frac, off: f"{h}:{m}:{s}{frac}{off}",
    st.one_of(two(0, 24), st.just("23")),
    st.one_of(two(0, 60), st.just("59")),
    st.one_of(two(0, 61), st.just("60")),
    st.sampled_from(["", ".5", ".123456789", "."]),
    offsets,
)


def reference_time(s: str) -> bool:
    m = re.fullmatch(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,18})?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))", s)
    if not m:
        return False
    h, mi, sec = int(m[1]), int(m[2]), int(m[3])
    if h > 23 or mi > 59 or sec > 60:
        return False
    offset = 0
    if m[4]:
        oh, om = int(m[5]), int(m[6])
        if oh > 23 or om > 59:
            return False
        offset = (oh * 60 + om) * (1 if m[4] == "+" else -1)
    return sec < 60 or (h * 60 + mi - offset) % 1440 == 23 * 60 + 59  # leap second at 23:59 UTC


def reference_date(s: str) -> bool:
    return CHECKER.conforms(s, "date")


@SETTINGS
@given(edited(dates, "0123456789-/ T"))
def test_date_agrees_with_jsonschema(s: str) -> None:
    assert matches(format_language("date"), s) == reference_date(s), s


def test_leap_years_and_month_lengths() -> None:
    node = format_language("date")
    for year in list(range(1, 3000, 3)) + [4, 100, 400, 1600, 1700, 2000, 2100, 9996, 9999]:
        assert matches(node, f"{year:04d}-02-29") == calendar.isleap(year), year
    for month in range(1, 13):
        last = calendar.monthrange(2023, month)[1]
        assert matches(node, f"2023-{month:02d}-{last:02d}")
        assert not matches(node, f"2023-{month:02d}-{last + 1:02d}")
    assert not matches(node, "0000-01-01")  # Python's date (jsonschema's checker) has no year 0
    assert date.fromisoformat("0001-01-01") and matches(node, "0001-01-01")


@SETTINGS
@given(edited(times, "0123456789:+-.Zz "))
def test_time_agrees_with_reference(s: str) -> None:
    assert matches(format_language("time"), s) == reference_time(s), s


@settings(max_examples=300, deadline=None)
@given(h=st.integers(0, 23), m=st.integers(0, 59), sign=st.sampled_from("+-"), oh=st.integers(0, 23),
       om=st.integers(0, 59))  # fmt: skip
def test_leap_second_offsets(h: int, m: int, sign: str, oh: int, om: int) -> None:
    node = format_language("time")
    text = f"{h:02d}:{m:02d}:60{sign}{oh:02d}:{om:02d}"
    offset = (oh * 60 + om) * (1 if sign == "+" else -1)
    assert matches(node, text) == ((h * 60 + m - offset) % 1440 == 1439), text
    # the matching offset for this local time is always accepted
    utc_offset = (h * 60 + m - 1439) % 1440
    assert matches(node, f"{h:02d}:{m:02d}:60.5+{utc_offset // 60:02d}:{utc_offset % 60:02d}")
    assert matches(node, f"{h:02d}:{m:02d}:60-{(1440 - utc_offset) % 1440 // 60:02d}:"
                         f"{(1440 - utc_offset) % 1440 % 60:02d}")  # fmt: skip


@SETTINGS
@given(edited(st.builds(lambda d, t, tm: d + t + tm, dates, st.sampled_from("Tt "), times), "0123456789:-Tt"))
def test_date_time_agrees_with_reference(s: str) -> None:
    expected = len(s) > 11 and s[10] in "Tt" and reference_date(s[:10]) and reference_time(s[11:])
    assert matches(format_language("date-time"), s) == expected, s


def reference_duration(s: str) -> bool:
    if not s.startswith("P"):
        return False
    date_part, sep, time_part = s[1:].partition("T")

    def units(part: str) -> str | None:
        if not re.fullmatch(r"(?:[0-9]{1,19}[A-Z])*", part):
            return None
        return "".join(u for _, u in re.findall(r"([0-9]+)([A-Z])", part))

    d, t = units(date_part), units(time_part)
    if d is None or t is None or (sep and not t) or not (d or t):
        return False
    if d == "W":
        return not sep
    return d in ("", "Y", "YM", "YMD", "M", "MD", "D") and t in ("", "H", "HM", "HMS", "M", "MS", "S")


def _ordered(units: str) -> st.SearchStrategy[str]:
    """A contiguous run of ``units`` in order, each with a number: "1Y2M", "3M4D", ..."""
    runs = [units[i:j] for i in range(len(units)) for j in range(i + 1, len(units) + 1)]
    return st.sampled_from(runs).flatmap(
        lambda run: st.lists(st.sampled_from(["0", "1", "25", "007"]), min_size=len(run), max_size=len(run)).map(
            lambda ns: "".join(n + u for n, u in zip(ns, run))
        )
    )


valid_durations = st.one_of(
    st.builds(lambda d, t: f"P{d}{t}", _ordered("YMD"), st.one_of(st.just(""), _ordered("HMS").map("T".__add__))),
    _ordered("HMS").map("PT".__add__),
    st.sampled_from(["P1W", "P52W"]),
)
durations = st.one_of(valid_durations, st.builds(
    lambda d, t: "P" + d + t,
    st.lists(st.tuples(st.sampled_from(["1", "0", "12", "007"]), st.sampled_from("YMWD")), max_size=3).map(
        lambda xs: "".join(n + u for n, u in xs)
    ),
    st.one_of(
        st.just(""),
        st.lists(st.tuples(st.sampled_from(["1", "30", "0"]), st.sampled_from("HMS")), max_size=3).map(
            lambda xs: "T" + "".join(n + u for n, u in xs)
        ),
    ),
))


@SETTINGS
@given(edited(durations, "PTYMWDHS019.,-"))
def test_duration_agrees_with_reference(s: str) -> None:
    assert matches(format_language("duration"), s) == reference_duration(s), s


# --- addresses and names ---------------------------------------------------------------------

ipv4s = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.builds(lambda *xs: ".".join(xs), *[st.sampled_from(["0", "00", "1", "09", "255", "256", "199", "249"])] * 4),
)
ipv6s = st.one_of(
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.builds(lambda a, b: f"{a}:{b}", st.ip_addresses(v=6).map(lambda a: str(a).rsplit(":", 2)[0]), ipv4s),
    st.sampled_from(["::", "::1", "1::", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4"]),
)


@SETTINGS
@given(edited(ipv4s, "0123456789.a "))
def test_ipv4_agrees_with_jsonschema(s: str) -> None:
    assert matches(format_language("ipv4"), s) == CHECKER.conforms(s, "ipv4"), s


@SETTINGS
@given(edited(ipv6s, "0123456789abcdefABCDEFg:.%"))
def test_ipv6_agrees_with_jsonschema(s: str) -> None:
    assert matches(format_language("ipv6"), s) == CHECKER.conforms(s, "ipv6"), s


@SETTINGS
@given(edited(st.uuids().map(str).flatmap(lambda u: st.sampled_from([u, u.upper()])), "0123456789abcdefABCDEFg-"))
def test_uuid_agrees_with_jsonschema(s: str) -> None:
    # the checker drops every dash before parsing, so it lets extra dashes through
    expected = CHECKER.conforms(s, "uuid") and s.count("-") == 4
    assert matches(format_language("uuid"), s) == expected, s


def reference_hostname(s: str) -> bool:
    if not 1 <= len(s) <= 253:
        return False
    for label in s.split("."):
        if not re.fullmatch(r"[A-Za-z0-9-]{1,63}", label) or label[0] == "-" or label[-1] == "-":
            return False
        if label[2:4] == "--":
            return False
    return True


labels = st.one_of(
    st.sampled_from(["a", "example", "com", "x1", "a-b", "a--b", "xn--abc", "ab--c", "1", "0-0"]),
    st.text("ab-", min_size=1, max_size=6),
    st.integers(60, 66).map(lambda n: "a" * n),
)
hostnames = st.lists(labels, min_size=1, max_size=6).map(".".join)
long_hostnames = st.integers(245, 260).map(lambda n: ".".join(["a" * 49] * 5)[:n].strip("."))


@SETTINGS
@given(edited(st.one_of(hostnames, long_hostnames), "ab9-._"))
def test_hostname_agrees_with_reference(s: str) -> None:
    assert matches(format_language("hostname"), s) == reference_hostname(s), s


def test_hostname_lengths() -> None:
    node = format_language("hostname")
    assert matches(node, "a" * 63 + ".com") and not matches(node, "a" * 64 + ".com")
    name = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters
    assert len(name) == 253 and matches(node, name)
    assert not matches(node, name + "b")


def reference_email(s: str) -> bool:
    if "@" not in s or len(s) > 254:
        return False
    local, domain = s[: s.rindex("@")], s[s.rindex("@") + 1 :]
    atext = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
    dot_atom = rf"{atext}+(?:\.{atext}+)*"
    quoted = r'"(?:[ !#-\[\]-~]|\\[ -~])*"'
    if len(local) > 64 or not re.fullmatch(f"{dot_atom}|{quoted}", local):
        return False
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        if literal[:5].lower() == "ipv6:":
            return CHECKER.conforms(literal[5:], "ipv6")
        return CHECKER.conforms(literal, "ipv4")
    return reference_hostname(domain)


emails = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.sampled_from(['joe', 'j.o.e', '"a b"', '"a\\"b"', "x+tag", "~", "a" * 64, '"@"', "a..b", ".a"]),
    st.one_of(hostnames, st.sampled_from(["[127.0.0.1]", "[IPv6:::1]", "[ipv6:1::2]", "[1.2.3]"])),
)


@SETTINGS
@given(edited(emails, 'a.@"\\ []:-'))
def test_email_agrees_with_reference(s: str) -> None:
    assert matches(format_language("email"), s) == reference_email(s), s


# --- explicit examples -----------------------------------------------------------------------

EXAMPLES = {
    "date-time": (
        ["2024-02-29T00:00:00Z", "1999-12-31t23:59:60.000z", "2000-01-01T00:59:60+01:00", "0001-01-01T00:00:00-23:59"],
        ["2023-02-29T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00.Z",
         "2024-01-01T12:00:60Z", "2024-01-01T00:00:00+0100"],
    ),
    "time": (
        ["00:00:00Z", "23:59:59.999999999999+23:59", "12:00:00-00:00", "00:59:60+01:00"],
        ["00:00:00", "24:00:00Z", "12:00:00+24:00", "12:00Z", "12:00:00.+01:00", "00:59:60+00:59"],
    ),
    "date": (["2000-02-29", "1600-02-29", "2023-12-31"], ["1900-02-29", "2023-11-31", "2023-1-01", "20230101"]),
    "duration": (
        ["P1Y", "P0D", "PT0S", "P1Y2M3DT4H5M6S", "P12W", "PT1M1S", "P1MT1M"],
        ["P", "PT", "P1W1D", "P1WT1H", "PT1H1S", "P1.5D", "p1d", "P1d", "P1Y1D"],
    ),
    "email": (
        ["a@b", "a.b@c.d", '"a b"@c', '"a\\"b"@c.com', "x@[10.0.0.1]", "x@[IPv6:2001:db8::1]", "a" * 64 + "@b.c"],
        ["a", "@b", "a@", "a@b@c", "a..b@c", "a.@c", "a@-b", "a@b.", "a@[10.0.0.256]", "a" * 65 + "@b.c",
         "a@" + ".".join(["b" * 63] * 4), "a b@c", '"a"b@c'],
    ),
    "hostname": (
        ["a", "a-b", "a--b", "1.2.3.4", "A.B.C", "ab-c--d"],
        ["", ".", "a.", ".a", "-a", "a-", "a_b", "a..b", "xn--ab", "ab--cd", "a b"],
    ),
    "ipv4": (["0.0.0.0", "255.255.255.255", "10.0.0.1"], ["256.0.0.1", "01.0.0.1", "1.2.3", "1.2.3.4.", "1.2.3.-1"]),
    "ipv6": (
        ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::ffff:1.2.3.4", "FFFF::abcd", "0000::"],
        [":::", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "12345::", "::1.2.3.04", "1.2.3.4::"],
    ),
    "uri": (
        ["a:", "a:b", "http://x", "http://[::1]:80/p?q#f", "http://[v1.x:y]/", "file:///etc/hosts",
         "urn:isbn:0451450523", "http://u:p@h:8080/a%2Fb?x=1&y=%20#frag/?", "HTTP://EXAMPLE.COM",
         "x+y-z.w:", "http://%41/"],
        ["", ":", "1a:b", "a", "/a", "//a", "a b:c", "http://[::1", "http://a:b:c/", "http://x/%zz",
         "http://x/a b", "http://x#a#b", "http://[1.2.3.4]/", "http://x/é"],
    ),
    "uuid": (
        ["00000000-0000-0000-0000-000000000000", "FFFFFFFF-ffff-AAAA-bbbb-0123456789ab"],
        ["00000000-0000-0000-0000-00000000000", "{00000000-0000-0000-0000-000000000000}",
         "00000000000000000000000000000000", "g0000000-0000-0000-0000-000000000000"],
    ),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples(name: str) -> None:
    valid, invalid = EXAMPLES[name]
    node = format_language(name)
    for text in valid:
        assert matches(node, text), (name, text)
    for text in invalid:
        assert not matches(node, text), (name, text)


def test_ipv6_embedded_ipv4_only_at_the_end() -> None:
    node = format_language("ipv6")
    assert matches(node, "1:2:3:4:5:6:1.2.3.4")
    assert not matches(node, "1:2:3:4:5:1.2.3.4:6")
    assert not matches(node, "1:2:3:4:5:6:7:1.2.3.4")
    assert ipaddress.IPv6Address("1::1.2.3.4") and matches(node, "1::1.2.3.4")
