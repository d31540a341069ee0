"""Structured function calling: tools become a grammar; model output becomes validated calls."""

from .compile import compile_tools
from .formats import FORMATS, ToolFormat, describe_tools
from .parse import parse_tool_calls

__all__ = ["FORMATS", "ToolFormat", "compile_tools", "describe_tools", "parse_tool_calls"]
