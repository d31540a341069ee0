"""JSON string spellings and layouts, checked byte-exactly against Python's json module."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.grammar import ir
from enforcer.engine.expr import ExprFactory
from enforcer.engine.lower import Lowering
from enforcer.schema.json_text import ANY_JSON_CHAR, Layout, hex_range, json_char, quoted, string_body


def accepts(node: ir.Node | ir.Rules, data: bytes) -> bool:
    if isinstance(node, ir.Rules):
        lowering = Lowering(ExprFactory(), node)
        expr = lowering.start()
    else:
        lowering = Lowering(ExprFactory())
        expr = lowering.lower(node)
    return lowering.factory.matches(expr, data)


ANY_STRING = quoted(ir.repeat(ANY_JSON_CHAR))
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(text)
def test_both_ways_of_writing_non_ascii(s):
    assert accepts(ANY_STRING, json.dumps(s, ensure_ascii=False).encode())
    assert accepts(ANY_STRING, json.dumps(s, ensure_ascii=True).encode())
    assert accepts(quoted(string_body(s)), json.dumps(s, ensure_ascii=True).encode())
    assert accepts(quoted(string_body(s)), json.dumps(s, ensure_ascii=False).encode())


@settings(max_examples=300, deadline=None)
@given(text, text)
def test_a_literal_accepts_only_its_own_string(s, other):
    encoded = json.dumps(other, ensure_ascii=False).encode()
    assert accepts(quoted(string_body(s)), encoded) == (s == other)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=12))
def test_accepted_bytes_are_json_strings(body):
    data = b'"' + body + b'"'
    if accepts(ANY_STRING, data):
        assert isinstance(json.loads(data.decode("utf-8")), str)


def test_escapes():
    for spelling in (r'"\""', r'"\\"', r'"\/"', r'"\n"', r'"\u00e9"', r'"\u00E9"', r'"\ud83d\ude00"',
                     r'"\u001f"', r'"\u0022"'):
        assert accepts(ANY_STRING, spelling.encode()), spelling
    for bad in ('"\n"', r'"\x41"', r'"\ud83d"', r'"\ude00"', '"\x01"', r'"\u12"', '"\\"', '"'):
        assert not accepts(ANY_STRING, bad.encode()), bad
    # printable ASCII is written raw: one spelling per character
    assert not accepts(ANY_STRING, rb'"\u0061"')


def test_json_char_of_a_range():
    greek = json_char(((0x391, 0x3A9),))
    for cp in (0x391, 0x3A0, 0x3A9):
        assert accepts(greek, chr(cp).encode())
        assert accepts(greek, f"\\u{cp:04x}".encode())
        assert accepts(greek, f"\\u{cp:04X}".encode())
    assert not accepts(greek, "\u0390".encode()) and not accepts(greek, b"\\u03aa")


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_hex_range(a, b, x):
    lo, hi = min(a, b), max(a, b)
    assert accepts(hex_range(lo, hi), f"{x:04x}".encode()) == (lo <= x <= hi)
    assert accepts(hex_range(lo, hi), f"{x:04X}".encode()) == (lo <= x <= hi)


def test_layouts_match_json_dumps():
    from enforcer.schema.compiler import SchemaCompiler

    value = {"a": [1, {"b": None, "c": "x"}], "d": {}, "e": []}
    for whitespace, dumps in (("compact", json.dumps(value, separators=(",", ":"))),
                              (2, json.dumps(value, indent=2)), (4, json.dumps(value, indent=4))):
        node = SchemaCompiler(True, whitespace=whitespace).constant(value)
        assert accepts(node, dumps.encode()), whitespace
    flexible = SchemaCompiler(True, whitespace="flexible").constant(value)
    assert accepts(flexible, json.dumps(value, indent=1).encode())
    assert accepts(flexible, json.dumps(value).encode())
    assert not accepts(flexible, ("{" + " " * 9 + '"a"').encode())  # whitespace is bounded
    assert Layout("flexible", max_ws=2).max_ws == 2
