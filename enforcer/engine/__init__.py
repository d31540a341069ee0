"""The engine: expressions, automata, lexemes shared per vocabulary, compiled grammars, matchers."""

from . import native

native.choose()  # the compiled build of the hot modules, or their Python source (see native)

from .grammar import Grammar  # noqa: E402  (after the choice: grammar imports the hot modules)
from .matcher import Matcher  # noqa: E402

__all__ = ["Grammar", "Matcher"]
