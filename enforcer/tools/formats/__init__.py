"""How each model family writes tool calls: the text around the JSON and how calls repeat.

Pick a format by name (``compile_tools(..., format="hermes")``) or pass a :class:`ToolFormat`.
Strings in ``begin``/``end`` become special tokens where the vocabulary has a special token of
exactly that text (Llama 3.1's ``<|python_tag|>``, Mistral's ``[TOOL_CALLS]``) and literal text
otherwise (``<tool_call>`` in most Hermes-style vocabularies).

One module per family (:mod:`.json`, :mod:`.llama3`, :mod:`.hermes`, :mod:`.mistral`); the grammar
of a family's calls and the reading of them back live together in its layout (see :mod:`.base`).
"""

from __future__ import annotations

import json as _json
from typing import Any

from ...errors import OptionError
from .base import Layout, ToolFormat
from .hermes import HERMES
from .json import JSON
from .llama3 import LLAMA3_JSON, LLAMA3_PYTHON_TAG
from .mistral import MISTRAL

__all__ = ["FORMATS", "Layout", "ToolFormat", "describe_tools", "tool_format"]

FORMATS: dict[str, ToolFormat] = {f.name: f for f in (JSON, LLAMA3_JSON, LLAMA3_PYTHON_TAG, HERMES, MISTRAL)}


def tool_format(format: str | ToolFormat) -> ToolFormat:
    """The format named ``format`` (or ``format`` itself); :class:`OptionError` if unknown."""
    if isinstance(format, ToolFormat):
        return format
    found = FORMATS.get(format) if isinstance(format, str) else None
    if found is None:
        raise OptionError(f"unknown tool call format {format!r}; known: {', '.join(FORMATS)} "
                          "(or pass a ToolFormat)")
    return found


def describe_tools(tools: Any, format: str | ToolFormat = "json") -> str:
    """A system-prompt paragraph listing the tools and the call format, for models whose chat
    template has no ``tools=`` support (SmolLM2, most base models). Models with tool-aware
    templates should get ``tokenizer.apply_chat_template(messages, tools=tools)`` instead."""
    from ..spec import normalize_tools

    fmt = tool_format(format)
    lines = ["You can call these tools:"]
    for tool in normalize_tools(tools):
        lines.append(_json.dumps({"name": tool.name, "description": tool.description,
                                  "parameters": tool.parameters}, ensure_ascii=False))
    example = f'{{"name": <tool name>, "{fmt.arguments_key}": {{<arguments>}}}}'
    lines.append(f"To call a tool, answer with {''.join(fmt.begin)}{example}{''.join(fmt.end)}.")
    return "\n".join(lines)
