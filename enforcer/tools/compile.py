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
from ..errors import OptionError, SchemaError
from ..grammar import ir
from ..grammar.text import DEFAULT_TEXT_LENGTH, Reasoning, with_reasoning, wrap
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

    A bad tool list or ``tool_choice`` raises :class:`~enforcer.SchemaError` (an error in a
    tool's ``parameters`` points into ``tools``: ``#/1/function/parameters/...``); a bad option
    raises :class:`~enforcer.OptionError`.
    """
    from ..schema.compiler import SchemaCompiler

    specs = normalize_tools(tools)
    fmt = tool_format(format)
    mode, callable_tools = resolve_tool_choice(tool_choice, specs)
    _check_options(parallel_tool_calls, max_calls, max_text_length)
    try:
        block = Reasoning.of(reasoning)
    except ValueError as e:
        raise OptionError(str(e)) from None
    as_array = fmt.as_array(parallel_tool_calls)
    limit = max_calls if parallel_tool_calls else 1
    payload = calls_schema(callable_tools, fmt, array=as_array, max_items=limit)
    options = dict(json_options)
    options["max_ws"] = options.pop("max_whitespace", 8)
    layout = fmt.layout
    owner = _compiler(vocab, compiler)
    try:  # a schema error may come from any step up to the grammar
        front = SchemaCompiler(payload, limits=owner.limits, is_empty=owner.is_empty, **options)
        rules = front.compile()
        calls = layout.calls(fmt, ir.Ref(rules.start), vocab, repeat=not as_array and parallel_tool_calls,
                             max_calls=max_calls)
        body = layout.answer(fmt, mode, calls, vocab, max_text_length)
        rules = with_reasoning(wrap(rules, body), block, vocab)
        grammar = owner.build(rules, source=f"tools ({fmt.name}, {mode})")
        grammar.approximations = list(front.approximations)
    except SchemaError as e:
        pointer = _in_tools_list(e.pointer, e.keyword, callable_tools, fmt, as_array)
        raise (e if pointer is None else e.with_pointer(pointer)) from None
    grammar.approximations = [(_in_tools_list(pointer, keyword, callable_tools, fmt, as_array) or pointer, keyword, what)
                              for pointer, keyword, what in grammar.approximations]
    return grammar


def _check_options(parallel_tool_calls: Any, max_calls: Any, max_text_length: Any) -> None:
    if not isinstance(parallel_tool_calls, bool):
        raise OptionError(f"parallel_tool_calls must be True or False, got {parallel_tool_calls!r}")
    if max_calls is not None and (not isinstance(max_calls, int) or isinstance(max_calls, bool)):
        raise OptionError(f"max_calls must be an integer or None, got {max_calls!r}")
    if max_calls is not None and max_calls < 1:
        raise OptionError(f"max_calls must be at least 1, got {max_calls}")
    if not isinstance(max_text_length, int) or isinstance(max_text_length, bool) or max_text_length < 0:
        raise OptionError(f"max_text_length must be an integer >= 0, got {max_text_length!r}")


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


def _parameters_pointer(position: int, count: int, fmt: ToolFormat, array: bool) -> str:
    """Where :func:`calls_schema` put the parameters of the tool at ``position`` of ``count``."""
    pointer = "#/items" if array else "#"
    if count > 1:
        pointer += f"/anyOf/{position}"
    return f"{pointer}/properties/{fmt.arguments_key}"


def _in_tools_list(pointer: str, keyword: str | None, tools: list[Tool], fmt: ToolFormat, array: bool) -> str | None:
    """A pointer into the schema built around the tools, moved into the list the user passed
    (``#/1/function/parameters/...``); ``None`` if it is not inside a tool's parameters.

    The schema compiler reports a pointer into the whole calls schema (with the position of the
    tool in the union of calls, or without it), or, for a place reached through a ``$ref``
    inside a tool's own ``$defs``, into that tool's parameters alone (their ``$id`` is the
    base)."""
    pointer = pointer or ""
    for position, tool in enumerate(tools):
        prefix = _parameters_pointer(position, len(tools), fmt, array)
        if pointer == prefix or pointer.startswith(prefix + "/"):
            return tool.pointer + pointer[len(prefix):]
    # Without the position (the union of calls compiled as one, or a $ref's own base): the tool
    # is the first whose parameters have that place, holding the keyword named.
    merged = _parameters_pointer(0, 1, fmt, array)
    inner = pointer[len(merged):] if pointer == merged or pointer.startswith(merged + "/") else pointer[1:]
    if pointer.startswith("#"):
        for tool in tools:
            found = _resolve(tool.parameters, "#" + inner)
            if found is not _MISSING and (keyword is None or (isinstance(found, dict) and keyword in found)):
                return tool.pointer + inner
    return None


_MISSING = object()


def _resolve(schema: Any, pointer: str) -> Any:
    """The value at a JSON pointer (``#/a/b``) in ``schema``, or ``_MISSING``."""
    node = schema
    for part in pointer[2:].split("/") if len(pointer) > 1 else ():
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node
