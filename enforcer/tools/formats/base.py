"""What every tool-call format shares: :class:`ToolFormat` (the text around the JSON and how calls
repeat) and :class:`Layout`, the grammar a family's calls follow *and* the reading of them back,
side by side, so that what ``compile_tools`` allows and what ``parse_tool_calls`` reads cannot
drift apart.

Three layouts cover the families we know; each lives with the family that introduced it:

* bare JSON, no trigger (:mod:`.json`: ``json``, and Llama 3's ``llama3_json``);
* a trigger, then the calls as one group (:class:`TriggeredLayout`, here: Llama 3.1's
  ``<|python_tag|>``, Mistral's ``[TOOL_CALLS]``);
* one marked block per call (:mod:`.hermes`).

A :class:`ToolFormat` picks its layout from its fields (``per_call``, ``begin``), so a format a
user builds out of these fields works like the built-in ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...errors import ToolCallError
from ...grammar import ir
from ...grammar.text import free_text, marker, markers

_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ToolFormat:
    """``begin`` (trigger) + calls + ``end``; ``arguments_key`` names the arguments member.

    ``calls``: ``"array"`` (the calls are one JSON array), ``"separated"`` (calls joined by
    ``separator``), or ``"array_if_parallel"`` (one bare object, an array when parallel calls
    are allowed). ``per_call``: ``begin``/``end`` wrap each call (Hermes' ``<tool_call>``
    blocks) instead of the whole group.
    """

    name: str
    arguments_key: str = "arguments"
    begin: tuple[str, ...] = ()
    end: tuple[str, ...] = ()
    calls: str = "separated"
    separator: str = ""
    per_call: bool = False
    models: str = ""

    @property
    def trigger(self) -> str | None:
        """The text (or special token) that announces a call; ``None`` for bare JSON."""
        return self.begin[0] if self.begin else None

    def as_array(self, parallel: bool) -> bool:
        """Whether the calls are one JSON array (else one object, or objects joined)."""
        return self.calls == "array" or (self.calls == "array_if_parallel" and parallel)

    @property
    def layout(self) -> Layout:
        from .hermes import BLOCKS
        from .json import BARE_JSON

        return BLOCKS if self.per_call else TRIGGERED if self.begin else BARE_JSON


class Layout:
    """How a family lays its calls out: :meth:`calls` and :meth:`answer` build the grammar,
    :meth:`find_calls` reads the output back. A subclass overrides them in pairs."""

    def calls(self, fmt: ToolFormat, call: ir.Node, vocab: Any, *, repeat: bool, max_calls: int | None) -> ir.Node:
        """The calls: ``call`` (one call, or the JSON array of them) with the format's markers;
        ``repeat``: more calls may follow, joined by the separator."""
        raise NotImplementedError

    def answer(self, fmt: ToolFormat, mode: str, calls: ir.Node, vocab: Any, max_text_length: int) -> ir.Node:
        """The whole answer for ``tool_choice`` mode ``"auto"``, ``"required"`` or ``"none"``."""
        raise NotImplementedError

    def find_calls(self, fmt: ToolFormat, text: str) -> list[Any]:
        """The raw calls (JSON values) in ``text``; ``[]`` when it is plain text."""
        raise NotImplementedError


class TriggeredLayout(Layout):
    """A trigger, then the calls as one group (an array, or calls joined by the separator), then
    the end markers. Free text before the trigger cannot contain it, so once the model writes the
    trigger the calls are fully constrained."""

    def calls(self, fmt: ToolFormat, call: ir.Node, vocab: Any, *, repeat: bool, max_calls: int | None) -> ir.Node:
        return ir.seq(markers(fmt.begin, vocab), group(fmt, call, repeat=repeat, max_calls=max_calls),
                      markers(fmt.end, vocab))

    def find_calls(self, fmt: ToolFormat, text: str) -> list[Any]:
        start = text.find(fmt.trigger)
        if start < 0:
            return []
        body = expect(text[start:], "".join(fmt.begin))
        end = "".join(fmt.end)
        if end:
            cut = body.rfind(end)
            if cut < 0:
                raise ToolCallError(f"the tool calls do not end with {end!r}")
            body = body[:cut]
        return split_group(fmt, body)

    def answer(self, fmt: ToolFormat, mode: str, calls: ir.Node, vocab: Any, max_text_length: int) -> ir.Node:
        if mode == "required":
            return calls
        text = free_text(max_text_length, excluding=[marker(fmt.trigger, vocab)])
        return text if mode == "none" else ir.seq(text, ir.optional(calls))


TRIGGERED = TriggeredLayout()


# -- a group of calls: written and read --------------------------------------------------------------

def group(fmt: ToolFormat, call: ir.Node, *, repeat: bool, max_calls: int | None) -> ir.Node:
    """``call``, then (``repeat``) up to ``max_calls - 1`` more, each after the separator.
    An array format's ``call`` is already the array of calls (see :func:`split_group`)."""
    if not repeat:
        return call
    more = ir.repeat(ir.seq(ir.literal(fmt.separator), call), 0, None if max_calls is None else max_calls - 1)
    return ir.seq(call, more)


def split_group(fmt: ToolFormat, text: str) -> list[Any]:
    """The calls of a group written by :func:`group`: one JSON value, an array of calls, or
    values joined by the format's separator (whitespace around it tolerated)."""
    values: list[Any] = []
    rest = text.strip()
    sep = fmt.separator.strip()
    while True:
        value, consumed = one_value(rest)
        values.extend(value if isinstance(value, list) else [value])
        rest = rest[consumed:]
        if sep and rest.lstrip().startswith(sep):
            rest = rest.lstrip()[len(sep):].lstrip()
            continue
        if rest.strip():
            raise ToolCallError(f"unexpected text after the tool calls: {rest.strip()[:40]!r}")
        return values


# -- reading helpers ---------------------------------------------------------------------------------

def expect(text: str, prefix: str) -> str:
    if not text.startswith(prefix):
        raise ToolCallError(f"expected {prefix!r} at {text[:40]!r}")
    return text[len(prefix):]


def one_value(text: str) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text)
    except json.JSONDecodeError as exc:
        raise ToolCallError(f"a tool call is not valid JSON: {exc}") from None
