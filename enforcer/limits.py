"""Every budget a constraint may spend, in one place.

A server takes schemas, regexes and grammars from strangers: none of them may crash it, hang it
or grow its memory without bound. Each field below is one budget, with its default and what it
costs to raise it. Exceeding one raises :class:`~enforcer.errors.LimitExceededError` naming the
field: at compile time where the cost can be known from the input, else at the step that needs
more (the adapters then end that one request with EOS, see :mod:`enforcer.service`).

No budget is a clock: compile and step time are bounded through these sizes, so whether a
constraint compiles never depends on how busy the machine is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_states: int = 200_000
    """Automaton states one grammar may create. Each costs about 1.2 KB (a 256-entry row of the
    transition table and its expression); the default caps a grammar near 240 MB. Real
    schemas use a few thousand."""

    max_lexeme_states: int = 100_000
    """States of the compiler's shared lexeme automaton; when half are used it starts afresh
    (the lexemes' token sets stay cached), so this bounds memory, not what can be compiled."""

    max_shared_expressions: int = 2_000_000
    """Expressions the compiler's shared factory may hold before it starts a new one (about
    300 bytes each). Grammars keep the factory they were compiled with."""

    max_mask_cache_bytes: int = 256 << 20
    """Bytes of token masks one grammar keeps (16 KB each for a 128k vocabulary); the least
    recently used go first, and are computed again if needed."""

    max_nesting_depth: int = 10_000
    """Nesting of the schema document as JSON (an object schema under ``properties`` is two
    levels), of GBNF parentheses and of regex groups, and of the grammar the engine runs: its
    nodes, with the rules (or ``$ref`` hops) it enters before reading input, each a level (a
    chain of 3,000 GBNF rules each starting with the next nests 3,000 deep; an optional
    group is two). Compiling, and the steps of a grammar deeper than a few dozen levels,
    recurse once per level on the heap (about 12 Python frames, a few KB each), so 10,000 levels
    cost tens of MB at most."""

    max_enum_values: int = 1_000_000
    """Values of one ``enum``. Compile time is linear in it (100,000 strings: about half a
    second; their trie is built from the sorted values, its branches as generation reaches them)."""

    max_repeat_product: int = 1_000_000
    """Grammar nodes a counted construct may unroll to: an array with ``contains`` and
    ``minContains``/``maxContains`` needs its item count times the match count; an object that
    must hold an undeclared member meeting a condition (a negated ``additionalProperties`` or
    ``patternProperties``) and has ``minProperties``/``maxProperties`` needs its members times
    the count bound. (Objects otherwise, and bounded
    repetitions of regexes and GBNF, are counters whose states are built as generation reaches
    them, bounded by ``max_states``; nested repetitions merge into one count where exact.)"""

    max_disjuncts: int = 256
    """Alternatives an ``allOf`` over ``anyOf``/``oneOf`` branches may expand to."""

    max_multiple_of: int = 10_000
    """The largest prime power of an integer ``multipleOf`` run as a remainder automaton (up to
    that many states per digit, built as generation reaches them; larger ones are refused
    unless the range holds few multiples or the number is round, as ``10**6``: an
    ``UnsupportedSchemaError``, so ``strict=False`` enforces any integer there)."""
