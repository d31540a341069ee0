"""Bottom-up evaluation of a measure over an expression, with a stack of its own.

Why: the budget's measures (witness texts, ceilings, literal runs, shortest lengths) follow an
expression into its rules' bodies, and rules nest as deep as the schema; a rule's body may also
be lowered on the way (lazily built parts). Written as plain recursion, each nesting level
cost some thirty Python frames, and real schemas nested two dozen levels deep ran out of room
(``RecursionError`` inside a step). Here the depth costs list entries, not frames.
"""

from __future__ import annotations

from typing import Any, Callable

from .expr import REF, SEQ, Expr


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
