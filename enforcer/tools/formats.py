"""How each model family writes tool calls: the text around the JSON and how calls repeat.

Pick a format by name (``compile_tools(..., format="hermes")``) or pass a :class:`ToolFormat`.
Strings in ``begin``/``end`` become special tokens where the vocabulary has a special token of
exactly that text (Llama 3.1's ``<|python_tag|>``, Mistral's ``[TOOL_CALLS]``) and literal text
otherwise (``<tool_call>`` in most Hermes-style vocabularies).
"""

from __future__ import annotations

from dataclasses import dataclass


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


FORMATS: dict[str, ToolFormat] = {f.name: f for f in (
    ToolFormat("json", calls="array_if_parallel",
               models='Generic: {"name": ..., "arguments": {...}} as the whole answer; parallel calls '
                      "as a JSON array (OpenAI-style JSON mode prompting, most instruct models)"),
    ToolFormat("llama3_json", arguments_key="parameters", separator="; ",
               models='Llama 3.1/3.2/3.3 JSON tool calling: {"name": ..., "parameters": {...}}; '
                      "parallel calls joined by '; ' (vLLM's llama3_json parser)"),
    ToolFormat("llama3_python_tag", arguments_key="parameters", begin=("<|python_tag|>",), separator="; ",
               models="Llama 3.1: <|python_tag|> then the JSON call; the turn ends with <|eom_id|> "
                      "(an EOS id of Llama 3.1's generation config)"),
    ToolFormat("hermes", begin=("<tool_call>", "\n"), end=("\n", "</tool_call>"), per_call=True, separator="\n",
               models="Hermes 2 Pro, Qwen 2.5, Qwen 3: <tool_call>\\n{...}\\n</tool_call>, one block per call"),
    ToolFormat("mistral", begin=("[TOOL_CALLS]",), calls="array",
               models="Mistral (v3+ tokenizers): [TOOL_CALLS][{...}, ...], the calls as one JSON array"),
)}


def tool_format(format: str | ToolFormat) -> ToolFormat:
    if isinstance(format, ToolFormat):
        return format
    found = FORMATS.get(format)
    if found is None:
        raise ValueError(f"unknown tool call format {format!r}; known: {', '.join(FORMATS)} "
                         "(or pass a ToolFormat)")
    return found


def describe_tools(tools, format: str | ToolFormat = "json") -> str:
    """A system-prompt paragraph listing the tools and the call format, for models whose chat
    template has no ``tools=`` support (SmolLM2, most base models). Models with tool-aware
    templates should get ``tokenizer.apply_chat_template(messages, tools=tools)`` instead."""
    import json

    from .spec import normalize_tools

    fmt = tool_format(format)
    lines = ["You can call these tools:"]
    for tool in normalize_tools(tools):
        lines.append(json.dumps({"name": tool.name, "description": tool.description,
                                 "parameters": tool.parameters}, ensure_ascii=False))
    example = f'{{"name": <tool name>, "{fmt.arguments_key}": {{<arguments>}}}}'
    lines.append(f"To call a tool, answer with {''.join(fmt.begin)}{example}{''.join(fmt.end)}.")
    return "\n".join(lines)
