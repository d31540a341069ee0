"""The ``format`` keyword as character-level grammar IR: what a string's decoded content must be.

JSON Schema leaves ``format`` validation optional, but a generator that is asked for a
``date-time`` should produce one, and ``jsonschema``'s ``FORMAT_CHECKER`` (which validates the
output) is strict for several formats. Every language here is the *strict* language of the RFC
the JSON Schema specification names, written as a regular language, so anything generated
passes a strict validator. Where the ``jsonschema`` checker depends on an optional package
(``rfc3339-validator`` for date-time and time, ``fqdn`` for hostname, ``rfc3987`` or
``rfc3986-validator`` for uri, ``isoduration`` for duration) and that package is missing, the
checker accepts everything; the strict language is used anyway.

The node is character level (``CharClass``, ``Seq``, ``Alt``, ``Repeat``, ``Intersect``); the
JSON Schema compiler escapes it into JSON string syntax. Pieces are written as ECMA regular
expressions and parsed with :func:`~enforcer.grammar.regex.parse_regex`, then composed.

Formats and their exact languages:

* ``date`` -- RFC 3339 ``full-date``: ``YYYY-MM-DD`` with real month lengths and February 29
  only in leap years (divisible by 4, not by 100 unless by 400: regular over 4-digit years).
  Year ``0000`` is excluded: RFC 3339 allows it, but Python's ``date`` (which the ``jsonschema``
  checker uses) does not.
* ``time`` -- RFC 3339 ``full-time``: ``hh:mm:ss``, optional ``.`` and 1 to 18 fraction digits, then
  ``Z``/``z`` or ``+hh:mm``/``-hh:mm``. Second ``60`` (a leap second) only where the time, moved
  to UTC by the offset, is 23:59 (as the JSON Schema test suite requires); the date a leap
  second may fall on is not checked (it cannot be predicted).
* ``date-time`` -- ``date``, ``T``/``t``, ``time``.
* ``duration`` -- RFC 3339 appendix A (ISO 8601 durations as JSON Schema uses them): ``P`` then
  date elements Y, M, D in order without gaps, optionally ``T`` and time elements H, M, S in
  order without gaps, or weeks ``nW`` alone; integer values only, upper case only.
* ``email`` -- RFC 5321 ``Mailbox``: a dot-atom or quoted-string local part (at most 64
  characters), ``@``, and a ``hostname`` domain or an IPv4 / ``IPv6:`` address literal in
  brackets; at most 254 characters in all. Left out, as too exotic to generate: the
  ``General-address-literal`` (``[tag:content]``) and internationalised addresses.
* ``hostname`` -- RFC 1123 host names: dot-separated labels of letters, digits and hyphens, not
  starting or ending with a hyphen, 1-63 characters each, at most 253 characters in all, no
  trailing dot. Labels with ``--`` in the 3rd and 4th positions are rejected: RFC 5890 reserves
  them (R-LDH labels), and the ones in use, IDNA A-labels (``xn--...``), are valid only if their
  Punycode decodes to a valid U-label, which is no regular language worth building. So a
  generated host name is always valid, at the cost of never being an A-label
  (``_ALLOW_A_LABELS`` switches to every LDH label, as the ``fqdn`` package accepts).
* ``ipv4`` -- dotted quad of 0-255 without leading zeros.
* ``ipv6`` -- RFC 4291 text forms as RFC 3986's ``IPv6address``: 8 groups of 1-4 hex digits,
  ``::`` standing for one or more zero groups (at most once), optional embedded IPv4 as the last
  32 bits; no zone id, no brackets, no prefix length.
* ``uri`` -- RFC 3986 ``URI``: ``scheme ":" hier-part ["?" query] ["#" fragment]`` with the
  RFC's character classes and percent-encoding, IP literals (IPv6 and IPvFuture) and ports.
* ``uuid`` -- RFC 4122 string form ``8-4-4-4-12`` hex digits, either case.

Other formats return ``None`` (no constraint).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from ..grammar.ir import CharClass, Intersect, Node, alt, optional, repeat, seq
from ..grammar.regex import parse_regex

__all__ = ["format_language", "FORMATS"]


def _re(pattern: str) -> Node:
    """A full-match character-level node for an ECMA regex."""
    return parse_regex(pattern)


def _text(text: str) -> Node:
    """The exact characters of ``text``."""
    return seq(*(CharClass(((ord(c), ord(c)),)) for c in text))


def _max_length(node: Node, alphabet: str, n: int) -> Node:
    """``node`` restricted to at most ``n`` characters (all drawn from the class ``alphabet``)."""
    return Intersect((node, repeat(_re(alphabet), 0, n)))


# --- date and time ---------------------------------------------------------------------------

_YEAR = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_MULTIPLE_OF_4 = r"(?:0[48]|[2468][048]|[13579][26])"  # two digits, not 00
_LEAP_YEAR = rf"(?:[0-9]{{2}}{_MULTIPLE_OF_4}|{_MULTIPLE_OF_4}00)"
_HOUR = r"(?:[01][0-9]|2[0-3])"
_MINUTE = r"[0-5][0-9]"
_FRACTION = r"(?:\.[0-9]{1,18})?"  # RFC 3339 allows any number; bounded so a model cannot ramble
_OFFSET = rf"(?:[Zz]|[+-]{_HOUR}:{_MINUTE})"


def _date() -> Node:
    return _re(rf"{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29")


def _leap_second_time() -> Node:
    """``hh:mm:60[.f]offset`` where local time minus the offset is 23:59 UTC.

    A ``+hh:mm`` offset means local = UTC + offset, so the local minute is ``(59 + mm) % 60`` with a
    carry into the hour when ``mm > 0``, and the local hour ``(23 + hh + carry) % 24``; a ``-``
    offset subtracts without borrow (local = 23 - hh, 59 - mm). Hours and minutes are linked
    independently, so the language is the intersection of a 24-way and a 60-way enumeration
    rather than 1440 spelled-out combinations.
    """
    nonzero_minute = r"(?:0[1-9]|[1-5][0-9])"
    by_hour = []
    for h in range(24):
        offsets = [
            rf"-{23 - h:02d}:{_MINUTE}",
            rf"\+{(h + 1) % 24:02d}:00",  # no carry from the minutes
            rf"\+{h:02d}:{nonzero_minute}",  # a carry from the minutes
        ]
        if h == 23:
            offsets.append("[Zz]")
        by_hour.append(rf"{h:02d}:{_MINUTE}:60{_FRACTION}(?:{'|'.join(offsets)})")
    by_minute = []
    for m in range(60):
        offsets = [rf"-{_HOUR}:{59 - m:02d}", rf"\+{_HOUR}:{(m + 1) % 60:02d}"]
        if m == 59:
            offsets.append("[Zz]")
        by_minute.append(rf"{m:02d}:60{_FRACTION}(?:{'|'.join(offsets)})")
    return Intersect((_re("|".join(by_hour)), _re(rf"{_HOUR}:(?:{'|'.join(by_minute)})")))


def _time() -> Node:
    ordinary = _re(rf"{_HOUR}:{_MINUTE}:[0-5][0-9]{_FRACTION}{_OFFSET}")
    return alt(ordinary, _leap_second_time())


def _date_time() -> Node:
    return seq(_LANGUAGES["date"](), _re("[Tt]"), _LANGUAGES["time"]())


def _duration() -> Node:
    n = "[0-9]{1,19}"  # bounded like JSON integers: no endless digits
    time = rf"T(?:{n}H(?:{n}M(?:{n}S)?)?|{n}M(?:{n}S)?|{n}S)"
    date = rf"(?:{n}D|{n}M(?:{n}D)?|{n}Y(?:{n}M(?:{n}D)?)?)"
    return _re(rf"P(?:{date}(?:{time})?|{time}|{n}W)")


# --- internet names and addresses ------------------------------------------------------------

_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
_IPV4 = rf"{_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}}"
_LD, _LDH = "[A-Za-z0-9]", "[A-Za-z0-9-]"
_LDH_LABEL = rf"{_LD}(?:{_LDH}{{0,61}}{_LD})?"  # RFC 1123: 1-63, no hyphen at either end
# ... and without "--" in the 3rd and 4th positions (RFC 5890 R-LDH labels, A-labels included)
_NR_LDH_LABEL = (
    rf"{_LD}(?:{_LDH}{{0,2}}{_LD})?"  # 1-4 characters
    rf"|{_LD}{_LDH}(?:{_LD}{_LDH}|-{_LD}){_LDH}{{0,58}}{_LD}"  # 5-63 characters
)
_ALLOW_A_LABELS = False  # True: admit every LDH label, as the ``fqdn`` package does
_HEX = "[0-9A-Fa-f]"
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = rf"%{_HEX}{_HEX}"


def _ipv4() -> Node:
    return _re(_IPV4)


def _ipv6() -> Node:
    """RFC 3986 ``IPv6address``: one alternative per number of groups before ``::``."""
    h16 = _re(rf"{_HEX}{{1,4}}")
    colon = _text(":")
    group = seq(h16, colon)  # h16 ":"
    ls32 = alt(seq(h16, colon, h16), _LANGUAGES["ipv4"]())
    double = _text("::")

    def before(n: int) -> Node:  # [ *(n-1)( h16 ":" ) h16 ]
        return optional(seq(repeat(group, 0, n - 1), h16)) if n else seq()

    forms = [seq(repeat(group, 6, 6), ls32)]
    for n, tail in enumerate(
        [
            seq(repeat(group, 5, 5), ls32),
            seq(repeat(group, 4, 4), ls32),
            seq(repeat(group, 3, 3), ls32),
            seq(repeat(group, 2, 2), ls32),
            seq(group, ls32),
            ls32,
            h16,
            seq(),
        ]
    ):
        forms.append(seq(before(n), double, tail))
    return alt(*forms)


def _hostname() -> Node:
    label = _LDH_LABEL if _ALLOW_A_LABELS else _NR_LDH_LABEL
    return _max_length(_re(rf"(?:{label})(?:\.(?:{label}))*"), "[A-Za-z0-9.-]", 253)


def _email() -> Node:
    atext = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
    dot_atom = _re(rf"{atext}+(?:\.{atext}+)*")
    quoted = _re(r'"(?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\[\x20-\x7E])*"')
    local = _max_length(alt(dot_atom, quoted), r"[\x20-\x7E]", 64)
    domain = alt(
        _LANGUAGES["hostname"](),
        seq(_text("["), _LANGUAGES["ipv4"](), _text("]")),
        seq(_re(r"\[[Ii][Pp][Vv]6:"), _LANGUAGES["ipv6"](), _text("]")),
    )
    return _max_length(seq(local, _text("@"), domain), r"[\x20-\x7E]", 254)


def _uri() -> Node:
    pchar = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
    userinfo = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
    reg_name = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
    ipv_future = _re(rf"[Vv]{_HEX}+\.[{_UNRESERVED}{_SUB_DELIMS}:]+")
    ip_literal = seq(_text("["), alt(_LANGUAGES["ipv6"](), ipv_future), _text("]"))
    host = alt(ip_literal, _LANGUAGES["ipv4"](), _re(reg_name))
    authority = seq(optional(_re(f"{userinfo}@")), host, _re("(?::[0-9]*)?"))
    path_abempty = _re(f"(?:/{pchar}*)*")
    hier_part = alt(
        seq(_text("//"), authority, path_abempty),
        _re(f"/(?:{pchar}+(?:/{pchar}*)*)?"),  # path-absolute
        _re(f"{pchar}+(?:/{pchar}*)*"),  # path-rootless
        seq(),  # path-empty
    )
    tail = _re(rf"(?:\?(?:{pchar}|[/?])*)?(?:#(?:{pchar}|[/?])*)?")
    return seq(_re(r"[A-Za-z][A-Za-z0-9+\-.]*:"), hier_part, tail)


def _uuid() -> Node:
    return _re(rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")


_BUILDERS: dict[str, Callable[[], Node]] = {
    "date-time": _date_time,
    "date": _date,
    "time": _time,
    "duration": _duration,
    "email": _email,
    "hostname": _hostname,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "uri": _uri,
    "uuid": _uuid,
}
_LANGUAGES: dict[str, Callable[[], Node]] = {name: lru_cache(maxsize=1)(f) for name, f in _BUILDERS.items()}

FORMATS = frozenset(_BUILDERS)
"""The format names :func:`format_language` knows."""


def format_language(name: str) -> Node | None:
    """The character-level language of format ``name``, or ``None`` for a format it does not know
    (an unknown format constrains nothing, as JSON Schema prescribes)."""
    build = _LANGUAGES.get(name)
    return None if build is None else build()
