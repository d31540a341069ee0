"""Hermes-style tool calls (Hermes 2 Pro, Qwen 2.5, Qwen 3): one block per call,

    <tool_call>
    {"name": ..., "arguments": {...}}
    </tool_call>

blocks of parallel calls separated by a newline. ``<tool_call>`` is the trigger: free text before
the first block cannot contain it (it is literal text in most of these vocabularies, a special
token where the vocabulary has one).
"""

from __future__ import annotations

from typing import Any

from ...errors import ToolCallError
from ...grammar import ir
from ...grammar.text import markers
from .base import ToolFormat, TriggeredLayout, expect, one_value


class BlocksLayout(TriggeredLayout):
    """``begin`` + call + ``end`` per call (the answer, text then calls, is the trigger layout's)."""

    def calls(self, fmt: ToolFormat, call: ir.Node, vocab: Any, *, repeat: bool, max_calls: int | None) -> ir.Node:
        block = ir.seq(markers(fmt.begin, vocab), call, markers(fmt.end, vocab))
        if not repeat:
            return block
        more = ir.repeat(ir.seq(ir.literal(fmt.separator), block), 0, None if max_calls is None else max_calls - 1)
        return ir.seq(block, more)

    def find_calls(self, fmt: ToolFormat, text: str) -> list[Any]:
        start = text.find(fmt.trigger)
        if start < 0:
            return []
        rest = text[start:]
        begin, end = "".join(fmt.begin), "".join(fmt.end)
        calls: list[Any] = []
        while rest.startswith(fmt.begin[0]):
            rest = expect(rest, begin)
            value, consumed = one_value(rest)
            calls.append(value)
            rest = expect(rest[consumed:], end)
            if fmt.separator and rest.startswith(fmt.separator + fmt.begin[0]):
                rest = rest[len(fmt.separator):]
        if rest.strip():
            raise ToolCallError(f"unexpected text after the tool calls: {rest[:40]!r}")
        return calls


BLOCKS = BlocksLayout()

HERMES = ToolFormat("hermes", begin=("<tool_call>", "\n"), end=("\n", "</tool_call>"), per_call=True, separator="\n",
                    models="Hermes 2 Pro, Qwen 2.5, Qwen 3: <tool_call>\\n{...}\\n</tool_call>, one block per call")
