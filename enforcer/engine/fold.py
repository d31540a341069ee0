"""Bottom-up evaluation of a measure over an expression, with a stack of its own.

Why: the budget's measures (witness texts, ceilings, literal runs, shortest lengths) follow an
expression into its rules' bodies, and rules nest as deep as the schema; a rule's body may also
be lowered on the way (lazily built parts). Written as plain recursion, each nesting level
cost some thirty Python frames, and real schemas nested two dozen levels deep ran out of room
(``RecursionError`` inside a step). Here the depth costs list entries, not frames.
"""

from __future__ import annotations

from typing import Any, Callable

from .expr import ALT, AND, LEX, REF, REPEAT, SEQ, Expr, ExprFactory


def fold(root: Expr, memo: dict, parts: Callable[[Expr], list[Expr]], combine: Callable[[Expr], Any],
         cycle: Any) -> Any:
    """``memo[root]``, computed bottom-up: ``combine(e)`` reads the values of ``parts(e)`` from
    ``memo`` (all present when it runs). A rule met again while its body is measured reads
    ``cycle`` (the measure's "nothing proved through here"), then gets its own value once its
    body is done: the least-fixpoint-from-below reading every recursive version used."""
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        e, ready = stack.pop()
        if ready:
            memo[e] = combine(e)
            continue
        if e in memo:
            continue
        if e.kind == REF:
            memo[e] = cycle  # provisional, while its body is measured
        stack.append((e, True))
        stack.extend((x, False) for x in parts(e) if x not in memo)
    return memo[root]


def sequence_parts(e: Expr) -> list[Expr]:
    """The items of a (right-nested) sequence, in order; ``[e]`` for anything else."""
    parts = []
    while e.kind == SEQ:
        parts.append(e.args[0])
        e = e.args[1]
    parts.append(e)
    return parts


def least_parts(e: Expr, factory: ExprFactory) -> list[Expr]:
    """What a measure of ``e``'s shortest strings reads below a node that is not a sequence:
    every alternative (and every part of an intersection), a repetition's item only where it
    must occur, a lexeme's inside, a rule's body."""
    k = e.kind
    if k in (ALT, AND):
        return list(e.args)
    if k == REPEAT:
        return [e.args[0]] if e.args[1] else []
    if k == LEX:
        return [e.args[0]]
    if k == REF:
        return [factory.body(e)]
    return []
