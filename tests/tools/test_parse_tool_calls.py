"""parse_tool_calls: text or token ids back to validated calls, with errors that say what is wrong."""

from __future__ import annotations

import pytest

from enforcer import ToolCallError, parse_tool_calls

from .test_compile_tools import TOOLS


def test_each_format():
    weather = {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert parse_tool_calls('{"name": "get_weather", "arguments": {"city": "Oslo"}}', TOOLS) == [weather]
    assert parse_tool_calls('  [{"name": "get_weather", "arguments": {"city": "Oslo"}}]', TOOLS) == [weather]
    assert parse_tool_calls('{"name": "get_weather", "parameters": {"city": "Oslo"}}; '
                            '{"name": "get_weather", "parameters": {"city": "Oslo"}}', TOOLS,
                            format="llama3_json") == [weather, weather]
    assert parse_tool_calls('<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo"}}', TOOLS,
                            format="llama3_python_tag") == [weather]
    assert parse_tool_calls('I will look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}'
                            '\n</tool_call>', TOOLS, format="hermes") == [weather]
    assert parse_tool_calls('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}}]', TOOLS,
                            format="mistral") == [weather]
    assert parse_tool_calls('{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}', TOOLS) == [weather]


def test_text_is_no_call():
    assert parse_tool_calls("The weather is fine.", TOOLS) == []
    assert parse_tool_calls("No tag here.", TOOLS, format="hermes") == []
    assert parse_tool_calls("<think>{\"name\": 1}</think>plain", TOOLS, reasoning=True) == []


@pytest.mark.parametrize("text, message", [
    ('{"name": "teleport", "arguments": {}}', "'teleport', which is not one of the tools"),
    ('{"name": "get_weather", "arguments": {"city": 3}}', "do not match its parameters"),
    ('{"name": "get_weather", "arguments": {"town": "Oslo"}}', "do not match its parameters"),
    ('{"name": "get_weather"}', "has no 'arguments'"),
    ('{"name": "get_weather", "arguments": {"city": ', "not valid JSON"),
    ('{"name": "get_weather", "arguments": {"city": "Oslo"}} trailing', "unexpected text"),
    ('["get_weather"]', "must be an object with a 'name'"),
])
def test_bad_calls_raise(text, message):
    with pytest.raises(ToolCallError, match=message):
        parse_tool_calls(text, TOOLS)


def test_token_ids_need_a_vocabulary(llama31_tokenizer, llama31_vocab):
    ids = [128010] + llama31_tokenizer.encode('{"name": "get_weather", "parameters": {"city": "Oslo"}}',
                                              add_special_tokens=False) + [128008]
    assert parse_tool_calls(ids, TOOLS, format="llama3_python_tag", vocab=llama31_vocab) == [
        {"name": "get_weather", "arguments": {"city": "Oslo"}}]
    with pytest.raises(ToolCallError, match="vocab="):
        parse_tool_calls(ids, TOOLS, format="llama3_python_tag")
