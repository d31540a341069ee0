"""enforcer: make a language model's output follow a JSON Schema, a regex or a grammar, token by token."""

from .compile import compile_grammar, compile_ir, compile_json_schema, compile_regex
from .engine import Grammar, Matcher
from .errors import (EnforcerError, GrammarSyntaxError, SchemaError, TokenRejectedError, UnsupportedSchemaError,
                     VocabularyError)
from .trie import TokenTrie
from .vocab import Vocabulary

__all__ = [
    "Grammar", "Matcher", "compile_grammar", "compile_ir", "compile_json_schema", "compile_regex",
    "EnforcerError", "GrammarSyntaxError", "SchemaError", "TokenRejectedError", "TokenTrie", "UnsupportedSchemaError",
    "Vocabulary", "VocabularyError",
]
__version__ = "0.1.0"
