"""Mistral tool calls (v3+ tokenizers): the control token ``[TOOL_CALLS]``, then every call of the
turn as one JSON array, ``[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]`` (the trigger
layout of :mod:`.base`). ``[TOOL_CALLS]`` is a special token of these vocabularies, so free text
before it can never spell it out.
"""

from __future__ import annotations

from .base import ToolFormat

MISTRAL = ToolFormat("mistral", begin=("[TOOL_CALLS]",), calls="array",
                     models="Mistral (v3+ tokenizers): [TOOL_CALLS][{...}, ...], the calls as one JSON array")
