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


def _leap_second_time(fraction: str = _FRACTION) -> Node:
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
        by_hour.append(rf"{h:02d}:{_MINUTE}:60{fraction}(?:{'|'.join(offsets)})")
    by_minute = []
    for m in range(60):
        offsets = [rf"-{_HOUR}:{59 - m:02d}", rf"\+{_HOUR}:{(m + 1) % 60:02d}"]
        if m == 59:
            offsets.append("[Zz]")
        by_minute.append(rf"{m:02d}:60{fraction}(?:{'|'.join(offsets)})")
    return Intersect((_re("|".join(by_hour)), _re(rf"{_HOUR}:(?:{'|'.join(by_minute)})")))


def _time(fraction: str = _FRACTION) -> Node:
    ordinary = _re(rf"{_HOUR}:{_MINUTE}:[0-5][0-9]{fraction}{_OFFSET}")
    return alt(ordinary, _leap_second_time(fraction))


def _date_time() -> Node:
    return seq(_LANGUAGES["date"](), _re("[Tt]"), _LANGUAGES["time"]())


_ANY_FRACTION = r"(?:\.[0-9]+)?"


def _wide_time() -> Node:
    return _time(_ANY_FRACTION)


def _wide_date_time() -> Node:
    return seq(_LANGUAGES["date"](), _re("[Tt]"), _wide_time())


def _duration(n: str = "[0-9]{1,19}") -> Node:
    # n: bounded like JSON integers: no endless digits
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


def _hostname(a_labels: bool = _ALLOW_A_LABELS) -> Node:
    label = _LDH_LABEL if a_labels else _NR_LDH_LABEL
    return _max_length(_re(rf"(?:{label})(?:\.(?:{label}))*"), "[A-Za-z0-9.-]", 253)


def _email(hostname: Callable[[], Node] | None = None) -> Node:
    atext = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
    dot_atom = _re(rf"{atext}+(?:\.{atext}+)*")
    quoted = _re(r'"(?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\[\x20-\x7E])*"')
    local = _max_length(alt(dot_atom, quoted), r"[\x20-\x7E]", 64)
    domain = alt(
        (hostname or _LANGUAGES["hostname"])(),
        seq(_text("["), _LANGUAGES["ipv4"](), _text("]")),
        seq(_re(r"\[[Ii][Pp][Vv]6:"), _LANGUAGES["ipv6"](), _text("]")),
    )
    return _max_length(seq(local, _text("@"), domain), r"[\x20-\x7E]", 254)


# RFC 3987 additions: the characters an IRI may hold raw
_UCSCHAR = ("\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF"
            + "".join(f"\\u{{{p:X}0000}}-\\u{{{p:X}FFFD}}" for p in range(1, 14))
            + "\\u{E1000}-\\u{EFFFD}")
_IPRIVATE = "\uE000-\uF8FF\\u{F0000}-\\u{FFFFD}\\u{100000}-\\u{10FFFD}"


def _uri_like(iri: bool, reference: bool) -> Node:
    """RFC 3986 ``URI`` (``URI-reference`` with ``reference``), or RFC 3987 ``IRI``
    (``IRI-reference``): the same grammar, IRIs adding ``ucschar`` to the unreserved characters
    and ``iprivate`` to the query."""
    unreserved = _UNRESERVED + (_UCSCHAR if iri else "")
    pchar = rf"(?:[{unreserved}{_SUB_DELIMS}:@]|{_PCT})"
    query_extra = _IPRIVATE if iri else ""
    userinfo = rf"(?:[{unreserved}{_SUB_DELIMS}:]|{_PCT})*"
    reg_name = rf"(?:[{unreserved}{_SUB_DELIMS}]|{_PCT})*"
    ipv_future = _re(rf"[Vv]{_HEX}+\.[{_UNRESERVED}{_SUB_DELIMS}:]+")
    ip_literal = seq(_text("["), alt(_LANGUAGES["ipv6"](), ipv_future), _text("]"))
    host = alt(ip_literal, _LANGUAGES["ipv4"](), _re(reg_name))
    authority = seq(optional(_re(f"{userinfo}@")), host, _re("(?::[0-9]*)?"))
    path_abempty = _re(f"(?:/{pchar}*)*")
    tail = _re(rf"(?:\?(?:{pchar}|[/?{query_extra}])*)?(?:#(?:{pchar}|[/?])*)?")
    absolute = seq(_re(r"[A-Za-z][A-Za-z0-9+\-.]*:"), alt(
        seq(_text("//"), authority, path_abempty),
        _re(f"/(?:{pchar}+(?:/{pchar}*)*)?"),  # path-absolute
        _re(f"{pchar}+(?:/{pchar}*)*"),  # path-rootless
        seq(),  # path-empty
    ), tail)
    if not reference:
        return absolute
    segment_nz_nc = rf"(?:[{unreserved}{_SUB_DELIMS}@]|{_PCT})+"  # no colon: not mistaken for a scheme
    relative = seq(alt(
        seq(_text("//"), authority, path_abempty),
        _re(f"/(?:{pchar}+(?:/{pchar}*)*)?"),  # path-absolute
        _re(f"{segment_nz_nc}(?:/{pchar}*)*"),  # path-noscheme
        seq(),  # path-empty
    ), tail)
    return alt(absolute, relative)


def _uri() -> Node:
    return _uri_like(False, False)


# --- URI templates (RFC 6570, level 4) ---------------------------------------------------------


def _uri_template() -> Node:
    # RFC 6570 leaves "'" (%x27) out of literals by an oversight its errata and the JSON Schema
    # Test Suite correct: it is a sub-delim, valid in every URI.
    literal = (r"(?:[\x21\x23\x24\x26-\x3B\x3D\x3F-\x5B\x5D\x5F\x61-\x7A\x7E"
               + _UCSCHAR + _IPRIVATE + rf"]|{_PCT})")
    varchar = rf"(?:[A-Za-z0-9_]|{_PCT})"
    varspec = rf"{varchar}(?:\.?{varchar})*(?::[1-9][0-9]{{0,3}}|\*)?"
    expression = rf"\{{[+#./;?&=,!@|]?{varspec}(?:,{varspec})*\}}"
    return _re(rf"(?:{literal}|{expression})*")


# --- JSON pointers (RFC 6901, draft-handrews-relative-json-pointer-01) -------------------------

_JSON_POINTER = r"(?:/(?:[^~/]|~[01])*)*"


def _json_pointer() -> Node:
    return _re(_JSON_POINTER)


def _relative_json_pointer() -> Node:
    return _re(rf"(?:0|[1-9][0-9]*)(?:#|{_JSON_POINTER})")


# --- internationalised host names and e-mail addresses -----------------------------------------

# U-label letters generated: lower-case Latin-1 letters (ß à-ö ø-ÿ), each PVALID in IDNA2008,
# precomposed (so any string of them is NFC), left-to-right, with no contextual rule.
_U_LETTERS = "\u00DF-\u00F6\u00F8-\u00FF"
_U_LABEL_MAX = 19  # its A-label ("xn--" + Punycode) then has at most 5 + 3 * 19 = 62 octets


def _idn_hostname() -> Node:
    """A subset of IDNA2008 host names that every checker accepts: ASCII host names (as
    ``hostname``), or up to three labels, each an ASCII one or a U-label of lower-case ASCII
    letters, digits, hyphens and Latin-1 letters (at most 19 characters, so that the A-label
    fits in 63 octets; three labels keep the A-form within 253)."""
    u_char, u_any = f"[a-z0-9{_U_LETTERS}]", f"[a-z0-9\\-{_U_LETTERS}]"
    u_label = Intersect((
        # 1 to 19 characters, no hyphen at either end nor in both the 3rd and 4th positions
        _re(rf"{u_char}(?:{u_any}{{0,2}}{u_char})?"
            rf"|{u_char}{u_any}(?:{u_char}{u_any}|-{u_char}){u_any}{{0,{_U_LABEL_MAX - 5}}}{u_char}"),
        # and a Latin-1 letter. Over the label's own characters, not ".": each derivative of an
        # intersection derives every part, and "." is every JSON string character and escape
        _re(f"{u_any}*[{_U_LETTERS}]{u_any}*"),
    ))
    ascii_label = _re(_NR_LDH_LABEL)
    label = alt(ascii_label, u_label)
    # at least one U-label: i ASCII labels, the first U-label, then any labels (three in all).
    # Written as ``labels & .*[ß-ÿ].*`` it had cost a search over derivatives per state (is
    # anything left of the intersection?), each through a JSON string's every escape.
    with_u = alt(*(seq(repeat(seq(ascii_label, _text(".")), i, i), u_label,
                       repeat(seq(_text("."), label), 0, 2 - i)) for i in range(3)))
    return alt(_LANGUAGES["hostname"](), with_u)


def _idn_email() -> Node:
    """RFC 6531 addresses: ``email`` with Latin-1 letters in the local part and an
    ``idn-hostname`` domain (a subset, as that format's)."""
    chars = rf"A-Za-z0-9!#$%&'*+\-/=?^_`{{|}}~{_U_LETTERS}"
    atext = f"[{chars}]"
    # the length limit over the local part's own characters, not "." (every JSON character)
    local = _max_length(_re(rf"{atext}+(?:\.{atext}+)*"), f"[{chars}.]", 64)
    return seq(local, _text("@"), _LANGUAGES["idn-hostname"]())


# --- regular expressions (ECMA-262) ----------------------------------------------------------

_REGEX_DEPTH = 8  # groups nest at most this deep in a generated regex


def _regex() -> Node:
    """ECMA-262 regular expressions, as a grammar (nesting bounded by ``_REGEX_DEPTH``): the
    syntax both ECMA-262 (``u`` mode) and Python's ``re`` (which ``jsonschema`` checks with)
    accept, so a generated pattern compiles everywhere. Left out: escapes the two read
    differently (``\\c``, ``\\p{}``, ``\\u{}``, backreferences, ``\\0``), named groups and
    lookbehind (Python's is fixed-width only), lone ``{``/``}``, quantifier bounds past 999, and ``{n,m}`` with ``n`` past 99 (see
    :func:`_bounds`)."""
    syntax = r"\^$\\.*+?()[\]{}|"
    escape = rf"\\(?:[{syntax}/dDwWsSnrtfv]|x{_HEX}{{2}}|u{_HEX}{{4}})"
    atom_char = _re(rf"[^{syntax}]|\.|{escape}")
    class_single = rf"(?:[^\\\]\[\-^]|\\(?:[{syntax}/\-dDwWsSnrtfv]|x{_HEX}{{2}}|u{_HEX}{{4}}))"
    class_range = "(?:" + "|".join(
        f"{chr(a)}-[{chr(a)}-{z}]" for lo, z in (("0", "9"), ("a", "z"), ("A", "Z"))
        for a in range(ord(lo), ord(z) + 1)) + ")"
    class_item = rf"(?:{class_range}|{class_single}|\^)"
    char_class = _re(rf"\[\^?(?:-|{class_range}|{class_single}){class_item}*-?\]")
    quantifier = seq(alt(_re(r"[*+?]"), seq(_text("{"), _bounds(), _text("}"))), optional(_text("?")))
    assertion = _re(r"[\^$]|\\[bB]")
    disjunction: Node = seq()
    for _ in range(_REGEX_DEPTH + 1):
        group = seq(alt(_text("("), _text("(?:")), disjunction, _text(")"))
        lookahead = seq(alt(_text("(?="), _text("(?!")), disjunction, _text(")"))
        term = alt(seq(alt(atom_char, char_class, group), optional(quantifier)), assertion, lookahead)
        alternative = repeat(term)
        disjunction = seq(alternative, repeat(seq(_text("|"), alternative)))
    return disjunction


_PAIR_MINIMUM = 99  # the largest n of a generated {n,m}


def _bounds() -> Node:
    """Quantifier bounds ``n``, ``n,`` (numbers up to 999) and ``n,m`` with ``n <= m`` (``n`` up
    to ``_PAIR_MINIMUM``): checking ``n <= m`` needs one state per ``n``, and a thousand of them
    made this format's grammar ten times as large (a quarter second to build) for bounds no
    real pattern uses."""
    number = "(?:0|[1-9][0-9]{0,2})"
    pairs = []
    for n in range(_PAIR_MINIMUM + 1):
        pairs.append(seq(_text(f"{n},"), _upto(n)))
    return alt(_re(rf"{number},?"), *pairs)


def _upto(n: int) -> Node:
    from .numbers import _uint_range  # digit strings without leading zeros, n..999

    return _uint_range(n, 999)


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
    "uri-reference": lambda: _uri_like(False, True),
    "iri": lambda: _uri_like(True, False),
    "iri-reference": lambda: _uri_like(True, True),
    "uri-template": _uri_template,
    "json-pointer": _json_pointer,
    "relative-json-pointer": _relative_json_pointer,
    "idn-hostname": _idn_hostname,
    "idn-email": _idn_email,
    "regex": _regex,
    "uuid": _uuid,
}
_LANGUAGES: dict[str, Callable[[], Node]] = {name: lru_cache(maxsize=1)(f) for name, f in _BUILDERS.items()}

# The full languages where the generated ones are narrower (for complements, see format_language)
_WIDE_HOSTNAME = lru_cache(maxsize=1)(lambda: _hostname(True))
_WIDE: dict[str, Callable[[], Node]] = {name: lru_cache(maxsize=1)(f) for name, f in {
    "date-time": _wide_date_time,
    "time": _wide_time,
    "duration": lambda: _duration("[0-9]+"),
    "hostname": _WIDE_HOSTNAME,
    "email": lambda: _email(_WIDE_HOSTNAME),
}.items()}

FORMATS = frozenset(_BUILDERS)
"""The format names :func:`format_language` knows."""


def format_language(name: str, *, complement: bool = False) -> Node | None:
    """The character-level language of format ``name``, or ``None`` for a format it does not know
    (an unknown format constrains nothing, as JSON Schema prescribes).

    ``complement=True`` asks for the language whose complement ``not: {"format": ...}`` allows:
    where the generated language is deliberately narrower than the format (bounded digits, no
    IDNA A-labels), the full one, so that the complement holds no string of the format."""
    if complement:
        build = _WIDE.get(name)
        if build is not None:
            return build()
    build = _LANGUAGES.get(name)
    return None if build is None else build()
