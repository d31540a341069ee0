"""compile_tools: every output sampled from the grammar is a valid call (or text) of the kind
``tool_choice`` asks for, in the chosen format, with real tokenizers and real special tokens."""

from __future__ import annotations

import json
import random

import jsonschema
import pytest

from enforcer import (Reasoning, SchemaError, TokenRejectedError, compile_json_schema, compile_tools,
                      parse_tool_calls)
from enforcer.tools import FORMATS

from ..schema.test_json_schema import accepted as accepts

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "minLength": 1, "maxLength": 12},
        "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city"], "additionalProperties": False}}}
CALCULATOR = {"type": "function", "function": {
    "name": "calculate", "description": "Evaluate arithmetic",
    "parameters": {"type": "object", "properties": {"expression": {"$ref": "#/$defs/expr"}},
                   "required": ["expression"], "additionalProperties": False,
                   "$defs": {"expr": {"type": "string", "pattern": "^[0-9+*/() -]{1,12}$"}}}}}
SEARCH = {"type": "function", "function": {
    "name": "search", "description": "Web search",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "maxLength": 10},
        "max_results": {"type": "integer", "minimum": 1, "maximum": 10}},
        "required": ["query", "max_results"], "additionalProperties": False}}}
TOOLS = [WEATHER, CALCULATOR, SEARCH]
PARAMETERS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
CHOICES = ["auto", "required", "none", {"type": "function", "function": {"name": "calculate"}}]


def walk(grammar, vocab, rng: random.Random, *, max_tokens: int = 120, stop_bias: float = 0.5):
    """Sample allowed tokens (specials included) until EOS. Returns (ids, specials seen allowed)
    or None when the cap is reached first. Checks the mask, ``is_token_allowed`` and ``advance``
    agree, and that EOS comes as the whole set exactly when the output is complete."""
    matcher = grammar.matcher()
    ids, offered = [], set()
    others = vocab.special_token_ids - vocab.eos_token_ids
    for _ in range(max_tokens):
        allowed = matcher.allowed_token_ids()
        assert allowed, f"dead end after {ids}"
        eos = vocab.eos_token_ids & set(allowed)
        assert bool(eos) == matcher.is_complete()
        assert not eos or eos == vocab.eos_token_ids
        offered |= others & set(allowed)
        rest = [t for t in allowed if t not in vocab.eos_token_ids]
        if eos and (not rest or rng.random() < stop_bias):
            matcher.advance(min(eos))
            return ids, offered
        # prefer short tokens now and then, so strings and texts close within the cap
        token = rng.choice(rest if rng.random() < 0.5 else sorted(rest, key=lambda t: (vocab.token_bytes(t) or b"").count(b" "))[:50])
        assert matcher.is_token_allowed(token)
        matcher.advance(token)
        ids.append(token)
    return None


def check_calls(calls: list[dict], choice, parallel: bool) -> None:
    for call in calls:
        jsonschema.validate(call["arguments"], PARAMETERS[call["name"]])
    if choice == "none":
        assert calls == []
    elif choice == "required" or isinstance(choice, dict):
        assert calls
    if isinstance(choice, dict):
        assert {c["name"] for c in calls} == {choice["function"]["name"]}
    if not parallel:
        assert len(calls) <= 1


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("choice", CHOICES, ids=["auto", "required", "none", "named"])
@pytest.mark.parametrize("parallel", [False, True], ids=["single", "parallel"])
def test_sampled_outputs_are_valid_calls(fmt, choice, parallel, llama31_vocab):
    grammar = compile_tools(TOOLS, llama31_vocab, tool_choice=choice, parallel_tool_calls=parallel, format=fmt,
                            max_text_length=40, max_calls=3)
    rng = random.Random(f"{fmt}-{choice}-{parallel}")
    finished = 0
    for _ in range(6):
        result = walk(grammar, llama31_vocab, rng)
        if result is None:
            continue
        finished += 1
        calls = parse_tool_calls(result[0], TOOLS, format=fmt, vocab=llama31_vocab)
        check_calls(calls, choice, parallel)
    assert finished >= 2


def test_python_tag_is_only_the_trigger_and_eom_ends_the_call(llama31_tokenizer, llama31_vocab):
    python_tag, eom, eot = 128010, 128008, 128009
    assert llama31_vocab.special_token_id("<|python_tag|>") == python_tag
    grammar = compile_tools(TOOLS, llama31_vocab, format="llama3_python_tag", max_text_length=40)
    rng = random.Random(3)
    seen_tag = False
    for _ in range(12):
        result = walk(grammar, llama31_vocab, rng)
        if result is not None:
            assert result[1] <= {python_tag}  # no other special token is ever offered
            seen_tag |= python_tag in result[1]
    assert seen_tag
    # text first, then the trigger, then the call: from there only the call's bytes, then only EOS
    matcher = grammar.matcher()
    for t in llama31_tokenizer.encode("Let me check.", add_special_tokens=False):
        matcher.advance(t)
    assert matcher.is_complete() and matcher.is_token_allowed(python_tag)
    matcher.advance(python_tag)
    assert not matcher.is_token_allowed(python_tag) and not matcher.is_complete()
    call = '{"name":"get_weather","parameters":{"city":"Paris"}}'
    for t in llama31_tokenizer.encode(call, add_special_tokens=False):
        assert not matcher.is_token_allowed(python_tag)
        matcher.advance(t)
    assert set(matcher.allowed_token_ids()) == {128001, eom, eot}
    matcher.advance(eom)
    assert matcher.is_terminated()
    # the bare JSON formats never offer the tag
    plain = compile_tools(TOOLS, llama31_vocab, format="llama3_json").matcher()
    assert python_tag not in plain.allowed_token_ids()
    with pytest.raises(TokenRejectedError):
        plain.advance(python_tag)


def test_required_and_named_calls_come_first(llama31_tokenizer, llama31_vocab):
    grammar = compile_tools(TOOLS, llama31_vocab, tool_choice="required", format="llama3_python_tag")
    assert grammar.matcher().allowed_token_ids() == [128010]
    named = compile_tools(TOOLS, llama31_vocab, tool_choice={"type": "function", "function": {"name": "search"}},
                          format="hermes")
    matcher = named.matcher()
    for t in llama31_tokenizer.encode('<tool_call>\n{"name":"', add_special_tokens=False):
        matcher.advance(t)
    with pytest.raises(TokenRejectedError):
        matcher.advance(llama31_tokenizer.encode("get", add_special_tokens=False)[0])


def test_parallel_calls_only_when_asked(llama31_tokenizer, llama31_vocab):
    one = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    two = one + "\n" + one.replace("Paris", "Rome")
    for parallel, expected in ((False, False), (True, True)):
        grammar = compile_tools(TOOLS, llama31_vocab, format="hermes", parallel_tool_calls=parallel,
                                whitespace="flexible")
        assert accepts(grammar, llama31_tokenizer, one)
        assert accepts(grammar, llama31_tokenizer, two) is expected
    calls = parse_tool_calls(two, TOOLS, format="hermes")
    assert [c["arguments"]["city"] for c in calls] == ["Paris", "Rome"]
    capped = compile_tools(TOOLS, llama31_vocab, format="hermes", parallel_tool_calls=True, max_calls=2,
                           whitespace="flexible")
    assert accepts(capped, llama31_tokenizer, two)
    assert not accepts(capped, llama31_tokenizer, two + "\n" + one)
    json_array = compile_tools(TOOLS, llama31_vocab, format="json", parallel_tool_calls=True)
    assert accepts(json_array, llama31_tokenizer,
                   '[{"name":"search","arguments":{"query":"a","max_results":2}},'
                   '{"name":"calculate","arguments":{"expression":"1+1"}}]')


def test_auto_text_cannot_hide_a_literal_trigger(llama31_tokenizer, llama31_vocab):
    grammar = compile_tools(TOOLS, llama31_vocab, format="hermes", whitespace="flexible")
    assert accepts(grammar, llama31_tokenizer, "Sure, <tool_ and more text")
    assert not accepts(grammar, llama31_tokenizer, "Sure. <tool_call> free text after the trigger")
    assert accepts(grammar, llama31_tokenizer,
                   'Sure. <tool_call>\n{"name": "calculate", "arguments": {"expression": "2*(3+4)"}}\n</tool_call>')
    assert not accepts(grammar, llama31_tokenizer,
                       'Sure. <tool_call>\n{"name": "calculate", "arguments": {"expression": "2^3"}}\n</tool_call>')
    none = compile_tools(TOOLS, llama31_vocab, format="json", tool_choice="none")
    assert accepts(none, llama31_tokenizer, "It is sunny in Paris.")
    assert not accepts(none, llama31_tokenizer, ' {"name":"search"')


def test_mistral_tool_calls_token(mistral_common_sp):
    from enforcer import Vocabulary

    vocab = Vocabulary.from_pretrained(mistral_common_sp)
    grammar = compile_tools(TOOLS, vocab, format="mistral", tool_choice="required")
    matcher = grammar.matcher()
    assert matcher.allowed_token_ids() == [vocab.special_token_id("[TOOL_CALLS]")]
    matcher.advance(5)
    rng = random.Random(0)
    result = walk(grammar, vocab, rng, max_tokens=200, stop_bias=1.0)
    assert result is not None
    calls = parse_tool_calls(result[0], TOOLS, format="mistral", vocab=vocab)
    assert len(calls) == 1


def test_reasoning_block_is_free_but_bounded(llama31_tokenizer, llama31_vocab):
    reasoning = Reasoning(max_length=30)
    grammar = compile_tools(TOOLS, llama31_vocab, tool_choice="required", format="json", reasoning=reasoning)
    call = '{"name":"calculate","arguments":{"expression":"6*7"}}'
    assert accepts(grammar, llama31_tokenizer, "<think>\nThe user wants 6 times 7.\n</think>\n\n" + call)
    assert accepts(grammar, llama31_tokenizer, call)  # the block is optional
    assert not accepts(grammar, llama31_tokenizer, "<think>" + "x" * 31 + "</think>" + call)
    assert not accepts(grammar, llama31_tokenizer, "<think>fine</think> and text " + call)
    rng = random.Random(5)
    finished = 0
    for _ in range(8):
        result = walk(grammar, llama31_vocab, rng, max_tokens=150, stop_bias=1.0)
        if result is None:
            continue
        finished += 1
        text = llama31_tokenizer.decode(result[0])
        if text.startswith("<think>"):
            inner = text[len("<think>"): text.index("</think>")]
            assert len(inner) <= 30
        calls = parse_tool_calls(text, TOOLS, format="json", reasoning=reasoning)
        assert len(calls) == 1
    assert finished >= 3
    required = Reasoning(begin="[THINK]", end="[/THINK]", max_length=10, required=True)
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    answer = compile_json_schema(schema, llama31_vocab, reasoning=required)
    assert accepts(answer, llama31_tokenizer, '[THINK]6 x 7[/THINK]{"answer":42}')
    assert not accepts(answer, llama31_tokenizer, '{"answer":42}')
    assert accepts(compile_json_schema(schema, llama31_vocab, reasoning=True), llama31_tokenizer,
                   '<think>ok</think>\n{"answer":42}')


def test_pydantic_models_and_functions_as_tools(llama31_tokenizer, llama31_vocab):
    pydantic = pytest.importorskip("pydantic")

    class Lookup(pydantic.BaseModel):
        """Look up a word."""
        word: str
        limit: int = 3

    def convert(amount: float, currency: str = "EUR") -> str:
        """Convert money.

        Longer text that is not part of the description."""
        return ""

    grammar = compile_tools([Lookup, convert], llama31_vocab, tool_choice="required")
    assert accepts(grammar, llama31_tokenizer, '{"name":"Lookup","arguments":{"word":"cat"}}')
    assert accepts(grammar, llama31_tokenizer, '{"name":"convert","arguments":{"amount":2.5,"currency":"USD"}}')
    assert not accepts(grammar, llama31_tokenizer, '{"name":"convert","arguments":{"currency":"USD"}}')
    calls = parse_tool_calls('{"name":"convert","arguments":{"amount":1}}', [Lookup, convert])
    assert calls == [{"name": "convert", "arguments": {"amount": 1}}]


@pytest.mark.parametrize("tools, choice, message", [
    ([{"type": "function", "function": {"parameters": {"type": "object"}}}], "auto", "needs a non-empty 'name'"),
    ([WEATHER, WEATHER], "auto", "two tools are named 'get_weather'"),
    ([{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}], "auto", "must describe an object"),
    ([{"type": "function", "function": {"name": "f", "parameters": ["x"]}}], "auto", "must be a JSON Schema object"),
    ([WEATHER], {"type": "function", "function": {"name": "nope"}}, "'nope', which is not one of the tools"),
    ([WEATHER], "sometimes", "which is not one of the tools"),
    ([WEATHER], 7, "tool_choice must be"),
    ([], "auto", "tools is empty"),
    ([{"type": "function", "function": {"name": "bad name!"}}], "auto", "must be 1-64 letters"),
])
def test_bad_tools_are_schema_errors(tools, choice, message, llama31_vocab):
    with pytest.raises(SchemaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_tools(tools, llama31_vocab, tool_choice=choice)


def test_parameters_schema_errors_name_the_tool(llama31_vocab):
    bad = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"type": "strin"}}}}}
    with pytest.raises(SchemaError):
        compile_tools([bad], llama31_vocab)
    tools_json = json.dumps([WEATHER])
    with pytest.raises(SchemaError, match="list of tools"):
        compile_tools(tools_json, llama31_vocab)


def _tool(name, parameters, *, bare=False):
    function = {"name": name, "parameters": parameters}
    return function if bare else {"type": "function", "function": function}


BAD_MINIMUM = {"type": "object", "properties": {"x": {"type": "integer", "minimum": "zero"}}}
BAD_REF = {"type": "object", "properties": {"y": {"$ref": "#/$defs/d"}},
           "$defs": {"d": {"type": "array", "uniqueItems": True}}}  # unique items of any JSON value: refused


@pytest.mark.parametrize("fmt, parallel", [("json", False), ("json", True), ("mistral", False), ("hermes", True)])
def test_parameter_errors_point_into_the_tools_list(fmt, parallel, llama31_vocab):
    """The pointer names the place in the list the user passed, not in the schema enforcer
    builds around it (an anyOf of calls, an array when parallel)."""
    tools = [WEATHER, _tool("f", BAD_MINIMUM)]
    with pytest.raises(SchemaError) as caught:
        compile_tools(tools, llama31_vocab, format=fmt, parallel_tool_calls=parallel)
    assert caught.value.pointer == "#/1/function/parameters/properties/x/minimum"
    assert caught.value.keyword == "minimum"
    assert "#/1/function/parameters/properties/x/minimum" in str(caught.value)
    with pytest.raises(SchemaError) as caught:  # a bare function object: no "function" level
        compile_tools([_tool("f", BAD_MINIMUM, bare=True)], llama31_vocab, format=fmt, parallel_tool_calls=parallel)
    assert caught.value.pointer == "#/0/parameters/properties/x/minimum"


def test_errors_inside_a_tools_own_defs_name_that_tool(llama31_vocab):
    from enforcer import UnsupportedSchemaError

    tools = [CALCULATOR, _tool("g", BAD_REF), WEATHER]
    with pytest.raises(UnsupportedSchemaError) as caught:
        compile_tools(tools, llama31_vocab)
    assert caught.value.pointer == "#/1/function/parameters/$defs/d" and caught.value.keyword == "uniqueItems"
    named = {"type": "function", "function": {"name": "g"}}  # only g can be called: still its index in the list
    with pytest.raises(UnsupportedSchemaError) as caught:
        compile_tools(tools, llama31_vocab, tool_choice=named)
    assert caught.value.pointer == "#/1/function/parameters/$defs/d"


@pytest.mark.parametrize("options, message", [
    ({"format": "chatml"}, "unknown tool call format 'chatml'"),
    ({"max_calls": 0, "parallel_tool_calls": True}, "max_calls must be at least 1"),
    ({"max_calls": "3", "parallel_tool_calls": True}, "max_calls must be"),
    ({"max_calls": True, "parallel_tool_calls": True}, "max_calls must be"),
    ({"parallel_tool_calls": "yes"}, "parallel_tool_calls must be"),
    ({"max_text_length": -1}, "max_text_length must be"),
    ({"max_text_length": 2.5}, "max_text_length must be"),
])
def test_bad_options_are_option_errors(options, message, llama31_vocab):
    from enforcer import OptionError

    with pytest.raises(OptionError, match=message):
        compile_tools([WEATHER], llama31_vocab, **options)


def test_parse_with_an_unknown_format_is_an_option_error():
    from enforcer import OptionError

    with pytest.raises(OptionError, match="unknown tool call format"):
        parse_tool_calls("{}", TOOLS, format="chatml")


def test_approximations_point_into_the_tools_list(llama31_vocab):
    loose = _tool("h", {"type": "object", "properties": {"z": {"type": "array", "uniqueItems": True}}})
    with pytest.warns(UserWarning):
        grammar = compile_tools([WEATHER, loose], llama31_vocab, strict=False)
    assert [p for p, _, _ in grammar.approximations] == ["#/1/function/parameters/properties/z"]
