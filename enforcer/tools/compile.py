"""Tool calling as a grammar: optional reasoning, free text, a trigger, then calls whose
arguments follow each tool's ``parameters`` schema exactly.

The calls themselves are one JSON Schema (``anyOf`` over ``{"name": const, "arguments": params}``,
or an array of those), compiled by the JSON Schema front end, so every keyword it enforces holds
in tool arguments too. Each tool's ``parameters`` is embedded with an ``$id`` of its own, so its
``$ref: "#/$defs/..."`` pointers keep resolving inside it. The text around the calls (the
format's markers, the prose allowed before a call) is grammar IR around that schema's start rule.

What each ``tool_choice`` allows:

* ``"auto"``: text, then optionally the calls. In formats with a trigger (``<|python_tag|>``,
  ``<tool_call>``, ``[TOOL_CALLS]``) the text cannot contain the trigger, so once the model
  writes it the call is fully constrained. Bare JSON formats have no trigger: the answer is
  either the calls or text that does not start with ``{``/``[``.
* ``"required"`` or a named tool: the calls come first (after the reasoning block, if any).
* ``"none"``: text only, which cannot contain the trigger (or, for bare JSON, start like a call).
"""

from __future__ import annotations

from typing import Any

from ..compile import _compiler
from ..engine import Grammar
from ..grammar import ir
from ..grammar.text import DEFAULT_TEXT_LENGTH, Reasoning, free_text, marker, markers, with_reasoning, wrap
from ..vocab import Vocabulary
from .formats import ToolFormat, tool_format
from .spec import Tool, normalize_tools, resolve_tool_choice


def compile_tools(tools: Any, vocab: Vocabulary, *, tool_choice: Any = "auto", parallel_tool_calls: bool = False,
                  format: str | ToolFormat = "json", reasoning: Any = None, max_calls: int | None = None,
                  max_text_length: int = DEFAULT_TEXT_LENGTH, compiler: Any = None, **json_options: Any) -> Grammar:
    """The output is a tool call (or text, or several calls) in ``format``.

    ``tools``: OpenAI tool objects, pydantic model classes or typed functions. ``tool_choice``:
    ``"auto"``, ``"required"``, ``"none"`` or ``{"type": "function", "function": {"name": ...}}``.
    ``parallel_tool_calls``: allow several calls (at most ``max_calls``), else exactly one.
    ``reasoning``: a bounded free-text block first (``True`` for ``<think>…</think>``).
    ``max_text_length``: the bound, in characters, of free text. ``json_options`` go to the
    JSON Schema compiler (``whitespace``, ``property_order``, ``strict``, ``max_whitespace``).
    """
    from ..schema.compiler import SchemaCompiler

    specs = normalize_tools(tools)
    fmt = tool_format(format)
    mode, callable_tools = resolve_tool_choice(tool_choice, specs)
    if max_calls is not None and max_calls < 1:
        raise ValueError(f"max_calls must be at least 1, got {max_calls}")
    as_array = fmt.calls == "array" or (fmt.calls == "array_if_parallel" and parallel_tool_calls)
    limit = max_calls if parallel_tool_calls else 1
    payload = calls_schema(callable_tools, fmt, array=as_array, max_items=limit)
    max_ws = json_options.pop("max_whitespace", 8)
    front = SchemaCompiler(payload, max_ws=max_ws, **json_options)
    rules = front.compile()
    calls = _calls(fmt, ir.Ref(rules.start), vocab, repeat=not as_array and parallel_tool_calls, max_calls=max_calls)
    body = _answer(mode, fmt, calls, vocab, max_text_length)
    rules = with_reasoning(wrap(rules, body), Reasoning.of(reasoning), vocab)
    grammar = _compiler(vocab, compiler).build(rules, source=f"tools ({fmt.name}, {mode})")
    grammar.approximations = front.approximations
    return grammar


def call_schema(tool: Tool, fmt: ToolFormat, index: int) -> dict:
    """``{"name": <the tool's name>, <arguments key>: <its parameters>}``, nothing else."""
    parameters = dict(tool.parameters)
    parameters.setdefault("$id", f"urn:enforcer:tool:{index}")  # its own base: "#/$defs/..." stays inside
    return {"type": "object",
            "properties": {"name": {"const": tool.name}, fmt.arguments_key: parameters},
            "required": ["name", fmt.arguments_key], "additionalProperties": False}


def calls_schema(tools: list[Tool], fmt: ToolFormat, *, array: bool, max_items: int | None) -> dict:
    one = [call_schema(t, fmt, i) for i, t in enumerate(tools)]
    call = one[0] if len(one) == 1 else {"anyOf": one}
    if not array:
        return call
    schema = {"type": "array", "items": call, "minItems": 1}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


def _calls(fmt: ToolFormat, call: ir.Node, vocab: Vocabulary, *, repeat: bool, max_calls: int | None) -> ir.Node:
    begin, end = markers(fmt.begin, vocab), markers(fmt.end, vocab)
    unit = ir.seq(begin, call, end) if fmt.per_call else call
    more = ir.repeat(ir.seq(ir.literal(fmt.separator), unit), 0, None if max_calls is None else max_calls - 1) \
        if repeat else ir.EMPTY
    group = ir.seq(unit, more)
    return group if fmt.per_call else ir.seq(begin, group, end)


def _answer(mode: str, fmt: ToolFormat, calls: ir.Node, vocab: Vocabulary, max_text_length: int) -> ir.Node:
    if mode == "required":
        return calls
    if fmt.trigger is not None:
        text = free_text(max_text_length, excluding=[marker(fmt.trigger, vocab)])
        return text if mode == "none" else ir.seq(text, ir.optional(calls))
    text = free_text(max_text_length, no_leading=ir.ByteClass(((ord("["), ord("[")), (ord("{"), ord("{")))))
    return text if mode == "none" else ir.alt(calls, text)
