"""The exceptions enforcer raises. Catch :class:`EnforcerError` to catch them all."""

from __future__ import annotations

import copy


class EnforcerError(Exception):
    """Base class of every error this library raises on purpose."""


class SchemaError(EnforcerError, ValueError):
    """The schema (or regex, or grammar) is invalid: it is not what its own specification allows."""

    def __init__(self, message: str, *, pointer: str = "", keyword: str | None = None):
        self.pointer = pointer
        self.keyword = keyword
        self._bare = message  # without the keyword and pointer prefix (see with_pointer)
        where = f" at {pointer or '#'}" if (pointer or keyword) else ""
        prefix = f"{keyword!r}{where}: " if keyword else (f"{where.strip()}: " if where else "")
        super().__init__(prefix + message)

    def with_pointer(self, pointer: str) -> SchemaError:
        """A copy of this error that points elsewhere (same class, keyword and message): for
        callers that compiled a schema they built around the user's (tool parameters), so the
        pointer names the place in what the user wrote."""
        twin = copy.copy(self)
        SchemaError.__init__(twin, getattr(self, "_bare", str(self)), pointer=pointer, keyword=self.keyword)
        return twin


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


class ConstraintError(EnforcerError, ValueError):
    """A request asks for a constraint that cannot be enforced as given: a malformed request
    (two constraint keys, wrong types, options that do not belong to the constraint) or one that
    does not compile (the compile error is ``__cause__``; its ``keyword`` and ``pointer`` are
    copied here when it has them).

    A ``ValueError`` too, so that servers (vLLM) answer it with a validation error (HTTP 400).
    """

    def __init__(self, message: str, *, keyword: str | None = None, pointer: str = ""):
        self.keyword = keyword
        self.pointer = pointer
        super().__init__(message)


class BitmaskError(EnforcerError, ValueError, TypeError):
    """A token bitmask or logits array handed to :mod:`enforcer.masking` (or a matcher) has the
    wrong dtype, shape or type: a bitmask is packed int32, ``(rows, ceil(vocab_size / 32))``.

    Both a ``ValueError`` and a ``TypeError``: a wrong shape is the first, a wrong dtype the
    second, and callers written against either keep working.
    """


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
