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


class GrammarSyntaxError(SchemaError):
    """Grammar text (GBNF) is malformed at a known place: a syntax error, a reference to an
    undefined rule, a rule defined twice.

    ``line`` and ``column`` are 1-based; the message shows the offending line with a caret under
    the column, so it can be printed as is.
    """

    def __init__(self, message: str, *, line: int, column: int, line_text: str = ""):
        self.line = line
        self.column = column
        self.reason = message
        text = f"line {line}, column {column}: {message}"
        if line_text:
            caret = "".join(c if c == "\t" else " " for c in line_text[: column - 1]) + "^"
            text += f"\n    {line_text}\n    {caret}"
        super().__init__(text)


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


class OptionError(EnforcerError, ValueError):
    """An option passed to a compile function, a processor or the command line is not one it
    accepts (an unknown ``whitespace`` mode, a negative ``max_calls``...)."""


class LimitExceededError(EnforcerError):
    """A constraint needs more than a budget of :class:`~enforcer.Limits` allows.

    ``limit`` names the :class:`~enforcer.Limits` field (the option to raise), ``value`` is what
    was needed (when known) and ``allowed`` the budget in force.
    """

    def __init__(self, message: str, *, limit: str, value: object = None, allowed: object = None):
        self.limit = limit
        self.value = value
        self.allowed = allowed
        super().__init__(f"{message} (limit {limit}={allowed!r}; raise it with "
                         f"Limits({limit}=...) if the input is trusted)")
