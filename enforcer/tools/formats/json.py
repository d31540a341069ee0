"""Bare JSON tool calls: the answer *is* the call (or the calls), with no trigger before it.

``{"name": ..., "arguments": {...}}`` as the whole answer, parallel calls as a JSON array: the
generic format for models prompted to answer in JSON (OpenAI-style JSON mode, most instruct
models). Llama 3's JSON tool calling (:mod:`.llama3`) uses the same layout with another
arguments key and calls joined by ``; ``.

With no trigger, ``tool_choice="auto"`` cannot let free text run until a marker: the answer is
either the calls or text that does not start (after whitespace) with ``{`` or ``[``, and that is
also how the output is read back.
"""

from __future__ import annotations

from typing import Any

from ...grammar import ir
from ...grammar.text import free_text
from .base import Layout, ToolFormat, group, split_group

_CALL_START = ir.ByteClass(((ord("["), ord("[")), (ord("{"), ord("{"))))


class BareJsonLayout(Layout):
    """The calls alone; text is anything that does not start like them."""

    def calls(self, fmt: ToolFormat, call: ir.Node, vocab: Any, *, repeat: bool, max_calls: int | None) -> ir.Node:
        return group(fmt, call, repeat=repeat, max_calls=max_calls)

    def find_calls(self, fmt: ToolFormat, text: str) -> list[Any]:
        body = text.lstrip()
        return split_group(fmt, body) if body.startswith(("{", "[")) else []

    def answer(self, fmt: ToolFormat, mode: str, calls: ir.Node, vocab: Any, max_text_length: int) -> ir.Node:
        if mode == "required":
            return calls
        text = free_text(max_text_length, no_leading=_CALL_START)
        return text if mode == "none" else ir.alt(calls, text)


BARE_JSON = BareJsonLayout()

JSON = ToolFormat("json", calls="array_if_parallel",
                  models='Generic: {"name": ..., "arguments": {...}} as the whole answer; parallel calls '
                         "as a JSON array (OpenAI-style JSON mode prompting, most instruct models)")
