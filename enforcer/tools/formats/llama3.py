"""Llama 3.1-3.3 tool calls: ``{"name": ..., "parameters": {...}}`` (note: ``parameters``), parallel
calls joined by ``; ``, in two flavours.

* ``llama3_json``: the JSON alone, as vLLM's ``llama3_json`` parser reads it (the bare JSON
  layout of :mod:`.json`).
* ``llama3_python_tag``: Llama 3.1's built-in form, the special token ``<|python_tag|>`` first
  (the trigger layout of :mod:`.base`); the turn then ends with ``<|eom_id|>``, one of the EOS ids
  of Llama 3.1's generation config, so it needs no end marker here. Where the vocabulary has no
  such special token the trigger is the literal text.
"""

from __future__ import annotations

from .base import ToolFormat

LLAMA3_JSON = ToolFormat("llama3_json", arguments_key="parameters", separator="; ",
                         models='Llama 3.1/3.2/3.3 JSON tool calling: {"name": ..., "parameters": {...}}; '
                                "parallel calls joined by '; ' (vLLM's llama3_json parser)")

LLAMA3_PYTHON_TAG = ToolFormat("llama3_python_tag", arguments_key="parameters", begin=("<|python_tag|>",),
                               separator="; ",
                               models="Llama 3.1: <|python_tag|> then the JSON call; the turn ends with <|eom_id|> "
                                      "(an EOS id of Llama 3.1's generation config)")
