"""Tools as users hand them to us, normalised to ``(name, description, parameters)``.

Accepted shapes, because each is what some SDK produces:

* OpenAI's ``{"type": "function", "function": {"name", "description", "parameters"}}``;
* the bare function object ``{"name", "description", "parameters"}`` (older "functions" APIs);
* a pydantic model class (the class name is the tool name, its JSON Schema the parameters);
* a plain Python function with type hints (its name, its docstring's first paragraph, and a
  parameters schema built from the signature by pydantic).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

from ..errors import SchemaError

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict
    pointer: str = ""  # where ``parameters`` is in the user's tools list: errors point there


def normalize_tools(tools: Any) -> list[Tool]:
    if isinstance(tools, (dict, str)) or not hasattr(tools, "__iter__"):
        raise SchemaError("tools must be a list of tools (OpenAI tool objects, pydantic models or functions)")
    out = [_tool(t, i) for i, t in enumerate(tools)]
    if not out:
        raise SchemaError("tools is empty: give at least one tool (or do not constrain to tool calls)")
    seen: set[str] = set()
    for i, tool in enumerate(out):
        if tool.name in seen:
            raise SchemaError(f"two tools are named {tool.name!r}: tool names must be unique", pointer=f"#/{i}/name")
        seen.add(tool.name)
    return out


def _tool(tool: Any, index: int) -> Tool:
    where = f"#/{index}"
    if isinstance(tool, dict):
        if tool.get("type", "function") != "function":
            raise SchemaError(f"unsupported tool type {tool.get('type')!r} (only 'function')", pointer=f"{where}/type")
        if "function" in tool:
            where += "/function"
            tool = tool["function"]
            if not isinstance(tool, dict):
                raise SchemaError("'function' must be an object", pointer=where)
        name = tool.get("name")
        parameters = tool.get("parameters", {"type": "object", "properties": {}})
        description = tool.get("description") or ""
    elif isinstance(tool, type) and callable(getattr(tool, "model_json_schema", None)):
        name, parameters = tool.__name__, tool.model_json_schema()
        description = inspect.getdoc(tool) or ""
    elif callable(tool):
        name, parameters = getattr(tool, "__name__", None), _function_parameters(tool, where)
        description = (inspect.getdoc(tool) or "").split("\n\n")[0]
    else:
        raise SchemaError(f"a tool must be a dict, a pydantic model class or a function, got {type(tool).__name__}",
                          pointer=where)
    if not isinstance(name, str) or not name:
        raise SchemaError("a tool needs a non-empty 'name'", pointer=f"{where}/name")
    if not _NAME.match(name):
        raise SchemaError(f"tool name {name!r} must be 1-64 letters, digits, '_', '.' or '-'", pointer=f"{where}/name")
    _check_parameters(parameters, f"{where}/parameters", name)
    return Tool(name, description if isinstance(description, str) else "", parameters, f"{where}/parameters")


def _check_parameters(parameters: Any, pointer: str, name: str) -> None:
    if not isinstance(parameters, dict):
        raise SchemaError(f"the parameters of tool {name!r} must be a JSON Schema object, got "
                          f"{type(parameters).__name__}", pointer=pointer)
    kind = parameters.get("type", "object")
    if kind != "object" and not (isinstance(kind, list) and kind == ["object"]):
        raise SchemaError(f"the parameters of tool {name!r} must describe an object (arguments by "
                          f"name), not type {kind!r}", pointer=f"{pointer}/type", keyword="type")


def _function_parameters(function: Any, pointer: str) -> dict:
    """The parameters schema of a typed Python function, via pydantic (imported only here)."""
    try:
        import pydantic
    except ImportError:
        raise SchemaError("plain functions as tools need pydantic (pip install pydantic)", pointer=pointer) from None
    fields: dict[str, Any] = {}
    for p in inspect.signature(function).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise SchemaError(f"{function.__name__}: *args/**kwargs cannot be tool parameters", pointer=pointer)
        if p.annotation is inspect.Parameter.empty:
            raise SchemaError(f"{function.__name__}: parameter {p.name!r} needs a type hint", pointer=pointer)
        fields[p.name] = (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
    model = pydantic.create_model(function.__name__, **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


def resolve_tool_choice(tool_choice: Any, tools: list[Tool]) -> tuple[str, list[Tool]]:
    """``("auto" | "required" | "none", the tools that may be called)``; a named tool is
    ``("required", [that tool])``."""
    if tool_choice in ("auto", "required", "none"):
        return tool_choice, tools
    name = None
    if isinstance(tool_choice, dict):
        function = tool_choice.get("function")
        name = function.get("name") if isinstance(function, dict) else tool_choice.get("name")
    elif isinstance(tool_choice, str):
        name = tool_choice
    if not isinstance(name, str):
        raise SchemaError(f"tool_choice must be 'auto', 'required', 'none' or "
                          f"{{'type': 'function', 'function': {{'name': ...}}}}, got {tool_choice!r}",
                          keyword="tool_choice")
    for tool in tools:
        if tool.name == name:
            return "required", [tool]
    raise SchemaError(f"tool_choice names {name!r}, which is not one of the tools "
                      f"({', '.join(t.name for t in tools)})", keyword="tool_choice")
