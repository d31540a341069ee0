"""The compile entry points: constraint text in, :class:`~enforcer.engine.Grammar` out.

Each function compiles with ``compiler`` when given, else with the default
:class:`~enforcer.Compiler` of the vocabulary, so grammars of one vocabulary share their lexemes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .engine import Grammar
from .grammar import ir
from .grammar.gbnf import parse_gbnf
from .grammar.nesting import check_depth, gbnf_depth, recursion_room, regex_depth
from .grammar.regex import parse_regex
from .grammar.text import Reasoning, with_reasoning
from .vocab import Vocabulary

if TYPE_CHECKING:
    from .compiler import Compiler


def _compiler(vocab: Vocabulary, compiler: "Compiler | None") -> "Compiler":
    from .compiler import default_compiler

    if compiler is None:
        return default_compiler(vocab)
    if compiler.vocab is not vocab:
        from .errors import OptionError

        raise OptionError("the compiler was made for another vocabulary")
    return compiler


def compile_json_schema(schema: Any, vocab: Vocabulary, *, whitespace: str | int = "compact",
                        property_order: str = "schema", strict: bool = True,
                        max_whitespace: int = 8, reasoning: Any = None, unknown_keywords: str = "ignore",
                        max_integer_digits: int = 19, max_fraction_digits: int = 16, max_exponent_digits: int = 3,
                        canonical_integers: bool = False, compiler: "Compiler | None" = None) -> Grammar:
    """The output must be one JSON value valid under ``schema`` (draft 2020-12).

    ``schema``: a dict, JSON text, or a pydantic model class. ``whitespace``: ``"compact"``,
    ``"flexible"`` (up to ``max_whitespace`` whitespace characters per gap) or an ``int`` indent.
    ``property_order``: ``"schema"`` (declaration order, optional ones skippable) or ``"any"``
    (any order, each at most once). ``strict=False`` enforces the closest superset of what cannot
    be enforced exactly, with a warning, instead of raising ``UnsupportedSchemaError``.
    ``reasoning``: a free-text block before the JSON (``True`` for ``<think>…</think>``, a
    ``(begin, end)`` pair, or a :class:`~enforcer.grammar.text.Reasoning` with its bounds).
    ``unknown_keywords``: ``"ignore"`` (listed in ``grammar.unknown_keywords``) or ``"error"``.
    ``max_integer_digits``, ``max_fraction_digits``, ``max_exponent_digits``: the digits a number
    may have where no bound limits them (19, 16 and 3: a model cannot ramble digits; a bound with
    more digits raises the limit to its own). ``canonical_integers``: ``"type": "integer"``
    values without ``.0`` and never ``-0``.
    The draft is the schema's ``$schema`` (draft-04 to 2020-12; 2020-12 without one).
    """
    from .schema import load_schema
    from .schema.compiler import SchemaCompiler

    owner = _compiler(vocab, compiler)
    front = SchemaCompiler(load_schema(schema), whitespace=whitespace, property_order=property_order,
                           strict=strict, max_ws=max_whitespace, limits=owner.limits,
                           unknown_keywords=unknown_keywords, is_empty=owner.is_empty,
                           max_integer_digits=max_integer_digits, max_fraction_digits=max_fraction_digits,
                           max_exponent_digits=max_exponent_digits, canonical_integers=canonical_integers)
    block = Reasoning.of(reasoning)
    rules = with_reasoning(front.compile(), block, vocab)
    # schema text never names a special token: only a reasoning block's markers may be one
    grammar = owner.build(rules, source="json schema", specials=() if block is None else None)
    grammar.approximations = front.approximations
    grammar.unknown_keywords = front.unknown
    return grammar


def compile_ir(node: ir.Node | ir.Rules, vocab: Vocabulary, *, source: str = "",
               compiler: "Compiler | None" = None) -> Grammar:
    """Compile a grammar IR node (or a rule set) for ``vocab``."""
    return _compiler(vocab, compiler).build(node, source=source)


def compile_regex(pattern: str, vocab: Vocabulary, *, compiler: "Compiler | None" = None) -> Grammar:
    """The output must match ``pattern`` as a whole (JSON Schema's regex dialect: ECMA-262 with
    the ``u`` flag). Backreferences and lookaround raise ``UnsupportedSchemaError``."""
    owner = _compiler(vocab, compiler)
    depth = regex_depth(pattern)
    check_depth(depth, owner.limits.max_nesting_depth, "the regex")
    with recursion_room(depth):
        # one lexeme: its token sets are kept by the compiler and shared by every grammar using it
        return compile_ir(ir.lexeme(parse_regex(pattern, search=False)), vocab, source=f"regex {pattern!r}",
                          compiler=owner)


def compile_grammar(text: str, vocab: Vocabulary, *, start: str = "root",
                    compiler: "Compiler | None" = None) -> Grammar:
    """The output must match the GBNF grammar ``text`` (llama.cpp's format) from rule ``start``.

    Malformed text raises :class:`~enforcer.errors.GrammarSyntaxError` with the line and column;
    undefined or missing rules, left recursion and rules that can never finish raise
    :class:`~enforcer.errors.SchemaError` naming the rule.
    """
    owner = _compiler(vocab, compiler)
    depth = gbnf_depth(text)
    check_depth(depth, owner.limits.max_nesting_depth, "the grammar")
    with recursion_room(depth):
        return compile_ir(parse_gbnf(text, start=start), vocab, source=f"gbnf (start {start!r})", compiler=owner)
