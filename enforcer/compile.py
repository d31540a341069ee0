"""The compile entry points: constraint text in, :class:`~enforcer.engine.Grammar` out."""

from __future__ import annotations

from .engine import Grammar
from .grammar import ir
from .grammar.lower import Lowering
from .grammar.regex import parse_regex
from .vocab import Vocabulary


def compile_ir(node: ir.Node | ir.Rules, vocab: Vocabulary, *, source: str = "") -> Grammar:
    """Compile a grammar IR node (or a rule set) for ``vocab``."""
    if isinstance(node, ir.Rules):
        lowering = Lowering(node)
        start = lowering.start()
    else:
        lowering = Lowering()
        start = lowering.lower(node)
    return Grammar(lowering.factory, start, vocab, source=source)


def compile_regex(pattern: str, vocab: Vocabulary) -> Grammar:
    """The output must match ``pattern`` as a whole (JSON Schema's regex dialect: ECMA-262 with
    the ``u`` flag). Backreferences and lookaround raise ``UnsupportedSchemaError``."""
    return compile_ir(parse_regex(pattern, search=False), vocab, source=f"regex {pattern!r}")
