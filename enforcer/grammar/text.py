"""Free text inside a constraint: bounded, and unable to contain the marker that ends it.

Tool calling and reasoning blocks put prose beside structure: "anything, until the model writes
``<tool_call>``", "think freely until ``</think>``". Two things make such text safe to enforce:

* a bound on its length (in characters), so a rambling model still reaches the structure;
* if the marker that ends the text is written with ordinary characters, the text must not
  contain it, otherwise the model could write the marker and carry on with unconstrained text
  (the derivative engine keeps both readings alive). This is an intersection with a complement,
  which the engine decides exactly. A marker that is a special token needs no such care: text
  is bytes and can never produce one.

Markers are given as strings; :func:`marker` turns one into a special-token terminal when the
vocabulary has a special token of exactly that text (Llama 3.1's ``<|python_tag|>``, Mistral's
``[TOOL_CALLS]``, Qwen 3's ``<think>`` where it is special), and into literal text otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterable, Iterator, Mapping

from ..errors import OptionError
from . import ir
from .analysis import nesting

ANY_CHAR = ir.CharClass(((0, ir.MAX_CODE_POINT),))
_ANY_BYTES = ir.Repeat(ir.ByteClass(((0, 255),)), 0, None)
DEFAULT_TEXT_LENGTH = 4096


def marker(text: str, vocab) -> ir.Node:
    """``text`` as the special token of that name if the vocabulary has one, else as literal text."""
    if vocab is not None and vocab.special_token_id(text) is not None:
        return ir.Special(text)
    return ir.literal(text)


def markers(pieces: Iterable[str], vocab) -> ir.Node:
    return ir.seq(*(marker(p, vocab) for p in pieces))


def _literal_bytes(node: ir.Node) -> bytes | None:
    """The bytes a node always writes first, if it starts with literal text (not a special token)."""
    if isinstance(node, ir.Bytes):
        return node.value
    if isinstance(node, ir.Seq) and isinstance(node.items[0], ir.Bytes):
        return node.items[0].value
    return None


def free_text(max_length: int = DEFAULT_TEXT_LENGTH, *, excluding: Iterable[ir.Node] = (),
              no_leading: ir.Node | None = None) -> ir.Node:
    """Up to ``max_length`` characters of any text that contains none of the literal markers in
    ``excluding`` (special-token markers need no exclusion) and, with ``no_leading``, does not
    begin (after optional whitespace) with what ``no_leading`` matches."""
    if max_length < 0:
        raise OptionError(f"a text length bound must be >= 0, got {max_length}")
    parts: list[ir.Node] = [ir.repeat(ANY_CHAR, 0, max_length)]
    for node in excluding:
        data = _literal_bytes(node)
        if data:
            parts.append(ir.Complement(ir.seq(_ANY_BYTES, ir.Bytes(data), _ANY_BYTES)))
    if no_leading is not None:
        whitespace = ir.repeat(ir.ByteClass(((0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20))), 0, None)
        parts.append(ir.Complement(ir.seq(whitespace, no_leading, _ANY_BYTES)))
    return parts[0] if len(parts) == 1 else ir.Intersect(tuple(parts))


@dataclass(frozen=True)
class Reasoning:
    """A free-text block before the answer: ``begin``, at most ``max_length`` characters, ``end``.

    ``begin``/``end`` are strings; each becomes a special token where the vocabulary has one of
    that text. ``required=False`` lets the model skip the block. Up to ``max_gap`` whitespace
    characters may separate the block from the answer (``</think>\\n\\n{...}``).
    """

    begin: str = "<think>"
    end: str = "</think>"
    max_length: int = 2048
    required: bool = False
    max_gap: int = 2

    @classmethod
    def of(cls, value: "Reasoning | bool | tuple[str, str] | None") -> "Reasoning | None":
        """Accept the shorthands: ``True`` (``<think>…</think>``), a ``(begin, end)`` pair."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, Reasoning):
            return value
        if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, str) and v for v in value):
            return cls(begin=value[0], end=value[1])
        raise OptionError(f"reasoning must be True, a (begin, end) pair of strings or a Reasoning, got {value!r}")

    def block(self, vocab) -> ir.Node:
        """The IR of the block (optional unless ``required``), gap included."""
        end = marker(self.end, vocab)
        gap = ir.repeat(ir.ByteClass(((0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20))), 0, self.max_gap)
        block = ir.seq(marker(self.begin, vocab), free_text(self.max_length, excluding=[end]), end, gap)
        return block if self.required else ir.optional(block)


def with_reasoning(rules: ir.Rules, reasoning: Reasoning | None, vocab) -> ir.Rules:
    """``rules`` whose start is preceded by the reasoning block (unchanged without one)."""
    if reasoning is None:
        return rules
    return prepend(rules, reasoning.block(vocab))


def prepend(rules: ir.Rules, head: ir.Node) -> ir.Rules:
    """A grammar matching ``head`` followed by ``rules``' language."""
    return wrap(rules, ir.seq(head, ir.Ref(rules.start)))


def wrap(rules: ir.Rules, body: ir.Node) -> ir.Rules:
    """A grammar whose start rule is ``body`` (which refers to ``rules.start`` as it likes)."""
    start = ("wrapped", rules.start)  # unique however many times a grammar is wrapped
    depth = rules.depth and rules.depth + nesting(body)  # 0: not measured, nor is the whole
    return ir.Rules(_WithStart(rules.rules, start, body), start, indent=rules.indent, depth=depth)


class _WithStart(Mapping):
    """The rules of an existing (possibly lazy, generated on demand) grammar plus a new start."""

    def __init__(self, inner: Mapping, start: Hashable, body: ir.Node):
        self._inner = inner
        self._start = start
        self._body = body

    def __getitem__(self, key: Hashable) -> ir.Node:
        return self._body if key == self._start else self._inner[key]

    def __contains__(self, key: object) -> bool:
        return key == self._start or key in self._inner

    def __iter__(self) -> Iterator[Hashable]:
        yield self._start
        yield from self._inner

    def __len__(self) -> int:
        return len(self._inner) + 1
