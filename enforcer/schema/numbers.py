"""JSON number texts as grammar IR: integer ranges, decimal intervals and ``multipleOf``.

A JSON Schema bounds a number's *value* (``minimum: 1.25``), but a generator emits *text*, one
token at a time. To enforce a bound exactly the grammar must be the set of number texts whose value
lies in the interval, so a model is never steered into a prefix that can only end out of range
(``1.2`` with ``minimum: 1.25`` must still allow ``1.29``; ``1.2`` followed by the end must not).
Numeric ranges over decimal text are regular; this module builds them with the classic digit-range
decomposition used by regex range generators: a range of numbers with the same number of digits is
"common prefix, then one digit strictly between the bounds followed by any digits, or the low
digit followed by a suffix >= the low suffix, or the high digit followed by a suffix <= the high
suffix". That makes the IR size O(digits) per length and O(digits^2) at most, never O(range).

Choices, all deliberate:

* **Bounded digits.** A side without a bound is limited to ``max_digits`` integer digits (the
  fraction to ``max_fraction_digits``, the exponent to ``max_exponent_digits``), so a model cannot
  ramble digits forever. If the other side's bound has more digits than that, the limit grows to
  its digit count, so a satisfiable range never becomes empty. A bounded side is exact: its bound
  decides how many digits are possible.
* **Exact comparison.** Bounds may be ``int``, ``float`` or :class:`decimal.Decimal`; a float is
  read as the decimal it prints as (``Decimal(str(x))``), and every comparison is exact decimal
  arithmetic. ``exclusiveMinimum: 1.5`` admits ``1.5000001`` but not ``1.5`` nor ``1.50``.
  (A validator comparing binary floats may disagree at the 17th significant digit; the decimal
  reading is what the schema author wrote.)
* **Plain notation when bounded.** A number bounded on either side is written in plain decimal
  notation, without an exponent (``1e2`` is rejected even when 100 is in range): with an exponent
  the value of a prefix is unknown until the text ends, and the bounded-digit rule could not cap
  it. Unbounded numbers may use an exponent (``allow_exponent``).
* **Zero.** ``-0`` (and ``-0.0``) is valid JSON and equals 0; it is accepted exactly when 0 is in
  range. Fractions may have trailing zeros (``1.50`` equals ``1.5``); integer parts never have
  leading zeros, as JSON requires.
* ``multipleOf`` on integers is a remainder automaton over decimal digits (``k`` states), unrolled
  over the digit positions so it stays a plain regular node that can be intersected with the range.

Everything is pure and memoised on its (hashable) arguments; nodes are shared freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Callable, Union

from ..errors import OptionError, SchemaError, UnsupportedSchemaError
from ..grammar.ir import (
    EMPTY,
    NEVER,
    Alt,
    Divisible,
    Intersect,
    Node,
    alt,
    char_class,
    literal,
    optional,
    repeat,
    seq,
)

__all__ = ["NumberFormat", "json_integer", "json_number", "json_integer_multiple_of", "json_decimal_multiple_of",
           "json_fractional", "plain_spellings", "decimal_step", "enumerate_multiples", "MAX_MULTIPLE_OF"]

Bound = Union[int, float, Decimal]

MAX_MULTIPLE_OF = 10_000
"""The largest prime power of ``multipleOf`` run as a remainder automaton (up to ``m`` states,
each built when generation first reaches it); see :func:`json_integer_multiple_of`."""

_ENUMERATE_LIMIT = 256  # ranges holding at most this many multiples are spelled out instead

@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written (the ``compile_json_schema`` options of the same names).

    ``max_integer_digits``/``max_fraction_digits``/``max_exponent_digits``: the bounds on the
    digits of a number a bound does not limit (see the module docstring: a model must not be
    able to ramble digits). ``canonical_integers``: ``"type": "integer"`` values are written
    without a zero fraction (``1.0``) and never as ``-0``, as most serialisers write them (JSON
    Schema calls ``1.0`` an integer, so by default it is allowed).
    """

    max_integer_digits: int = 19
    max_fraction_digits: int = 16
    max_exponent_digits: int = 3
    canonical_integers: bool = False

    def __post_init__(self) -> None:
        from ..errors import OptionError

        for name, least in (("max_integer_digits", 1), ("max_fraction_digits", 0), ("max_exponent_digits", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= 1000:
                raise OptionError(f"{name} must be an integer from {least} to 1000, got {value!r}")
        if not isinstance(self.canonical_integers, bool):
            raise OptionError(f"canonical_integers must be a boolean, got {self.canonical_integers!r}")

    @property
    def zero_fraction(self) -> Node:
        """What may follow an integer's digits: nothing, or (unless canonical) ``.0``, ``.00``..."""
        if self.canonical_integers or self.max_fraction_digits == 0:
            return EMPTY
        return optional(seq(_DOT, repeat(literal("0"), 1, self.max_fraction_digits)))


DIGIT = char_class([(0x30, 0x39)])
_MINUS = literal("-")
_DOT = literal(".")


def _digit(lo: int, hi: int) -> Node:
    return char_class([(0x30 + lo, 0x30 + hi)]) if lo <= hi else NEVER


def _digits(n_min: int, n_max: int | None) -> Node:
    return repeat(DIGIT, n_min, n_max)


# --- integer ranges --------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _fixed_range(a: str, b: str) -> Node:
    """Digit strings of length ``len(a) == len(b)`` between ``a`` and ``b`` (leading zeros count)."""
    assert len(a) == len(b) and a <= b
    if a == b:
        return literal(a)
    i = next(j for j in range(len(a)) if a[j] != b[j])
    prefix, a0, b0, ra, rb = a[:i], int(a[i]), int(b[i]), a[i + 1 :], b[i + 1 :]
    n = len(ra)
    parts: list[Node] = []
    first, last = a0, b0
    if ra != "0" * n:  # the low digit needs a suffix >= ra
        parts.append(seq(literal(str(a0)), _fixed_range(ra, "9" * n)))
        first = a0 + 1
    high: Node = NEVER
    if rb != "9" * n:  # the high digit needs a suffix <= rb
        high = seq(literal(str(b0)), _fixed_range("0" * n, rb))
        last = b0 - 1
    parts.append(seq(_digit(first, last), _digits(n, n)))
    parts.append(high)
    return seq(literal(prefix), alt(*parts))


@lru_cache(maxsize=4096)
def _uint_range(a: int, b: int) -> Node:
    """Non-negative integers ``a..b`` written without leading zeros."""
    parts: list[Node] = []
    if a == 0 and b >= 0:
        parts.append(literal("0"))
        a = 1
    if a <= b:
        sa, sb = str(a), str(b)
        if len(sa) == len(sb):
            parts.append(_fixed_range(sa, sb))
        else:
            parts.append(_fixed_range(sa, "9" * len(sa)))
            if len(sb) - len(sa) >= 2:  # every length in between, in one node
                parts.append(seq(_digit(1, 9), _digits(len(sa), len(sb) - 2)))
            parts.append(_fixed_range("1" + "0" * (len(sb) - 1), sb))
    return alt(*parts)


def _check_digits(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _int_value(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"{name} must be an int or None, got {value!r}")
    return value


def _int_bounds(minimum: int | None, maximum: int | None, max_digits: int) -> tuple[int, int]:
    """The bounds with an unbounded side replaced by the digit limit (see the module docstring)."""
    digits = max([max_digits] + [len(str(abs(v))) for v in (minimum, maximum) if v is not None])
    limit = 10**digits - 1
    return (-limit if minimum is None else minimum), (limit if maximum is None else maximum)


@lru_cache(maxsize=1024)
def json_integer(minimum: int | None = None, maximum: int | None = None, *, max_digits: int = 19,
                 negative_zero: bool = True) -> Node:
    """Exactly the JSON integer texts (``-?(0|[1-9][0-9]*)``) whose value is in ``[minimum, maximum]``.

    A missing bound is replaced by the largest magnitude with ``max_digits`` digits (or with as
    many digits as the other bound, if that is more), so an unbounded integer cannot ramble on.
    ``-0`` is accepted exactly when 0 is in range (and ``negative_zero``). An empty range gives
    ``Never``.
    """
    _int_value("minimum", minimum)
    _int_value("maximum", maximum)
    _check_digits("max_digits", max_digits, 1)
    lo, hi = _int_bounds(minimum, maximum, max_digits)
    if lo > hi:
        return NEVER
    parts: list[Node] = []
    if hi >= 0:
        parts.append(_uint_range(max(lo, 0), hi))
    if lo <= 0:  # "-" then magnitudes; includes "-0" when 0 is in range
        parts.append(seq(_MINUS, _uint_range(max(-hi, 0 if negative_zero else 1), -lo)))
    return alt(*parts)


# --- decimal intervals -----------------------------------------------------------------------

_Bound = tuple[Decimal, bool]  # (value, exclusive)


def _to_decimal(name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise OptionError(f"{name} must be an int, float, Decimal or None, got {value!r}")
    d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not d.is_finite():
        raise SchemaError(f"{name} must be a finite number, got {value!r}", keyword=name)
    return d


def _split(d: Decimal) -> tuple[int, str]:
    """``|d|`` as (integer part, fraction digits without trailing zeros), exactly."""
    _, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    text = "".join(map(str, digits))
    if exp >= 0:
        return int(text) * 10**exp, ""
    k = -exp
    text = text.rjust(k + 1, "0")
    return int(text[:-k]), text[-k:].rstrip("0")


def _tighter(a: _Bound | None, b: _Bound | None, *, lower: bool) -> _Bound | None:
    """The tighter of two lower (or upper) bounds; on a tie the exclusive one."""
    if a is None or b is None:
        return a if b is None else b
    if a[0] == b[0]:
        return (a[0], a[1] or b[1])
    return (max if lower else min)(a, b, key=lambda x: x[0])


@lru_cache(maxsize=8192)
def _fraction(lo: str | None, lo_x: bool, hi: str | None, hi_x: bool, room: int, nonempty: bool) -> Node:
    """Digit strings ``x`` of length ``(1 if nonempty else 0)..room`` with ``0.lo <(=) 0.x <(=) 0.hi``.

    ``lo``/``hi`` are fraction digits without trailing zeros (``""`` is zero), ``None`` for no
    bound; ``lo_x``/``hi_x`` make the bound exclusive. Comparison pads with zeros, so it is the
    exact comparison of the decimal values.
    """
    if lo == "" and not lo_x:
        lo = None  # x >= 0 always holds
    if lo is None:
        lo_x = False
    if hi is None:
        hi_x = False
    if hi == "" and hi_x:
        return NEVER  # x < 0
    parts: list[Node] = []
    if not nonempty and lo is None:  # the empty string is 0; 0 <= hi, and 0 < hi unless hi == 0
        parts.append(EMPTY)
    if lo is None and hi is None:
        return _digits(1 if nonempty else 0, room)
    lo0 = int(lo[0]) if lo else 0
    hi0 = int(hi[0]) if hi else (0 if hi == "" else 9)
    if room == 0 or (lo is not None and hi is not None and lo0 > hi0):
        return alt(*parts)
    free_from, free_to = 0, 9
    if lo is not None and hi is not None and lo0 == hi0:
        parts.append(seq(_digit(lo0, lo0), _fraction(lo[1:], lo_x, hi[1:], hi_x, room - 1, False)))
        free_from, free_to = 1, 0
    else:
        if lo is not None:
            parts.append(seq(_digit(lo0, lo0), _fraction(lo[1:], lo_x, None, False, room - 1, False)))
            free_from = lo0 + 1
        if hi is not None:
            parts.append(seq(_digit(hi0, hi0), _fraction(None, False, hi[1:], hi_x, room - 1, False)))
            free_to = hi0 - 1
    parts.append(seq(_digit(free_from, free_to), _digits(0, room - 1)))
    return alt(*parts)


def _fraction_suffix(lo: str | None, lo_x: bool, hi: str | None, hi_x: bool, room: int) -> Node:
    """What may follow the integer part: nothing, or ``.`` and 1..room digits, within the bounds."""
    parts: list[Node] = []
    empty_ok = (lo is None or (lo == "" and not lo_x)) and not (hi == "" and hi_x)
    if empty_ok:
        parts.append(EMPTY)
    parts.append(seq(_DOT, _fraction(lo, lo_x, hi, hi_x, room, True)))
    return alt(*parts)


def _magnitude(lower: _Bound, upper: _Bound | None, int_digits: int, frac_digits: int) -> Node:
    """Unsigned plain decimal texts whose value is within ``lower``..``upper`` (``lower >= 0``)."""
    lo, lo_x = lower
    li, lf = _split(lo)
    if upper is None:
        top = 10 ** max(int_digits, len(str(li))) - 1
        return alt(
            seq(literal(str(li)), _fraction_suffix(lf, lo_x, None, False, frac_digits)),
            seq(_uint_range(li + 1, top), _fraction_suffix(None, False, None, False, frac_digits)),
        )
    hi, hi_x = upper
    if hi < lo or (hi == lo and (lo_x or hi_x)):
        return NEVER
    ui, uf = _split(hi)
    if li == ui:
        return seq(literal(str(li)), _fraction_suffix(lf, lo_x, uf, hi_x, frac_digits))
    return alt(
        seq(literal(str(li)), _fraction_suffix(lf, lo_x, None, False, frac_digits)),
        seq(_uint_range(li + 1, ui - 1), _fraction_suffix(None, False, None, False, frac_digits)),
        seq(literal(str(ui)), _fraction_suffix(None, False, uf, hi_x, frac_digits)),
    )


def _negate(b: _Bound | None) -> _Bound | None:
    return None if b is None else (-b[0], b[1])


@lru_cache(maxsize=1024)
def _unbounded_number(int_digits: int, frac_digits: int, exp_digits: int) -> Node:
    integer = alt(literal("0"), seq(_digit(1, 9), _digits(0, int_digits - 1)))
    fraction = optional(seq(_DOT, _digits(1, frac_digits)))
    exponent: Node = EMPTY
    if exp_digits:
        sign = optional(char_class([(0x2B, 0x2B), (0x2D, 0x2D)]))
        exponent = optional(seq(char_class([(0x45, 0x45), (0x65, 0x65)]), sign, _digits(1, exp_digits)))
    return seq(optional(_MINUS), integer, fraction, exponent)


@lru_cache(maxsize=1024)
def json_number(
    minimum: Bound | None = None,
    maximum: Bound | None = None,
    *,
    exclusive_minimum: Bound | None = None,
    exclusive_maximum: Bound | None = None,
    max_integer_digits: int = 19,
    max_fraction_digits: int = 16,
    allow_exponent: bool = True,
    max_exponent_digits: int = 3,
) -> Node:
    """JSON number texts (``-?(0|[1-9]\\d*)(\\.\\d+)?([eE][+-]?\\d+)?``) whose value is in range.

    With no bound at all: any JSON number with at most ``max_integer_digits`` integer digits,
    ``max_fraction_digits`` fraction digits and (if ``allow_exponent``) an exponent of at most
    ``max_exponent_digits`` digits. With a bound on either side: plain decimal notation (no
    exponent), and exactly the texts with at most ``max_fraction_digits`` fraction digits whose
    value lies in the interval (an unbounded side limited to ``max_integer_digits`` integer digits,
    or to the other bound's digit count if larger). An empty interval gives ``Never``.
    """
    _check_digits("max_integer_digits", max_integer_digits, 1)
    _check_digits("max_fraction_digits", max_fraction_digits, 0)
    _check_digits("max_exponent_digits", max_exponent_digits, 1)
    lower: _Bound | None = None
    upper: _Bound | None = None
    for name, value, exclusive, is_lower in (
        ("minimum", minimum, False, True),
        ("exclusiveMinimum", exclusive_minimum, True, True),
        ("maximum", maximum, False, False),
        ("exclusiveMaximum", exclusive_maximum, True, False),
    ):
        if value is not None:
            bound = (_to_decimal(name, value), exclusive)
            if is_lower:
                lower = _tighter(lower, bound, lower=True)
            else:
                upper = _tighter(upper, bound, lower=False)
    if lower is None and upper is None:
        return _unbounded_number(
            max_integer_digits, max_fraction_digits, max_exponent_digits if allow_exponent else 0
        )
    if lower is not None and upper is not None:
        if lower[0] > upper[0] or (lower[0] == upper[0] and (lower[1] or upper[1])):
            return NEVER
    zero: _Bound = (Decimal(0), False)
    positive_lower = _tighter(zero, lower, lower=True)
    negative_lower = _tighter(zero, _negate(upper), lower=True)
    assert positive_lower is not None and negative_lower is not None
    digits = max(
        [max_integer_digits] + [len(str(_split(b[0])[0])) for b in (lower, upper) if b is not None]
    )
    return alt(
        _magnitude(positive_lower, upper, digits, max_fraction_digits),
        seq(_MINUS, _magnitude(negative_lower, _negate(lower), digits, max_fraction_digits)),
    )


# --- multipleOf ------------------------------------------------------------------------------


def _trie(words: list[str]) -> Node:
    """The alternatives of ``words`` sharing common prefixes (a digit trie)."""
    by_first: dict[str, list[str]] = {}
    ends = False
    for w in words:
        if w:
            by_first.setdefault(w[0], []).append(w[1:])
        else:
            ends = True
    items = ([EMPTY] if ends else []) + [seq(literal(c), _trie(rest)) for c, rest in by_first.items()]
    return items[0] if len(items) == 1 else (Alt(tuple(items)) if items else NEVER)


def _prime_powers(k: int) -> list[tuple[int, int]]:
    """``k`` as ``[(p, p**e), ...]`` over its prime factors."""
    out: list[tuple[int, int]] = []
    p = 2
    while p * p <= k:
        if k % p == 0:
            q = 1
            while k % p == 0:
                k //= p
                q *= p
            out.append((p, q))
        p += 1
    if k > 1:
        out.append((k, k))
    return out


def _suffix_divisible(q: int, width: int) -> Node | None:
    """Digit strings (no leading zeros, 1..width digits) divisible by ``q = 2**a * 5**b``, or
    ``None`` if that takes more than ``_ENUMERATE_LIMIT`` suffixes.

    ``10**c`` is a multiple of ``q`` for ``c = max(a, b)``, so divisibility is decided by the last
    ``c`` digits: short numbers are listed, longer ones are any digits then an allowed suffix.
    """
    c = 0
    while 10**c % q:
        c += 1
    count = 10**c // q
    if count > _ENUMERATE_LIMIT:
        return None
    short = _trie([w for w in (str(j * q) for j in range(count)) if len(w) <= width])
    if width <= c:
        return short
    suffixes = _trie([str(j * q).rjust(c, "0") for j in range(count)])
    return alt(short, seq(_digit(1, 9), _digits(0, width - 1 - c), suffixes))


@lru_cache(maxsize=256)
def json_integer_multiple_of(
    k: int, minimum: int | None = None, maximum: int | None = None, max_digits: int = 19,
    max_modulus: int = MAX_MULTIPLE_OF,
    negative_zero: bool = True,
) -> Node:
    """JSON integer texts in ``[minimum, maximum]`` (see :func:`json_integer`) divisible by ``k``.

    When the range holds few multiples they are spelled out (as a digit trie). Otherwise the node
    is ``Intersect(range, divisible by each prime power of k)``: the factor made of 2s and 5s is
    decided by the last digits (a short list of allowed endings), every other prime power ``m``
    by its remainder automaton (:class:`~enforcer.grammar.ir.Divisible`: ``m`` states at most,
    built by the engine as generation reaches them, nothing at compile time). A prime power above :data:`MAX_MULTIPLE_OF` needing an
    automaton raises :class:`UnsupportedSchemaError` (``keyword="multipleOf"``); so does any
    ``k > MAX_MULTIPLE_OF`` except the cheap cases (few multiples in range, round numbers such as
    ``10**6``, or factors each at most the limit).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise SchemaError(f"must be a positive integer here, got {k!r}", keyword="multipleOf")
    _int_value("minimum", minimum)
    _int_value("maximum", maximum)
    _check_digits("max_digits", max_digits, 1)
    if k == 1:
        return json_integer(minimum, maximum, max_digits=max_digits, negative_zero=negative_zero)
    lo, hi = _int_bounds(minimum, maximum, max_digits)
    first, last = -(-lo // k) * k, (hi // k) * k
    if first > last:
        return NEVER
    if (last - first) // k < _ENUMERATE_LIMIT:
        words = [str(m) for m in range(first, last + 1, k)]
        if first <= 0 <= last and negative_zero:
            words.append("-0")
        return _trie(sorted(words))
    width = len(str(max(abs(lo), abs(hi))))
    if minimum is None and maximum is None and negative_zero and k <= max_modulus:
        # no range to intersect with: the remainder automaton alone, whose every state is live
        return seq(optional(_MINUS), Divisible(k, width))
    q = 1  # the part of k made of 2s and 5s, decided by the last digits when that is cheap
    moduli: list[int] = []
    for p, power in _prime_powers(k):
        if p in (2, 5):
            q *= power
        else:
            moduli.append(power)
    parts: list[Node] = []
    if q > 1:
        by_suffix = _suffix_divisible(q, width)
        if by_suffix is None:
            moduli.extend(power for p, power in _prime_powers(q))
        else:
            parts.append(by_suffix)
    too_large = [m for m in moduli if m > max_modulus]
    if too_large:
        raise UnsupportedSchemaError(
            f"multipleOf {k} needs a remainder automaton with {max(too_large)} states per digit "
            f"(more than {max_modulus}, Limits.max_multiple_of) and the range holds more than "
            f"{_ENUMERATE_LIMIT} multiples",
            keyword="multipleOf",
        )
    parts.extend(Divisible(m, width) for m in moduli)
    integers = json_integer(minimum, maximum, max_digits=max_digits, negative_zero=negative_zero)
    return Intersect((integers, *(seq(optional(_MINUS), part) for part in parts)))


# --- decimal steps, non-integers, single values ------------------------------------------------


def decimal_step(step: Decimal) -> tuple[int, int]:
    """``step`` as ``(a, d)`` with ``step == a / 10**d`` and ``d`` as small as possible."""
    _, digits, exp = step.normalize().as_tuple()
    assert isinstance(exp, int)
    a = int("".join(map(str, digits)))
    return (a * 10**exp, 0) if exp >= 0 else (a, -exp)


@lru_cache(maxsize=256)
def json_decimal_multiple_of(a: int, d: int, max_int_digits: int = 19, max_fraction_digits: int = 16) -> Node:
    """Plain decimal texts (``-?(0|[1-9][0-9]*)(\\.[0-9]+)?``, at most ``max_int_digits`` integer and
    ``max_fraction_digits`` fraction digits) whose value is a multiple of ``a / 10**d``: every
    spelling, trailing zeros included, so its complement is exact too.

    A text is a multiple when its digits, read with exactly ``d`` fraction digits (missing ones
    are zeros), form an integer divisible by ``a``, and every fraction digit past the ``d``-th is a
    zero: a remainder automaton over the integer digits (unrolled over their positions) and then over
    the ``d`` significant fraction digits.

    The remainder kept is that of the value scaled by ``10**d`` (an integer digit ``x`` adds
    ``x * 10**d``, the ``j``-th fraction digit ``x * 10**(d - j)``), not that of the digits read:
    the same test, but where ``10**d`` shares factors with ``a`` the integer digits stop mattering
    (``0.25``: every integer part scales to a multiple of 25, one state per position instead of 25).
    """
    if d > max_fraction_digits:
        raise UnsupportedSchemaError(f"multipleOf with {d} decimals (more than the {max_fraction_digits} fraction "
                                     "digits a number may have)", keyword="multipleOf")
    if a > MAX_MULTIPLE_OF // 10:
        raise UnsupportedSchemaError(f"multipleOf {a}e-{d} needs a remainder automaton with {a} states per digit",
                                     keyword="multipleOf")
    room = max_fraction_digits - d
    zeros_after = repeat(literal("0"), 0, room)
    memo: dict[tuple[int, int, bool], Node] = {}

    def by_remainder(digits: range, step: Callable[[int], int], then: Callable[[int], Node]) -> list[Node]:
        """One branch per remainder the digits lead to: the class of those digits, then ``then``."""
        groups: dict[int, list[int]] = {}
        for digit in digits:
            groups.setdefault(step(digit), []).append(digit)
        return [seq(char_class([(0x30 + x, 0x30 + x) for x in ds]), then(target)) for target, ds in groups.items()]

    def fraction(r: int, k: int, need: bool) -> Node:
        """Fraction digits with ``k`` significant positions left and remainder ``r``; ``need``:
        right after the dot (one digit at least)."""
        key = (r, k, need)
        found = memo.get(key)
        if found is not None:
            return found
        items: list[Node] = []
        if k == 0:
            result = NEVER if r else (repeat(literal("0"), 1, room) if need else zeros_after)
        else:
            if not need and r == 0:  # the digits left are zeros
                items.append(EMPTY)
            weight = 10 ** (k - 1)
            items += by_remainder(range(10), lambda x: (r + x * weight) % a, lambda t: fraction(t, k - 1, False))
            result = alt(*items)
        memo[key] = result
        return result

    def after_integer(r: int) -> Node:
        return alt(EMPTY if r == 0 else NEVER, seq(_DOT, fraction(r, d, True)))

    scale = 10**d % a

    def integer_step(r: int, digit: int) -> int:
        return (10 * r + digit * scale) % a

    # integer digits: after i digits (i = 1..max_int_digits) with scaled remainder r
    reach: list[set[int]] = [set(), {integer_step(0, x) for x in range(1, 10)}]
    for _ in range(2, max_int_digits + 1):
        prev = reach[-1]
        reach.append(prev if len(prev) == a else {integer_step(r, x) for r in prev for x in range(10)})
    after: dict[int, Node] = {r: after_integer(r) for r in reach[max_int_digits]}
    for i in range(max_int_digits - 1, 0, -1):
        layer = {}
        for r in reach[i]:
            next_digit = by_remainder(range(10), lambda x: integer_step(r, x), lambda t: after.get(t, NEVER))
            layer[r] = alt(after_integer(r), *next_digit)
        after = layer
    first = by_remainder(range(1, 10), lambda x: integer_step(0, x), lambda t: after.get(t, NEVER))
    return seq(optional(_MINUS), alt(seq(literal("0"), after_integer(0)), *first))


def plain_spellings(value: Decimal, max_fraction_digits: int = 16) -> Node:
    """Every plain decimal text of ``value`` (``2``, ``2.0``, ``2.00``...; ``0`` and ``-0``)."""
    integer, fraction = _split(value)
    if len(fraction) > max_fraction_digits:
        return NEVER  # not writable with that many fraction digits
    if fraction:
        tail = seq(_DOT, literal(fraction), repeat(literal("0"), 0, max_fraction_digits - len(fraction)))
    else:
        tail = optional(seq(_DOT, repeat(literal("0"), 1, max_fraction_digits)))
    head = literal(str(integer))
    if value < 0:
        head = seq(_MINUS, head)
    elif value == 0:
        head = seq(optional(_MINUS), head)
    return seq(head, tail)


@lru_cache(maxsize=16)
def json_fractional(max_int_digits: int = 19, max_fraction_digits: int = 16) -> Node:
    """Plain decimal texts of non-integers: a fraction with a non-zero digit."""
    integer = alt(literal("0"), seq(_digit(1, 9), _digits(0, max_int_digits - 1)))
    fraction = alt(*(seq(repeat(literal("0"), p, p), _digit(1, 9), _digits(0, max_fraction_digits - 1 - p))
                     for p in range(max_fraction_digits)))
    return seq(optional(_MINUS), integer, _DOT, fraction)


def enumerate_multiples(step: Decimal, lo: Decimal, hi: Decimal, *, lo_x: bool, hi_x: bool,
                        limit: int = _ENUMERATE_LIMIT) -> list[Decimal] | None:
    """The multiples of ``step`` in the interval, or ``None`` if more than ``limit``."""
    from decimal import ROUND_CEILING, ROUND_FLOOR

    first = (lo / step).to_integral_value(rounding=ROUND_CEILING)
    last = (hi / step).to_integral_value(rounding=ROUND_FLOOR)
    if last < first:
        return []
    if last - first >= limit:
        return None
    out = []
    k = first
    while k <= last:
        v = k * step
        if not ((lo_x and v == lo) or (hi_x and v == hi)):
            out.append(v)
        k += 1
    return out
