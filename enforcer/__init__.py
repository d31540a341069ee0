"""enforcer: make a language model's output follow a JSON Schema, a regex or a grammar, token by token."""

from .errors import (EnforcerError, SchemaError, TokenRejectedError, UnsupportedSchemaError,
                     VocabularyError)
from .trie import TokenTrie
from .vocab import Vocabulary

__all__ = [
    "EnforcerError", "SchemaError", "TokenRejectedError", "TokenTrie", "UnsupportedSchemaError",
    "Vocabulary", "VocabularyError",
]
__version__ = "0.1.0"
