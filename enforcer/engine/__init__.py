"""The engine: expressions, automata, lexemes shared per vocabulary, compiled grammars, matchers."""

from .grammar import Grammar
from .matcher import Matcher

__all__ = ["Grammar", "Matcher"]
