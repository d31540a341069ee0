"""The GBNF front end (enforcer.grammar.gbnf): syntax, escapes, layout rules, and errors a person
can act on. Languages are checked on a one-byte-per-token vocabulary, so a test reads as "this
text is / is not accepted", and against the IR oracle (tests/ir_oracle.py) where useful."""

from __future__ import annotations

import pytest

from enforcer import GrammarSyntaxError, SchemaError, Vocabulary, compile_grammar
from enforcer.grammar import ir
from enforcer.grammar.analysis import left_recursion_cycle, nullable_rules, unproductive_rules
from enforcer.grammar.gbnf import parse_gbnf


@pytest.fixture(scope="module")
def byte_vocab() -> Vocabulary:
    return Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None], eos_token_ids=[256],
                                       special_text={256: "<eos>"})


def accepts(grammar, text: str | bytes) -> bool:
    """Feed ``text`` byte by byte (the byte vocabulary's token ``b`` is byte ``b``)."""
    matcher = grammar.matcher()
    for byte in text.encode("utf-8") if isinstance(text, str) else text:
        if not matcher.is_token_allowed(byte):
            return False
        matcher.advance(byte)
    return matcher.is_complete()


def language(byte_vocab, source: str, accepted: list, rejected: list) -> None:
    grammar = compile_grammar(source, byte_vocab)
    for text in accepted:
        assert accepts(grammar, text), f"{text!r} should match {source!r}"
    for text in rejected:
        assert not accepts(grammar, text), f"{text!r} should not match {source!r}"


# --- syntax -------------------------------------------------------------------------------------

def test_rules_sequences_alternatives_and_groups(byte_vocab):
    language(byte_vocab, 'root ::= greet " " who\ngreet ::= "hi" | "hello"\nwho ::= ("you" | "them") "!"\n',
             ["hi you!", "hello them!"], ["hi you", "hey you!", "hi  you!", ""])


def test_repetition_operators(byte_vocab):
    language(byte_vocab, 'root ::= "a"? "b"* "c"+ "d"{2} "e"{1,3} "f"{2,}',
             ["cddeff", "abbbccddeeeff" + "f" * 40, "bcddeff"],
             ["ddeff", "ccddeeeeff", "ccddef", "ccdddeff", "ccddeffx", "aacddeff"])
    language(byte_vocab, 'root ::= ("ab" | "c"){0,2}', ["", "ab", "cab", "cc"], ["abcab", "a"])
    language(byte_vocab, 'root ::= "x"{ 1 , 2 }', ["x", "xx"], ["", "xxx"])


def test_character_classes_ranges_negation_and_dot(byte_vocab):
    language(byte_vocab, "root ::= [a-cx] [^a-z\\n] .", ["a1é", "xZ\n", "bA\U0001F600"],
             ["d1a", "aa1", "a\n1", "a1"])
    # A range whose end is ']' or a '-' right before ']' are literal dashes (llama.cpp's rule)
    language(byte_vocab, "root ::= [a-] [,-.]", ["a,", "--", "a."], ["b,", "a/"])
    # english.gbnf's punctuation class: unescaped '[' and '"' inside, '\\]' and '\\\\' escaped
    language(byte_vocab, 'root ::= [!"#[\\\\\\]^]+', ['!"#[\\]^'], ["a", "]]x"])


def test_escapes(byte_vocab):
    language(byte_vocab, 'root ::= "\\x41\\u00e9\\U0001F600\\n\\t\\r\\\\\\"\\[\\]\\-\\^"',
             ["Aé\U0001F600\n\t\r\\\"[]-^"], ["Aé"])
    language(byte_vocab, "root ::= [\\x00-\\x1F\\u2028]", ["\x00", "\x1f", "\u2028"], [" ", "\u2029"])


def test_unicode_literals_and_classes_are_utf8(byte_vocab):
    grammar = compile_grammar("root ::= \"日本\" [ぁ-ゟ]", byte_vocab)
    assert accepts(grammar, "日本ひ") and not accepts(grammar, "日本ア")
    assert accepts(grammar, "日本ひ".encode()) and not accepts(grammar, "日本ひ".encode()[:-1])


def test_comments_and_layout(byte_vocab):
    source = """
# a comment before the first rule
root ::= "a" | # a newline after '|' continues the rule
   "b" |
   (
       "c"        # and so does one inside parentheses
       "d"
     )
empty ::=
  "e"
"""
    language(byte_vocab, source, ["a", "b", "cd"], ["c", "e", ""])
    language(byte_vocab, 'root ::= x\r\nx ::= "y"\r\n', ["y"], ["x"])


def test_empty_alternative_and_names(byte_vocab):
    language(byte_vocab, 'root ::= ws "x" ws\nws ::= | " " | "\\n" [ \\t]{0,2}',
             ["x", " x ", "\n\t x\n"], ["  x", "\n   x"])
    language(byte_vocab, 'root ::= rule-1 Rule_2\nrule-1 ::= "a"\nRule_2 ::= "b"', ["ab"], ["a"])


def test_no_space_between_a_name_and_a_group(byte_vocab):
    language(byte_vocab, 'root ::= f("*" f)*\nf ::= [0-9]', ["1", "1*2*3"], ["1*"])


def test_recursion(byte_vocab):
    language(byte_vocab, 'root ::= "(" root ")" | ""', ["", "()", "((()))"], ["(()", ")("])
    language(byte_vocab, 'root ::= item ("," item)*\nitem ::= [a-z]+ | "[" root "]"',
             ["a", "a,[b,[c]],d"], ["a,", "[a", "a,[]"])


def test_start_rule(byte_vocab):
    grammar = compile_grammar('root ::= "a"\nother ::= "b" root', byte_vocab, start="other")
    assert accepts(grammar, "ba") and not accepts(grammar, "a")


def test_parse_gives_one_node_per_rule():
    rules = parse_gbnf('root ::= "ab" [0-9]{2,5} ref\nref ::= .')
    assert set(rules.rules) == {"root", "ref"} and rules.start == "root"
    assert rules.rules["root"] == ir.Seq((ir.Bytes(b"ab"), ir.Repeat(ir.CharClass(((48, 57),)), 2, 5),
                                          ir.Ref("ref")))
    assert rules.rules["ref"] == ir.CharClass(((0, ir.MAX_CODE_POINT),))


def test_the_parser_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys, enforcer.grammar.gbnf as g; g.parse_gbnf('root ::= \"a\"'); "
            "sys.exit(any(m in sys.modules for m in ('torch', 'transformers')))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, line, column, message", [
    ('root ::= "a" "b\n', 1, 14, "unterminated string literal"),
    ('root ::= "a"\nx ::= ("b" | "c"\n', 2, 7, "this '(' is never closed"),
    ('root ::= ("b" | "c" ]', 1, 21, "expecting ')' to close the group opened at line 1, column 10"),
    ('root ::= "a")', 1, 13, "unbalanced ')'"),
    ('root ::= "a"\n  "b"\n', 2, 3, "a newline ends a rule"),
    ('root = "a"', 1, 6, "expecting '::='"),
    ('root ::= [a-', 1, 10, "unterminated character class"),
    ('root ::= [z-a]', 1, 11, "reversed"),
    ('root ::= []', 1, 10, "empty character class"),
    ('root ::= "\\q"', 1, 11, "unknown escape '\\q'"),
    ('root ::= "\\x4"', 1, 11, "\\x needs exactly 2 hex digits"),
    ('root ::= "\\U00110000"', 1, 11, "past the last Unicode code point"),
    ('root ::= "\\ud800"', 1, 11, "surrogate"),
    ('root ::= * "a"', 1, 10, "nothing before it to repeat"),
    ('root ::= "a"{3,1}', 1, 13, "maximum is below the minimum"),
    ('root ::= "a"{x}', 1, 14, "expecting a number"),
    ('root ::= "a" b ::= "c"', 1, 14, "expecting a newline before the definition of 'b'"),
    ('root ::= <[128010]> "a"', 1, 10, "token references by id (<[id]>) and negated ones"),
    ('root ::= !<think> "a"', 1, 10, "token references by id (<[id]>) and negated ones"),
    ('root ::= <think "a"\n', 1, 10, "never closed with '>'"),
    ('root ::= "a"\nroot ::= "b"', 2, 1, "defined twice (first at line 1)"),
    ('root ::= value\nvalues ::= "a"', 1, 10, "undefined rule 'value' (did you mean 'values'?)"),
])
def test_errors_name_line_and_column(source, line, column, message):
    with pytest.raises(GrammarSyntaxError) as info:
        parse_gbnf(source)
    error = info.value
    assert (error.line, error.column) == (line, column), str(error)
    assert message in str(error)
    shown, caret = str(error).splitlines()[1:3]
    assert shown.strip() == source.splitlines()[line - 1].strip()
    assert caret.index("^") - 4 == column - 1  # four spaces of indentation, then the caret


def test_caret_under_a_tab_indented_line():
    with pytest.raises(GrammarSyntaxError) as info:
        parse_gbnf('root ::= (\n\t"a" ]\n)')
    _, shown, caret = str(info.value).splitlines()
    assert shown == '    \t"a" ]' and caret == "    \t    ^"


def test_missing_start_rule_is_named():
    with pytest.raises(SchemaError, match=r"no rule 'root' to start from \(rules defined: a, b\)"):
        parse_gbnf('a ::= "x"\nb ::= a')
    with pytest.raises(SchemaError, match="no rule 'main'"):
        parse_gbnf('root ::= "x"', start="main")


def test_left_recursion_is_named():
    with pytest.raises(SchemaError, match=r"left recursion in rule 'expr' \(line 2\): 'expr' -> 'expr'"):
        parse_gbnf('root ::= expr\nexpr ::= expr "+" term | term\nterm ::= [0-9]')
    # through another rule, and hidden behind a nullable prefix
    with pytest.raises(SchemaError, match="'a' -> 'b' -> 'a'"):
        parse_gbnf('root ::= a\na ::= b "x" | "y"\nb ::= ws a\nws ::= [ ]*')
    with pytest.raises(SchemaError, match="left recursion"):
        parse_gbnf('root ::= "(" x ")"\nx ::= ("a"? x "b") | "c"')


def test_right_and_nested_recursion_are_fine():
    rules = parse_gbnf('root ::= "a" root | "" \nother ::= "(" other ")" | "x"')
    assert left_recursion_cycle(rules.rules) is None


def test_unproductive_rules_are_named():
    with pytest.raises(SchemaError, match=r"rule 'a' \(line 2\) can never finish"):
        parse_gbnf('root ::= "ok" | a\na ::= "x" a')
    with pytest.raises(SchemaError, match=r"rules 'b' \(line 2\), 'c' \(line 3\) can never finish"):
        parse_gbnf('root ::= b?\nb ::= "(" c ")"\nc ::= b | "[" c "]"')


def test_analysis_helpers():
    rules = parse_gbnf('root ::= a b\na ::= "x"?\nb ::= a "y" | b2\nb2 ::= "z"').rules
    assert nullable_rules(rules) == {"a"}
    assert unproductive_rules(rules) == []


def test_errors_from_compile_grammar(byte_vocab):
    with pytest.raises(GrammarSyntaxError, match="line 1, column 10"):
        compile_grammar("root ::= )", byte_vocab)
    with pytest.raises(SchemaError, match="left recursion"):
        compile_grammar("root ::= root \"a\" | \"a\"", byte_vocab)


def test_special_tokens_by_name(llama31_tokenizer, llama31_vocab):
    """``<|python_tag|>`` is that special token only: never its text spelled out in bytes."""
    from enforcer import TokenRejectedError, compile_grammar

    grammar = compile_grammar('root ::= [a-z]* <|python_tag|> "{}"', llama31_vocab)
    matcher = grammar.matcher()
    for t in llama31_tokenizer.encode("call", add_special_tokens=False):
        matcher.advance(t)
    assert 128010 in matcher.allowed_token_ids()
    matcher.advance(128010)
    assert not matcher.is_token_allowed(128010)
    for t in llama31_tokenizer.encode("{}", add_special_tokens=False):
        matcher.advance(t)
    assert matcher.is_complete()
    spelled = grammar.matcher()
    with pytest.raises(TokenRejectedError):
        for t in llama31_tokenizer.encode("<|python_tag|>", add_special_tokens=False, split_special_tokens=True):
            spelled.advance(t)
    with pytest.raises(SchemaError, match=r"special token '<\|nope\|>', which this vocabulary does not have"):
        compile_grammar('root ::= <|nope|>', llama31_vocab)
