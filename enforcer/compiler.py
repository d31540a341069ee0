"""The :class:`Compiler`: one per vocabulary, the owner of everything grammars share.

Grammars of one vocabulary write the same lexemes over and over: JSON strings with the same
bounds, numbers, whitespace, common keys. A compiler keeps one expression factory for all its
grammars, so a derivative computed for one is known to the next, and one lexeme space (see
:mod:`enforcer.engine.lexemes`) holding each lexeme's token sets. A schema never seen before
then pays only for its own structure.

Memory is bounded: the lexeme caches by ``cache_bytes`` (least recently used go first), each
grammar's masks by its own budget, and the factory is replaced by a fresh one when it outgrows
``Limits.max_shared_expressions`` (grammars compiled before keep the one they were built with,
which goes away with them).

Thread-safe: one lock per compiler serialises compiling and every grammar's lazy work.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import Any, Iterable

from .engine.expr import ExprFactory
from .engine.grammar import Grammar
from .engine.lexemes import LexemeSpace, StringFamily
from .engine.lower import Lowering
from .grammar import ir
from .grammar.analysis import nesting, recursion_depth
from .grammar.nesting import SHALLOW_DEPTH, check_depth, recursion_room
from .limits import Limits
from .vocab import Vocabulary

DEFAULT_CACHE_BYTES = 512 << 20


_MAX_SHARED_LOWERED = 300_000  # IR nodes kept lowered for every grammar (about 60 MB at most)


class _Generation:
    """One expression factory and the lexeme space over it."""

    def __init__(self, vocab: Vocabulary, limits: Limits, cache_bytes: int):
        from .schema.json_text import ANY_JSON_CHAR
        from .schema.json_tokens import string_tokens

        self.factory = ExprFactory()
        self.lowered: dict = {}  # id(IR node) -> (node, expression), for nodes any grammar may share
        Lowering(self.factory, shared=self.lowered).lower(ANY_JSON_CHAR)
        strings = StringFamily(self.factory, string_tokens(vocab), vocab)
        self.scratch: Lowering | None = None  # lowers what front ends ask about (is_empty)
        self.space = LexemeSpace(self.factory, vocab, max_states=limits.max_lexeme_states,
                                 cache_bytes=cache_bytes, strings=strings)


class Compiler:
    """Compiles constraints for one vocabulary; grammars it builds share lexemes and caches.

    ``limits`` bounds what a constraint may cost (see :class:`~enforcer.Limits`);
    ``cache_bytes`` bounds the shared lexeme caches (default 512 MiB).
    """

    def __init__(self, vocab: Vocabulary, *, limits: Limits | None = None, cache_bytes: int | None = None):
        self.vocab = vocab
        self.limits = limits or Limits()
        self.cache_bytes = DEFAULT_CACHE_BYTES if cache_bytes is None else cache_bytes
        self.lock = threading.RLock()
        self._generation: _Generation | None = None

    def _current(self) -> _Generation:
        gen = self._generation
        if gen is None or len(gen.factory) > self.limits.max_shared_expressions:
            gen = self._generation = _Generation(self.vocab, self.limits, self.cache_bytes)
        return gen

    def build(self, rules: ir.Rules | ir.Node, *, source: str = "", specials: Iterable[str] | None = None,
              depth: int | None = None) -> Grammar:
        """A grammar from IR (a rule set, or one node for the whole output).

        ``specials``: the special tokens the IR names, when the front end knows them (a JSON
        schema names none); ``None`` scans the IR for them, which costs a walk over every node,
        shared parts included, a quarter of a small schema's compile.

        ``depth``: how deep the engine may recurse into the IR (see :attr:`ir.Rules.depth`);
        ``None`` takes the rules' own measure, or measures the IR. Deeper than
        ``Limits.max_nesting_depth`` is refused; a deep grammar's compile and steps get room on
        the recursion limit for it (:mod:`enforcer.grammar.nesting`)."""
        if depth is None:
            depth = rules.depth if isinstance(rules, ir.Rules) else 0
            if not depth:
                depth = recursion_depth(rules) if isinstance(rules, ir.Rules) else nesting(rules)
        check_depth(depth, self.limits.max_nesting_depth, "the grammar (with the rules it enters before reading input)")
        with self.lock, (recursion_room(depth) if depth > SHALLOW_DEPTH else nullcontext()):
            gen = self._current()
            if len(gen.lowered) > _MAX_SHARED_LOWERED:
                gen.lowered.clear()  # keeps IR nodes alive: start afresh rather than grow
            lowering = Lowering(gen.factory, rules if isinstance(rules, ir.Rules) else None, shared=gen.lowered)
            start = lowering.start() if isinstance(rules, ir.Rules) else lowering.lower(rules)
            if specials is None:
                roots = list(rules.rules.values()) if isinstance(rules, ir.Rules) else [rules]
                specials = {n.text for n in ir.walk(roots) if isinstance(n, ir.Special)}
            else:
                specials = set(specials)
            for text in specials:  # symbols now; the grammar checks the names against the vocabulary
                gen.factory.special(text)
            return Grammar(gen.space, start, self.vocab, lock=self.lock, source=source, specials=specials,
                           depth=depth, max_states=self.limits.max_states,
                           cache_bytes=self.limits.max_mask_cache_bytes)

    def is_empty(self, node: ir.Node) -> bool:
        """Whether a regular IR node (no references) matches no string at all: front ends ask
        at compile time, so that no grammar state can lead where nothing can follow."""
        with self.lock:
            gen = self._current()
            if gen.scratch is None or gen.scratch.memo_size > 200_000:
                gen.scratch = Lowering(gen.factory, shared=gen.lowered)
            expr = gen.scratch.lower(node)
            return not gen.space.automaton.is_live(expr)

    # -- the compile functions ----------------------------------------------------------------

    def compile_json_schema(self, schema: Any, **options: Any) -> Grammar:
        from .compile import compile_json_schema

        return compile_json_schema(schema, self.vocab, compiler=self, **options)

    def compile_regex(self, pattern: str) -> Grammar:
        from .compile import compile_regex

        return compile_regex(pattern, self.vocab, compiler=self)

    def compile_grammar(self, text: str, *, start: str = "root") -> Grammar:
        from .compile import compile_grammar

        return compile_grammar(text, self.vocab, start=start, compiler=self)

    def compile_tools(self, tools: Any, **options: Any) -> Grammar:
        from .tools import compile_tools

        return compile_tools(tools, self.vocab, compiler=self, **options)

    @property
    def stats(self) -> dict[str, int]:
        """Work done by the shared parts so far (derivatives computed, expressions, lexeme token
        walks): deterministic for a given sequence of compiles and steps, which is what the
        work-count gate (tests/perf) ratchets, times being too noisy to test."""
        gen = self._generation
        if gen is None:
            return {}
        space = gen.space
        return {"derivations": gen.factory.derivations, "expressions": len(gen.factory),
                "lexeme_states": space.automaton.num_states, **{f"lexeme_{k}" if not k.startswith("lexeme") else k: v
                                                                  for k, v in space.stats.items()}}

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the shared caches (grammars count their own, ``Grammar.memory_bytes``)."""
        gen = self._generation
        return 0 if gen is None else gen.space.memory_bytes + 300 * len(gen.factory)


def default_compiler(vocab: Vocabulary) -> Compiler:
    """The compiler the module-level ``compile_*`` functions use for ``vocab`` (one per vocabulary)."""
    return vocab.derived("default-compiler", lambda v: Compiler(v))
