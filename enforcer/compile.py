"""The compile entry points: constraint text in, :class:`~enforcer.engine.Grammar` out."""

from __future__ import annotations

from typing import Any

from .engine import Grammar, TokenRuns
from .grammar import ir
from .grammar.gbnf import parse_gbnf
from .grammar.lower import Lowering
from .grammar.regex import parse_regex
from .grammar.text import Reasoning, with_reasoning
from .vocab import Vocabulary


def compile_json_schema(schema: Any, vocab: Vocabulary, *, whitespace: str | int = "compact",
                        property_order: str = "schema", strict: bool = True,
                        max_whitespace: int = 8, reasoning: Any = None) -> Grammar:
    """The output must be one JSON value valid under ``schema`` (draft 2020-12).

    ``schema``: a dict, JSON text, or a pydantic model class. ``whitespace``: ``"compact"``,
    ``"flexible"`` (up to ``max_whitespace`` whitespace characters per gap) or an ``int`` indent.
    ``property_order``: ``"schema"`` (declaration order, optional ones skippable) or ``"any"``
    (any order, each at most once). ``strict=False`` enforces the closest superset of what cannot
    be enforced exactly, with a warning, instead of raising ``UnsupportedSchemaError``.
    ``reasoning``: a free-text block before the JSON (``True`` for ``<think>…</think>``, a
    ``(begin, end)`` pair, or a :class:`~enforcer.grammar.text.Reasoning` with its bounds).
    """
    from .schema import load_schema
    from .schema.compiler import SchemaCompiler  # imports jsonschema: only when needed

    compiler = SchemaCompiler(load_schema(schema), whitespace=whitespace, property_order=property_order,
                              strict=strict, max_ws=max_whitespace)
    rules = with_reasoning(compiler.compile(), Reasoning.of(reasoning), vocab)
    return json_grammar(rules, vocab, source="json schema", approximations=compiler.approximations)


def json_grammar(rules: ir.Rules, vocab: Vocabulary, *, source: str,
                 approximations: list[tuple[str, str, str]] = ()) -> Grammar:
    """Compile rules that write JSON text: JSON string content tokens are decided from a
    per-vocabulary table instead of walking the trie (see schema.json_tokens)."""
    lowering = Lowering(rules)
    start = lowering.start()
    runs = _json_string_runs(lowering, vocab)
    grammar = Grammar(lowering.factory, start, vocab, source=source, token_runs=(runs,))
    grammar.approximations = list(approximations)
    return grammar


def _json_string_runs(lowering: Lowering, vocab: Vocabulary) -> TokenRuns:
    """Plain JSON string content tokens, known once per vocabulary (see schema.json_tokens)."""
    from .schema.json_text import ANY_JSON_CHAR
    from .schema.json_tokens import string_token_runs

    counts, residual, residual_token_node = string_token_runs(vocab)
    return TokenRuns(lowering.lower(ANY_JSON_CHAR), counts, residual, residual_token_node)


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


def compile_grammar(text: str, vocab: Vocabulary, *, start: str = "root") -> Grammar:
    """The output must match the GBNF grammar ``text`` (llama.cpp's format) from rule ``start``.

    Malformed text raises :class:`~enforcer.errors.GrammarSyntaxError` with the line and column;
    undefined or missing rules, left recursion and rules that can never finish raise
    :class:`~enforcer.errors.SchemaError` naming the rule.
    """
    return compile_ir(parse_gbnf(text, start=start), vocab, source=f"gbnf (start {start!r})")
