"""Model output back to tool calls: ``[{"name": ..., "arguments": {...}}]``, each checked against
its tool's ``parameters`` with ``jsonschema`` (output generated under :func:`compile_tools` always
passes; this is also the check for output produced without it)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..errors import ToolCallError
from ..grammar.text import Reasoning
from .formats import ToolFormat, tool_format
from .spec import Tool, normalize_tools

_DECODER = json.JSONDecoder()


def parse_tool_calls(output: str | Sequence[int], tools: Any, *, format: str | ToolFormat = "json",
                     vocab: Any = None, reasoning: Any = None) -> list[dict]:
    """The tool calls in ``output`` (text, or token ids with ``vocab`` to decode them).

    Returns ``[]`` when the output is plain text (no trigger; for bare JSON formats, text not
    starting with ``{`` or ``[``). Raises :class:`ToolCallError` for a malformed call, an unknown
    tool or arguments that do not validate.
    """
    specs = {t.name: t for t in normalize_tools(tools)}
    fmt = tool_format(format)
    text = output if isinstance(output, str) else _decode(output, vocab)
    block = Reasoning.of(reasoning)
    if block is not None and text.lstrip().startswith(block.begin):
        end = text.find(block.end)
        if end < 0:
            raise ToolCallError(f"the reasoning block never ends ({block.end!r} missing)")
        text = text[end + len(block.end):]
    return [_checked(call, specs, fmt) for call in _raw_calls(text, fmt)]


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


def _raw_calls(text: str, fmt: ToolFormat) -> list[Any]:
    trigger = fmt.trigger
    if trigger is None:
        body = text.lstrip()
        if not body.startswith(("{", "[")):
            return []
        return _json_values(body, fmt)
    start = text.find(trigger)
    if start < 0:
        return []
    rest = text[start:]
    if not fmt.per_call:
        return _json_values(_strip_markers(rest, fmt), fmt)
    calls: list[Any] = []
    while rest.startswith(fmt.begin[0]):
        rest = _expect(rest, "".join(fmt.begin))
        values, consumed = _one_value(rest)
        calls.append(values)
        rest = _expect(rest[consumed:], "".join(fmt.end))
        if fmt.separator and rest.startswith(fmt.separator + fmt.begin[0]):
            rest = rest[len(fmt.separator):]
    if rest.strip():
        raise ToolCallError(f"unexpected text after the tool calls: {rest[:40]!r}")
    return calls


def _strip_markers(text: str, fmt: ToolFormat) -> str:
    text = _expect(text, "".join(fmt.begin))
    end = "".join(fmt.end)
    if end:
        cut = text.rfind(end)
        if cut < 0:
            raise ToolCallError(f"the tool calls do not end with {end!r}")
        text = text[:cut]
    return text


def _expect(text: str, prefix: str) -> str:
    if not text.startswith(prefix):
        raise ToolCallError(f"expected {prefix!r} at {text[:40]!r}")
    return text[len(prefix):]


def _one_value(text: str) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text)
    except json.JSONDecodeError as exc:
        raise ToolCallError(f"a tool call is not valid JSON: {exc}") from None


def _json_values(text: str, fmt: ToolFormat) -> list[Any]:
    """One JSON value, an array of calls, or values joined by the format's separator."""
    values: list[Any] = []
    rest = text.strip()
    while True:
        value, consumed = _one_value(rest)
        values.extend(value if isinstance(value, list) else [value])
        rest = rest[consumed:]
        sep = fmt.separator.strip()
        if sep and rest.lstrip().startswith(sep):
            rest = rest.lstrip()[len(sep):].lstrip()
            continue
        if rest.strip():
            raise ToolCallError(f"unexpected text after the tool calls: {rest.strip()[:40]!r}")
        return values


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
