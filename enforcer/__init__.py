"""enforcer: make a language model's output follow a JSON Schema, a regex or a grammar, token by token."""

from .compile import compile_grammar, compile_ir, compile_json_schema, compile_regex
from .engine import Grammar, Matcher
from .compiler import Compiler
from .errors import (BitmaskError, ConstraintError, EnforcerError, GrammarSyntaxError, LimitExceededError, OptionError,
                     SchemaError, TokenRejectedError, ToolCallError, UnsupportedSchemaError, VocabularyError)
from .generation import GenerationResult, generate
from .limits import Limits
from .grammar.text import Reasoning
from .tools import ToolFormat, compile_tools, parse_tool_calls
from .trie import TokenTrie
from .vocab import Vocabulary

__all__ = [
    "BitmaskError", "Compiler", "ConstraintError", "GenerationResult", "Limits", "Grammar", "Matcher", "Reasoning", "ToolFormat", "compile_grammar", "compile_ir", "compile_json_schema", "compile_regex",
    "compile_tools", "generate", "parse_tool_calls",
    "EnforcerError", "GrammarSyntaxError", "LimitExceededError", "OptionError", "SchemaError", "TokenRejectedError", "TokenTrie", "ToolCallError", "UnsupportedSchemaError",
    "Vocabulary", "VocabularyError",
]
__version__ = "0.1.0"
