"""The exceptions enforcer raises. Catch :class:`EnforcerError` to catch them all."""

from __future__ import annotations


class EnforcerError(Exception):
    """Base class of every error this library raises on purpose."""


class SchemaError(EnforcerError, ValueError):
    """The schema (or regex, or grammar) is invalid: it is not what its own specification allows."""

    def __init__(self, message: str, *, pointer: str = "", keyword: str | None = None):
        self.pointer = pointer
        self.keyword = keyword
        where = f" at {pointer or '#'}" if (pointer or keyword) else ""
        prefix = f"{keyword!r}{where}: " if keyword else (f"{where.strip()}: " if where else "")
        super().__init__(prefix + message)


class UnsupportedSchemaError(SchemaError):
    """The schema is valid but uses something that cannot be enforced exactly.

    ``keyword`` names the keyword and ``pointer`` the JSON pointer of the schema object holding it.
    """


class VocabularyError(EnforcerError, ValueError):
    """The tokenizer, the model and the sizes given do not fit together."""


class TokenRejectedError(EnforcerError, ValueError):
    """A token the grammar forbids at this point was fed to ``Matcher.advance``."""


class ToolCallError(EnforcerError, ValueError):
    """A model's output holds no well-formed tool call where one was expected, names an unknown
    tool, or gives arguments its tool's ``parameters`` schema rejects."""
