"""Tests of the number languages (enforcer.schema.numbers).

Membership is checked with the IR oracle (tests/ir_oracle.py) against exact arithmetic: a text
belongs to the language iff it is JSON number syntax, ``json.loads`` with ``Decimal`` gives a value
in range, and it respects the digit limits the module documents.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from enforcer.errors import OptionError, SchemaError, UnsupportedSchemaError
from enforcer.grammar.ir import Intersect, Never
from enforcer.schema.numbers import (decimal_step, json_decimal_multiple_of, json_integer, json_integer_multiple_of,
                                     json_number)
from tests.ir_oracle import matches, node_count

JSON_NUMBER = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE][+-]?([0-9]+))?")
JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decimal_value(text: str) -> Decimal:
    value = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    assert isinstance(value, Decimal)
    return value


def mutations(text: str) -> list[str]:
    """Spellings around ``text`` that are invalid or mean another value."""
    body = text.lstrip("-")
    sign = text[: len(text) - len(body)]
    out = [
        "0" + text,  # leading zero (invalid, or "-0..." -> "0-..." invalid)
        sign + "0" + body,  # leading zero after the sign
        "+" + body,
        text + ".",
        text + "e0",
        text + "E+1",
        "." + body,
        text + " ",
        "-" + text,
    ]
    if "." in text:
        out += [text + "0", text + "00", text.rstrip("0").rstrip(".")]
    else:
        out += [text + ".0", text + ".000"]
    return out


# --- integers --------------------------------------------------------------------------------


def expected_integer(text: str, lo: int | None, hi: int | None, max_digits: int) -> bool:
    if not JSON_INTEGER.fullmatch(text):
        return False
    v = int(text)
    digits = max([max_digits] + [len(str(abs(b))) for b in (lo, hi) if b is not None])
    limit = 10**digits - 1
    return (v >= lo if lo is not None else v >= -limit) and (v <= hi if hi is not None else v <= limit)


def integer_candidates(draw: st.DrawFn, lo: int | None, hi: int | None) -> list[int]:
    anchors = [0, 1, -1] + [b for b in (lo, hi) if b is not None]
    values = [a + d for a in anchors for d in (-11, -10, -1, 0, 1, 9, 10)]
    values += draw(st.lists(st.integers(-(10**7), 10**7), max_size=10))
    if lo is not None and hi is not None and lo <= hi:
        values += draw(st.lists(st.integers(lo, hi), max_size=10))
    return values


bound_int = st.one_of(st.none(), st.integers(-(10**6), 10**6), st.integers(-120, 120))


@FAST
@given(lo=bound_int, hi=bound_int, max_digits=st.integers(1, 5), data=st.data())
@example(lo=None, hi=None, max_digits=2, data=None)
@example(lo=0, hi=0, max_digits=1, data=None)
@example(lo=-5, hi=-5, max_digits=1, data=None)
@example(lo=7, hi=3, max_digits=3, data=None)
@example(lo=10**8, hi=None, max_digits=2, data=None)
@example(lo=None, hi=-(10**8), max_digits=2, data=None)
def test_integer_range(lo, hi, max_digits, data) -> None:
    node = json_integer(lo, hi, max_digits=max_digits)
    if data is None:
        values = [v + d for v in (0, 5, 7, 99, 10**8) for d in (-1, 0, 1)]
        values += [-v for v in values] + [10**max_digits, 10**max_digits - 1]
    else:
        values = integer_candidates(data.draw, lo, hi)
    texts = {str(v) for v in values} | {"-0", "00", "-00", "01", "-01", "+1", "1.0", "1e1", ""}
    texts |= {m for v in values[:8] for m in mutations(str(v))}
    for text in texts:
        assert matches(node, text) == expected_integer(text, lo, hi, max_digits), (lo, hi, text)


def test_integer_zero_and_leading_zeros() -> None:
    assert matches(json_integer(0, 5), "-0")
    assert matches(json_integer(-5, 0), "-0")
    assert not matches(json_integer(1, 5), "-0")
    assert not matches(json_integer(-5, -1), "-0")
    assert not matches(json_integer(-5, -1), "0")
    for text in ("00", "01", "-01", "007", "-0007"):
        assert not matches(json_integer(), text)


def test_integer_empty_range_is_never() -> None:
    assert isinstance(json_integer(5, 4), Never)
    assert isinstance(json_integer_multiple_of(7, 1, 6), Never)
    assert isinstance(json_number(2, 1), Never)
    assert isinstance(json_number(exclusive_minimum=1, maximum=1), Never)
    assert isinstance(json_number(minimum=1, exclusive_maximum=1), Never)


def test_unbounded_side_is_limited() -> None:
    node = json_integer(max_digits=3)
    assert matches(node, "999") and matches(node, "-999")
    assert not matches(node, "1000") and not matches(node, "-1000")
    # a bound with more digits widens the limit so the range is never emptied
    wide = json_integer(10**5, None, max_digits=3)
    assert matches(wide, "100000") and matches(wide, "999999") and not matches(wide, "1000000")
    assert matches(json_integer(None, 10**30), str(10**30))


def test_integer_size_is_polynomial_in_digits() -> None:
    for digits in (5, 20, 40):
        lo, hi = -int("7" * digits) + 3, int("31" * (digits // 2)) - 5
        node = json_integer(lo, hi)
        assert node_count(node) < 12 * digits * digits
        for v in (lo, hi, lo - 1, hi + 1, 0, (lo + hi) // 2):
            assert matches(node, str(v)) == (lo <= v <= hi)


def test_memoised() -> None:
    assert json_integer(3, 999) is json_integer(3, 999)
    assert json_number(minimum=1.5) is json_number(minimum=1.5)


def test_bad_arguments() -> None:
    with pytest.raises(OptionError):
        json_integer(1.5, 3)  # type: ignore[arg-type]
    with pytest.raises(OptionError):
        json_integer(max_digits=0)
    with pytest.raises(SchemaError):
        json_number(minimum=float("inf"))


# --- numbers ---------------------------------------------------------------------------------

D = 3  # integer digits on an unbounded side
F = 3  # fraction digits
E = 2  # exponent digits


def expected_number(text: str, bounds: dict, max_int: int = D, max_frac: int = F) -> bool:
    m = JSON_NUMBER.fullmatch(text)
    if not m:
        return False
    _, int_part, frac, exp = m.groups()
    if frac is not None and len(frac) > max_frac:
        return False
    given_bounds = {k: Decimal(str(v)) for k, v in bounds.items() if v is not None}
    if exp is not None and (given_bounds or len(exp) > E):
        return False
    v = decimal_value(text)
    checks = {
        "minimum": lambda b: v >= b,
        "maximum": lambda b: v <= b,
        "exclusive_minimum": lambda b: v > b,
        "exclusive_maximum": lambda b: v < b,
    }
    if not all(checks[k](b) for k, b in given_bounds.items()):
        return False
    digits = max([max_int] + [len(str(int(abs(b)))) for b in given_bounds.values()])
    lower = any(k in given_bounds for k in ("minimum", "exclusive_minimum"))
    upper = any(k in given_bounds for k in ("maximum", "exclusive_maximum"))
    unbounded_side = (v > 0 and not upper) or (v < 0 and not lower)
    return not (unbounded_side and len(int_part) > digits)


def spell(v: Decimal) -> list[str]:
    """Plain decimal spellings of ``v`` (with and without trailing zeros, -0 forms)."""
    text = format(v, "f")
    out = [text]
    if "." in text:
        out += [text.rstrip("0").rstrip("."), text + "0"]
    else:
        out += [text + ".0", text + ".00"]
    if v == 0:
        out += ["-0", "-0.0", "0.000"]
    return out


decimal_bound = st.decimals(min_value=-200, max_value=200, places=2, allow_nan=False, allow_infinity=False)
any_bound = st.one_of(
    st.none(),
    st.integers(-150, 150),
    decimal_bound,
    st.floats(-150, 150, allow_nan=False).map(lambda x: round(x, 3)),
    st.sampled_from([0, 0.5, -0.5, 1.25, Decimal("0.001"), Decimal("-0.010"), 99.999, -100]),
)


@FAST
@given(
    mn=any_bound,
    mx=any_bound,
    xmn=st.one_of(st.none(), any_bound),
    xmx=st.one_of(st.none(), any_bound),
    data=st.data(),
)
@example(mn=None, mx=None, xmn=1.5, xmx=None, data=None)
@example(mn=0, mx=0, xmn=None, xmx=None, data=None)
@example(mn=None, mx=None, xmn=0, xmx=None, data=None)
@example(mn=None, mx=None, xmn=None, xmx=0, data=None)
@example(mn=-1.25, mx=1.25, xmn=None, xmx=None, data=None)
@example(mn=Decimal("0.12"), mx=Decimal("0.125"), xmn=None, xmx=None, data=None)
@example(mn=None, mx=None, xmn=Decimal("-2.5"), xmx=Decimal("-2.25"), data=None)
@example(mn=None, mx=None, xmn=None, xmx=None, data=None)
def test_number_interval(mn, mx, xmn, xmx, data) -> None:
    bounds = {"minimum": mn, "maximum": mx, "exclusive_minimum": xmn, "exclusive_maximum": xmx}
    node = json_number(
        mn, mx, exclusive_minimum=xmn, exclusive_maximum=xmx,
        max_integer_digits=D, max_fraction_digits=F, max_exponent_digits=E,
    )  # fmt: skip
    anchors = [Decimal(0)] + [Decimal(str(b)) for b in bounds.values() if b is not None]
    deltas = [Decimal(d) for d in ("0", "0.001", "-0.001", "0.01", "-0.01", "0.5", "-0.5", "1", "-1")]
    values = {a + d for a in anchors for d in deltas}
    values |= {((a + b) / 2).quantize(Decimal("0.001")) for a in anchors for b in anchors if a < b}
    if data is not None:
        values |= set(data.draw(st.lists(decimal_bound, max_size=8)))
        values |= {Decimal(str(x)) for x in data.draw(st.lists(st.integers(-2000, 2000), max_size=4))}
    texts = {t for v in values for t in spell(v)}
    texts |= {m for t in list(texts)[:10] for m in mutations(t)}
    texts |= {"1e2", "-1E-2", "0e0", "1.5e+10", "1e100", "0.0001", "-0.0001", "1000", "-1000"}
    for text in texts:
        assert matches(node, text) == expected_number(text, bounds), (bounds, text)


def test_exclusive_bounds_are_exact() -> None:
    node = json_number(exclusive_minimum=1.5, maximum=2)
    assert not matches(node, "1.5")
    assert not matches(node, "1.50")
    assert not matches(node, "1.500000")
    assert matches(node, "1.5000001")
    assert matches(node, "1.51") and matches(node, "2") and matches(node, "2.0000")
    assert not matches(node, "2.0000001")
    below = json_number(exclusive_maximum=0)
    assert matches(below, "-0.0000000000000001")
    assert not matches(below, "0") and not matches(below, "-0") and not matches(below, "-0.000")


def test_bounded_number_has_no_exponent() -> None:
    node = json_number(minimum=0, maximum=1000)
    assert matches(node, "100") and not matches(node, "1e2") and not matches(node, "1E2")
    free = json_number()
    assert matches(free, "1e2") and matches(free, "-1.5E-007") and matches(free, "0e+0")
    assert not matches(json_number(allow_exponent=False), "1e2")


def test_number_digit_limits() -> None:
    node = json_number(max_integer_digits=2, max_fraction_digits=2)
    assert matches(node, "99.99") and matches(node, "-99.99")
    assert not matches(node, "100") and not matches(node, "1.001")
    assert not matches(json_number(max_fraction_digits=0), "1.0")
    # a bound needing more fraction digits than allowed: only nearby values that fit
    tight = json_number(exclusive_minimum=Decimal("0.12345"), max_fraction_digits=3)
    assert matches(tight, "0.124") and not matches(tight, "0.123") and not matches(tight, "0.12345")


def test_float_bounds_read_as_printed() -> None:
    node = json_number(minimum=0.1, maximum=0.3)
    assert matches(node, "0.1") and matches(node, "0.3")
    assert not matches(node, "0.30000000000000004")
    big = json_number(minimum=1e20)
    assert matches(big, "100000000000000000000") and not matches(big, "99999999999999999999.9")


def test_number_size_stays_small() -> None:
    node = json_number(minimum=Decimal("-123456789.123456"), exclusive_maximum=Decimal("987654321.5"))
    assert node_count(node) < 2000
    assert matches(node, "-123456789.123456") and not matches(node, "-123456789.1234561")
    assert matches(node, "987654321.4999999") and not matches(node, "987654321.5")


# --- multipleOf ------------------------------------------------------------------------------


def expected_multiple(text: str, k: int, lo: int | None, hi: int | None, max_digits: int) -> bool:
    return expected_integer(text, lo, hi, max_digits) and int(text) % k == 0


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    k=st.one_of(st.integers(2, 40), st.sampled_from([64, 99, 100, 125, 250, 360, 1000, 4096, 9973])),
    lo=st.one_of(st.none(), st.integers(-(10**5), 10**5)),
    hi=st.one_of(st.none(), st.integers(-(10**5), 10**5)),
    data=st.data(),
)
def test_multiple_of(k, lo, hi, data) -> None:
    max_digits = 4
    node = json_integer_multiple_of(k, lo, hi, max_digits)
    anchors = [0] + [b for b in (lo, hi) if b is not None]
    values = [a + d for a in anchors for d in (-k - 1, -k, -1, 0, 1, k, k + 1)]
    values += [v * k for v in data.draw(st.lists(st.integers(-(10**4), 10**4), max_size=8))]
    values += data.draw(st.lists(st.integers(-(10**6), 10**6), max_size=6))
    texts = {str(v) for v in values} | {"-0", "00", "0" + str(k), "-0" + str(k)}
    for text in texts:
        assert matches(node, text) == expected_multiple(text, k, lo, hi, max_digits), (k, lo, hi, text)


def test_multiple_of_structure() -> None:
    # few multiples in range: spelled out, no intersection
    assert not isinstance(json_integer_multiple_of(7, 0, 100), Intersect)
    # many in a range: the range intersected with the remainder automaton
    assert isinstance(json_integer_multiple_of(7, 0, 10**9), Intersect)
    # no range: the remainder automaton alone, a node the engine expands as it goes
    assert node_count(json_integer_multiple_of(9973)) < 10
    # round numbers are decided by their last digits, whatever their size
    million = json_integer_multiple_of(10**6)
    assert node_count(million) < 100
    assert matches(million, "-3000000") and not matches(million, "3000001") and matches(million, "0")
    assert json_integer_multiple_of(1, 2, 9) is json_integer(2, 9)
    node = json_integer_multiple_of(37)
    for v in (37 * 12345678901234, 37 * 12345678901234 + 1, -37 * 10**16):
        assert matches(node, str(v)) == (v % 37 == 0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    step=st.sampled_from(["0.25", "0.5", "0.03", "0.75", "1.5", "0.125", "2.5", "0.07", "0.001", "12.5", "0.36"]),
    data=st.data(),
)
def test_decimal_multiple_of(step, data) -> None:
    """Plain decimal texts (no exponent) against exact arithmetic: multiples of the step near
    zero and far from it, with trailing zeros, their neighbours, and random decimals."""
    a, d = decimal_step(Decimal(step))
    node = json_decimal_multiple_of(a, d, 6, 5)
    unit = Decimal(step)
    multiples = [unit * v for v in data.draw(st.lists(st.integers(-(10**5), 10**5), min_size=3, max_size=8))]
    texts = set()
    for m in multiples:
        text = format(m, "f")
        texts |= {text, text + ("0" if "." in text else ".0"), format(m + Decimal("0.01"), "f"),
                  format(m + Decimal(1) / 10**(d + 1), "f")}
    for _ in range(6):
        whole = data.draw(st.integers(-(10**6), 10**6))
        fraction = data.draw(st.text("0123456789", min_size=0, max_size=5))
        texts.add(f"{whole}.{fraction}" if fraction else str(whole))
    for text in texts:
        match = JSON_NUMBER.fullmatch(text)
        body = text.lstrip("-").split(".")
        expected = (match is not None and len(body[0]) <= 6 and (len(body) == 1 or len(body[1]) <= 5)
                    and decimal_value(text) % unit == 0)
        got = matches(node, text)  # not in the assert: a failure would print the whole node
        assert got == expected, (step, text)


def test_decimal_multiple_of_structure() -> None:
    # where 10**d shares factors with the numerator the integer digits drop out of the state:
    # 0.25 (25/100) keeps one state per position, not 25
    quarter, third = json_decimal_multiple_of(25, 2), json_decimal_multiple_of(3, 2)
    sizes = node_count(quarter), node_count(third)  # not in the assert: a failure would print the nodes
    assert sizes[0] * 4 < sizes[1], sizes
    verdicts = [matches(quarter, "123456789.75"), matches(quarter, "123456789.7"),
                matches(third, "-1234567.89"), matches(third, "1234567.88")]
    assert verdicts == [True, False, True, False]


def test_multiple_of_limits() -> None:
    with pytest.raises(UnsupportedSchemaError) as info:
        json_integer_multiple_of(10_007)
    assert info.value.keyword == "multipleOf"
    # a large k is fine when the range holds few multiples, or when k is round
    assert matches(json_integer_multiple_of(10_007, 0, 10**6), "20014")
    assert matches(json_integer_multiple_of(2 * 10**7), "-40000000")
    for bad in (0, -3):
        with pytest.raises(SchemaError) as info:
            json_integer_multiple_of(bad)
        assert info.value.keyword == "multipleOf"
