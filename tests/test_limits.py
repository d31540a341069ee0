"""Large and hostile input: every compile either succeeds with steps that stay small, or fails at
compile time with an error naming the keyword, the rule or the limit to raise (``Limits``). Never a
``RecursionError``, a hang, or an error that surfaces only while decoding.

Sizes are those a server meets from strangers (see issue 11); times are not asserted (they would
flake on a busy machine): the README gives the measured ones."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from enforcer import Compiler, LimitExceededError, Limits, SchemaError
from enforcer.grammar import ir
from enforcer.grammar.regex import parse_regex


def _accepts(grammar, tokenizer, text: str) -> bool:
    """Whether ``text``, as the tokenizer spells it, is a complete output of ``grammar``."""
    matcher = grammar.matcher()
    for token in tokenizer.encode(text, add_special_tokens=False):
        if not matcher.is_token_allowed(token):
            return False
        matcher.advance(token)
    return matcher.is_complete()


@pytest.fixture(scope="module")
def compiler(llama3_vocab):
    return Compiler(llama3_vocab)


# -- nesting: no recursion on the size of the input ------------------------------------------------

def test_a_schema_nested_a_thousand_levels_compiles_and_walks(compiler, llama3_tokenizer):
    schema: dict = {"type": "integer"}
    for _ in range(1000):
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
    grammar = compiler.compile_json_schema(schema)
    assert _accepts(grammar, llama3_tokenizer, '{"a":' * 1000 + "7" + "}" * 1000)
    assert not _accepts(grammar, llama3_tokenizer, '{"a":' * 999 + "7" + "}" * 999)


@pytest.mark.parametrize("kind", ["gbnf", "regex"])
def test_three_thousand_nested_groups_compile(compiler, llama3_tokenizer, kind):
    n = 3000
    if kind == "gbnf":
        grammar = compiler.compile_grammar("root ::= " + '("a" ' * n + '"x"' + ")" * n)
    else:
        grammar = compiler.compile_regex("(a" * n + "x" + ")" * n)
    assert _accepts(grammar, llama3_tokenizer, "a" * n + "x")
    assert not _accepts(grammar, llama3_tokenizer, "a" * (n - 1) + "x")


def test_nesting_beyond_the_limit_is_refused_naming_it(llama3_vocab):
    small = Compiler(llama3_vocab, limits=Limits(max_nesting_depth=50))
    cases = [
        lambda: small.compile_grammar("root ::= " + "(" * 60 + '"x"' + ")" * 60),
        lambda: small.compile_regex("(" * 60 + "x" + ")" * 60),
        lambda: small.compile_json_schema({"type": "string", "pattern": "(" * 60 + "x" + ")" * 60}),
        lambda: small.compile_json_schema(json.loads('{"items":' * 60 + "{}" + "}" * 60)),
    ]
    for case in cases:
        with pytest.raises(LimitExceededError) as info:
            case()
        assert info.value.limit == "max_nesting_depth" and info.value.allowed == 50
        assert "max_nesting_depth" in str(info.value)


def _walk_with_masks(grammar, tokenizer, text: str, **matcher_options) -> bool:
    """Every mask of the walk is filled (the mask path recurses where a plain step may not)."""
    matcher = grammar.matcher(**matcher_options)
    bitmask = np.zeros((1, grammar.n_words), dtype=np.int32)
    for token in tokenizer.encode(text, add_special_tokens=False):
        matcher.fill_next_token_bitmask(bitmask)
        if not (int(bitmask[0, token // 32]) >> (token % 32)) & 1:
            return False
        matcher.advance(token)
    matcher.fill_next_token_bitmask(bitmask)
    return matcher.is_complete()


@pytest.mark.parametrize("kind", ["gbnf", "regex"])
def test_deeply_nested_optional_groups_mask_every_step(compiler, llama3_tokenizer, kind):
    """``(a(a(a...)?)?)?``: the steps recurse as deep as the groups nest (a repetition's clamp,
    nullability), so a deep grammar's steps get the recursion room its compile had."""
    n = 2000
    if kind == "gbnf":
        grammar = compiler.compile_grammar("root ::= " + '("a" ' * n + ")?" * n)
    else:
        grammar = compiler.compile_regex("(a" * n + ")?" * n)
    assert grammar.depth > n
    assert _walk_with_masks(grammar, llama3_tokenizer, "a" * 300)
    assert _walk_with_masks(grammar, llama3_tokenizer, "a" * 300, max_tokens=500)
    assert not _walk_with_masks(grammar, llama3_tokenizer, "a" * 300 + "b")


def test_long_chains_of_rules_and_refs_compile_and_walk(compiler, llama3_tokenizer):
    """A rule naming the next one before any input nests like a parenthesis: 3,000 of them
    (GBNF rules, or JSON Schema ``$ref`` hops) recurse 3,000 levels at compile and in steps."""
    n = 3000
    text = "\n".join(["root ::= r0"] + [f'r{i} ::= r{i + 1} | "x{i}"' for i in range(n)] + [f'r{n} ::= "end"'])
    grammar = compiler.compile_grammar(text)
    assert _walk_with_masks(grammar, llama3_tokenizer, "end")
    assert _walk_with_masks(grammar, llama3_tokenizer, "x2999")
    defs = {f"d{i}": {"$ref": f"#/$defs/d{i + 1}"} for i in range(n)}
    defs[f"d{n}"] = {"type": "integer", "minimum": 10}
    grammar = compiler.compile_json_schema({"$defs": defs, "$ref": "#/$defs/d0"})
    assert _walk_with_masks(grammar, llama3_tokenizer, "12")
    assert not _walk_with_masks(grammar, llama3_tokenizer, "7")


def test_chains_beyond_the_limit_are_refused_naming_it(llama3_vocab):
    small = Compiler(llama3_vocab, limits=Limits(max_nesting_depth=50))
    defs = {f"d{i}": {"$ref": f"#/$defs/d{i + 1}"} for i in range(300)}
    defs["d300"] = {"type": "integer"}
    cases = [
        lambda: small.compile_grammar("\n".join(["root ::= r0"] + [f'r{i} ::= r{i + 1} | "x"' for i in range(60)]
                                                + ['r60 ::= "a"'])),
        lambda: small.compile_json_schema({"$defs": defs, "$ref": "#/$defs/d0"}),
        lambda: small.compile_regex("(a" * 40 + ")?" * 40),  # 40 groups, 80 levels of IR
    ]
    for case in cases:
        with pytest.raises(LimitExceededError) as info:
            case()
        assert info.value.limit == "max_nesting_depth" and info.value.allowed == 50


def test_recursion_rooms_held_by_threads_restore_the_limit():
    """Rooms nest across threads: the limit is the largest room held, then what it was."""
    import sys
    import threading

    from enforcer.grammar.nesting import recursion_room

    before = sys.getrecursionlimit()
    entered, leave = threading.Barrier(3), threading.Event()

    def hold(depth: int) -> None:
        with recursion_room(depth):
            entered.wait()
            leave.wait()

    threads = [threading.Thread(target=hold, args=(d,)) for d in (500, 2000)]
    for t in threads:
        t.start()
    entered.wait()
    assert sys.getrecursionlimit() >= 2000 * 12
    leave.set()
    for t in threads:
        t.join()
    assert sys.getrecursionlimit() == before


def test_nesting_scans_skip_quoted_and_class_parentheses():
    from enforcer.grammar.nesting import gbnf_depth, regex_depth

    assert regex_depth(r"a\(b[(((]c(d)") == 1
    assert gbnf_depth('root ::= "((((" [(((] (x) # ((((\n') == 1


# -- sizes: many properties, large enums ----------------------------------------------------------

def test_a_thousand_required_properties(compiler, llama3_tokenizer):
    n = 1000
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(n)},
              "required": [f"p{i}" for i in range(n)], "additionalProperties": False}
    grammar = compiler.compile_json_schema(schema)
    text = json.dumps({f"p{i}": i for i in range(n)}, separators=(",", ":"))
    assert _accepts(grammar, llama3_tokenizer, text)
    assert not _accepts(grammar, llama3_tokenizer, text.replace('"p500":500,', ""))


def test_five_thousand_optional_properties_in_schema_order(compiler, llama3_tokenizer):
    """One members node whose states are built as generation reaches them (a chain as long as
    the member list made the first mask and every value's end linear in the members)."""
    n = 5000
    schema = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(n)},
              "required": ["p2500"], "additionalProperties": {"type": "boolean"}}
    grammar = compiler.compile_json_schema(schema)

    def text(*pairs):
        return json.dumps(dict(pairs), separators=(",", ":"))

    assert _accepts(grammar, llama3_tokenizer, text(("p0", 1), ("p17", 2), ("p2500", 3), ("p4999", 4), ("x", True)))
    assert _accepts(grammar, llama3_tokenizer, text(("p2500", 3)))
    assert not _accepts(grammar, llama3_tokenizer, text(("p17", 1), ("p0", 2), ("p2500", 3)))  # out of order
    assert not _accepts(grammar, llama3_tokenizer, text(("p0", 1), ("p4999", 2)))  # the required one skipped
    assert not _accepts(grammar, llama3_tokenizer, text(("p2500", 1), ("x", True), ("p2501", 2)))  # extra first
    assert not _accepts(grammar, llama3_tokenizer, text(("p2500", 1), ("x", 2)))  # extra's value


def test_a_large_enum_compiles_as_a_shared_prefix_tree(compiler, llama3_tokenizer):
    rng = random.Random(7)
    values = sorted({f"value-{rng.randrange(10**9)}" for _ in range(20_000)})
    grammar = compiler.compile_json_schema({"enum": values})  # compile time: see the README's figures
    for value in values[::4000]:
        assert _accepts(grammar, llama3_tokenizer, json.dumps(value))
    assert not _accepts(grammar, llama3_tokenizer, json.dumps(values[0] + "0"))
    assert not _accepts(grammar, llama3_tokenizer, json.dumps("value-"))


@pytest.mark.parametrize("size", [11, 3000])  # built whole, and lazily past _EAGER_WORDS
def test_word_trie_keeps_every_word_and_no_other(size):
    from enforcer.engine.expr import ExprFactory
    from enforcer.engine.lower import _EAGER_WORDS, word_trie

    rng = random.Random(size)
    words = {b"", b"a", b"ab", b"abc", b"abd", b"b", b"ba", b"xyz", b"xy", b"\xff", b"\xff\xff\x00"}
    while len(words) < size:
        words.add(bytes(rng.choice(b"ab\xfe\xff") for _ in range(rng.randint(0, 9))))
    assert (size > _EAGER_WORDS) == (len(words) > _EAGER_WORDS)
    f = ExprFactory()
    trie = word_trie(f, list(words) + [b"ab"])
    for word in words:
        assert f.matches(trie, word), word
    others = {bytes(rng.choice(b"ab\xfe\xff") for _ in range(rng.randint(0, 10))) for _ in range(3000)}
    for word in others - words:
        assert not f.matches(trie, word), word


def test_enum_string_bodies_in_every_spelling():
    from enforcer.schema.json_text import string_bodies
    from tests.ir_oracle import matches

    values = ["", "a", "ab", "abc", "é", "a\"b", "x/y"]
    node = string_bodies(values + ["ab"])
    for text in values:
        assert matches(node, json.dumps(text)[1:-1]), text  # escaped: \u00e9, \"
        assert matches(node, text.replace('"', '\\"')), text  # raw
    for text in ("abcd", "x", "a\\\"", "b"):
        assert not matches(node, text), text


# -- repetition: nested counts are one counter -----------------------------------------------------

def test_nested_bounded_repetitions_merge_into_one_count(compiler, llama3_tokenizer):
    node = parse_regex("((a{1,100}){1,100}){1,100}")
    assert isinstance(node, ir.Repeat) and (node.min, node.max) == (1, 10**6)
    assert not isinstance(node.item, ir.Repeat)
    # gaps between the counts stay exact: (a{3}){1,2} is a{3} or a{6}, nothing between
    gapped = parse_regex("(a{3}){1,2}")
    assert isinstance(gapped, ir.Repeat) and isinstance(gapped.item, ir.Repeat)
    grammar = compiler.compile_regex("((a{1,100}){1,100}){1,100}")
    assert _accepts(grammar, llama3_tokenizer, "a" * 500)
    grammar = compiler.compile_grammar("root ::= ((([^x]*){0,99}){0,99}){0,99}")
    assert _accepts(grammar, llama3_tokenizer, "hello world")
    assert not _accepts(grammar, llama3_tokenizer, "xylophone")


# -- integer multipleOf: a remainder automaton built as generation goes ----------------------------

def test_exponential_dfa_walks_a_long_text(compiler, llama3_tokenizer):
    """``.*a.{20}`` has a DFA state per set of the last 21 positions holding an ``a``; states
    are built as the text reaches them, masks computed on every step (3 s for one step once)."""
    grammar = compiler.compile_regex(".*a.{20}")
    matcher = grammar.matcher()
    bitmask = np.zeros(grammar.n_words, dtype=np.int32)
    for token in llama3_tokenizer.encode("ab" * 1500 + "a" * 21, add_special_tokens=False):
        matcher.fill_next_token_bitmask(bitmask)
        assert (int(bitmask[token >> 5]) >> (token & 31)) & 1
        matcher.advance(token)
    assert matcher.is_complete()
    assert grammar.num_states < 1000
    assert not _accepts(grammar, llama3_tokenizer, "ab" * 30 + "b" * 21)


@pytest.mark.parametrize("bounds", [{}, {"minimum": -5000, "maximum": 10**6}])
def test_integer_multiple_of_large_divisors(compiler, llama3_tokenizer, bounds):
    for k in (97, 1024, 9973):
        grammar = compiler.compile_json_schema({"type": "integer", "multipleOf": k, **bounds})
        for value in (0, k, 3 * k, -k, 40 * k + 1, k * 12345 if not bounds else k * 17, 12345):
            in_range = not bounds or bounds["minimum"] <= value <= bounds["maximum"]
            assert _accepts(grammar, llama3_tokenizer, str(value)) == (value % k == 0 and in_range), (k, value)


# -- compile time is compile time ----------------------------------------------------------------

def test_self_references_fail_at_compile_naming_the_pointer(compiler):
    with pytest.raises(SchemaError) as info:
        compiler.compile_json_schema({"$ref": "#"})
    assert info.value.pointer == "#"
    with pytest.raises(SchemaError, match="can never finish"):
        compiler.compile_json_schema({"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]})


def test_unknown_special_token_fails_at_compile(compiler):
    with pytest.raises(SchemaError, match="<\\|no_such_token\\|>"):
        compiler.compile_grammar('root ::= "x" | <|no_such_token|>')


def test_every_limit_is_enforced_somewhere():
    """A budget documented in Limits but read nowhere would be a promise the code does not keep."""
    import dataclasses
    import pathlib

    source = "\n".join(p.read_text() for p in pathlib.Path("enforcer").rglob("*.py") if p.name != "limits.py")
    for field in dataclasses.fields(Limits):
        assert f".{field.name}" in source, field.name


# -- drafts: $schema decides what a keyword means ---------------------------------------------------

def _accepts_bytes(grammar, text: str) -> bool:
    matcher = grammar.matcher()
    for byte in text.encode():
        if not matcher.is_token_allowed(byte):
            return False
        matcher.advance(byte)
    return matcher.is_complete()


@pytest.mark.parametrize("schema, accepted, rejected", [
    # draft-04 (OpenAPI 3.0): boolean exclusiveMinimum
    ({"$schema": "http://json-schema.org/draft-04/schema#", "type": "number", "minimum": 5, "exclusiveMinimum": True},
     ["6", "5.5"], ["5", "4"]),
    # draft-04 to 2019-09: items as an array, additionalItems
    ({"$schema": "http://json-schema.org/draft-04/schema#", "type": "array",
      "items": [{"type": "integer"}, {"type": "string"}], "additionalItems": False},
     ['[1,"a"]', "[1]"], ['[1,2]', '[1,"a",3]']),
    # draft-07: keywords beside $ref are ignored
    ({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"a": {"type": "integer"}},
      "$ref": "#/definitions/a", "type": "string"},
     ["1"], ['"x"']),
    # 2020-12 (no $schema): beside $ref they apply
    ({"$defs": {"a": {"type": "integer"}}, "$ref": "#/$defs/a", "minimum": 3}, ["3"], ["2", '"x"']),
])
def test_the_draft_of_the_schema_decides(schema, accepted, rejected):
    from enforcer import compile_json_schema
    from enforcer.cli.constraints import byte_vocabulary

    grammar = compile_json_schema(schema, byte_vocabulary())
    for text in accepted:
        assert _accepts_bytes(grammar, text), text
    for text in rejected:
        assert not _accepts_bytes(grammar, text), text


def test_unknown_keywords_are_listed_or_refused():
    from enforcer import compile_json_schema
    from enforcer.cli.constraints import byte_vocabulary

    grammar = compile_json_schema({"type": "object", "properties": {"a": {"type": "string", "maxLenght": 3}}},
                                  byte_vocabulary())
    assert grammar.unknown_keywords == [("#/properties/a", "maxLenght")]
    with pytest.raises(SchemaError) as info:
        compile_json_schema({"type": "string", "maxLenght": 3}, byte_vocabulary(), unknown_keywords="error")
    assert info.value.keyword == "maxLenght"
