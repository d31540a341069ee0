"""Model output back to tool calls: ``[{"name": ..., "arguments": {...}}]``, each checked against
its tool's ``parameters`` with ``jsonschema`` (output generated under :func:`compile_tools` always
passes; this is also the check for output produced without it)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..errors import OptionError, ToolCallError
from ..grammar.text import Reasoning
from .formats import ToolFormat, tool_format
from .spec import Tool, normalize_tools


def parse_tool_calls(output: str | Sequence[int], tools: Any, *, format: str | ToolFormat = "json",
                     vocab: Any = None, reasoning: Any = None) -> list[dict]:
    """The tool calls in ``output`` (text, or token ids with ``vocab`` to decode them).

    Returns ``[]`` when the output is plain text (no trigger; for bare JSON formats, text not
    starting with ``{`` or ``[``). Raises :class:`ToolCallError` for a malformed call, an unknown
    tool or arguments that do not validate. The format's layout reads the calls: the same object
    that wrote their grammar for :func:`~enforcer.compile_tools`.
    """
    specs = {t.name: t for t in normalize_tools(tools)}
    fmt = tool_format(format)
    try:
        block = Reasoning.of(reasoning)
    except ValueError as e:
        raise OptionError(str(e)) from None
    text = output if isinstance(output, str) else _decode(output, vocab)
    if block is not None and text.lstrip().startswith(block.begin):
        end = text.find(block.end)
        if end < 0:
            raise ToolCallError(f"the reasoning block never ends ({block.end!r} missing)")
        text = text[end + len(block.end):]
    return [_checked(call, specs, fmt) for call in fmt.layout.find_calls(fmt, text)]


def _decode(token_ids: Sequence[int], vocab: Any) -> str:
    if vocab is None:
        raise ToolCallError("token ids need a vocabulary to decode them: pass vocab=")
    data = bytearray()
    for token_id in token_ids:
        token_id = int(token_id)
        if token_id in vocab.eos_token_ids:
            break
        piece = vocab.token_bytes(token_id)
        data += piece if piece is not None else (vocab.special_token_text(token_id) or "").encode()
    return data.decode("utf-8", errors="replace")


def _checked(call: Any, tools: dict[str, Tool], fmt: ToolFormat) -> dict:
    import jsonschema

    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise ToolCallError(f"a tool call must be an object with a 'name', got {json.dumps(call)[:80]}")
    name = call["name"]
    tool = tools.get(name)
    if tool is None:
        raise ToolCallError(f"the model called {name!r}, which is not one of the tools ({', '.join(tools)})")
    key = fmt.arguments_key if fmt.arguments_key in call else next(
        (k for k in ("arguments", "parameters") if k in call), None)
    if key is None:
        raise ToolCallError(f"the call to {name!r} has no {fmt.arguments_key!r}")
    arguments = call[key]
    if isinstance(arguments, str):  # OpenAI's wire format carries arguments as JSON text
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise ToolCallError(f"the arguments of {name!r} are not valid JSON: {exc}") from None
    try:
        jsonschema.validate(arguments, tool.parameters, cls=jsonschema.Draft202012Validator)
    except jsonschema.ValidationError as exc:
        raise ToolCallError(f"the arguments of {name!r} do not match its parameters: {exc.message} "
                            f"(at {'/'.join(map(str, exc.absolute_path)) or 'the top level'})") from None
    return {"name": name, "arguments": arguments}
