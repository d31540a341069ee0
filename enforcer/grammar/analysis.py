"""Static checks on a rule set, done once before compiling: what the engine cannot run.

Why here and not in the engine: the derivative engine (``expr.py``) meets left recursion only
when a derivative re-enters a rule it is still deriving, which happens at generation time, and
it counts every rule as productive (only intersections are searched for emptiness), so a rule
whose language is empty would give the matcher a dead end instead of an error. Both are
properties of the grammar alone, cheap to decide on the IR with two fixpoints, and reported
here with the rule names a person can fix:

* **productive** rules (their language is non-empty) are the least fixpoint of "some
  alternative is made of terminals and productive rules"; every other rule can never finish
  (``a ::= "x" a``);
* **nullable** rules (they match the empty string) are the least fixpoint of the obvious
  equations, and a rule's *left corner* is the set of rules it can enter without consuming a
  byte (the first item of a sequence, and the next one while the items before are nullable). A
  cycle in the left-corner graph is left recursion (``expr ::= expr "+" term``, or hidden
  behind a nullable prefix: ``a ::= b? a "x"``).

Every front end's rules are checked (GBNF, JSON Schema, tools). The walks are loops over the IR
DAG, each shared node evaluated once per pass, so deep or heavily shared rules cost their size. ``Intersect`` and ``Complement`` count as productive and
consuming: no text front end produces them inside rules.
"""

from __future__ import annotations

from typing import Callable, Hashable, Mapping

from ..errors import SchemaError
from . import ir

__all__ = ["check_rules", "left_recursion_cycle", "nesting", "nullable_rules", "recursion_depth",
           "unproductive_rules"]


def _children(node: ir.Node) -> tuple[ir.Node, ...]:
    if isinstance(node, (ir.Seq, ir.Alt, ir.Intersect)):
        return node.items
    if isinstance(node, (ir.Repeat, ir.Lexeme, ir.Complement, ir.Lazy)):
        return (node.item,)
    if isinstance(node, ir.Members):
        out = [first for first, _, _ in node.members]
        if node.extra is not None:
            out.append(node.extra[0])
        return tuple(out)
    return ()


def _evaluate(root: ir.Node, combine: Callable[[ir.Node, Callable[[ir.Node], object]], object],
              memo: dict[int, tuple[ir.Node, object]]) -> object:
    """``combine(node, value_of)`` over the DAG below ``root``, children first, each node once
    (``memo`` is shared by the nodes of one pass): no recursion, no re-walk of shared parts."""
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        hit = memo.get(id(node))
        if hit is not None and hit[0] is node:
            continue
        kids = _children(node)
        if kids and not expanded:
            stack.append((node, True))
            stack.extend((k, False) for k in kids)
            continue
        memo[id(node)] = (node, combine(node, lambda n: memo[id(n)][1]))
    return memo[id(root)][1]


def _nullable_step(nullable: set[Hashable]) -> Callable:
    def combine(node: ir.Node, value: Callable[[ir.Node], object]) -> bool:
        if isinstance(node, ir.Empty):
            return True
        if isinstance(node, ir.Seq):
            return all(value(x) for x in node.items)
        if isinstance(node, ir.Alt):
            return any(value(x) for x in node.items)
        if isinstance(node, ir.Repeat):
            return node.min == 0 or bool(value(node.item))
        if isinstance(node, (ir.Lexeme, ir.Lazy)):
            return bool(value(node.item))
        if isinstance(node, ir.Ref):
            return node.name in nullable
        if isinstance(node, ir.Words):
            return b"" in node.words
        return False  # terminals, Never, Members (a member at least), Intersect/Complement
    return combine


def _productivity_formula(is_empty: Callable[[ir.Node], bool] | None) -> Callable:
    """Compresses a body to what its productivity depends on: ``True``, ``False``, a rule name,
    or ``("and"|"or", parts)`` over those. One pass over the DAG; the fixpoint then runs on
    these small formulas."""
    def combine(node: ir.Node, value: Callable[[ir.Node], object]) -> object:
        if isinstance(node, ir.Never):
            return False
        if isinstance(node, (ir.CharClass, ir.ByteClass)):
            return bool(node.ranges)
        if isinstance(node, ir.Divisible):
            return True  # "0" is a multiple of every k
        if isinstance(node, ir.Words):
            return bool(node.words)
        if isinstance(node, ir.Seq):
            return _conj([value(x) for x in node.items])
        if isinstance(node, ir.Alt):
            return _disj([value(x) for x in node.items])
        if isinstance(node, ir.Repeat):
            return True if node.min == 0 else value(node.item)
        if isinstance(node, (ir.Lexeme, ir.Lazy)):
            return value(node.item)
        if isinstance(node, ir.Members):
            required = [value(first) for first, _, req in node.members if req]
            some = [value(first) for first, _, _ in node.members]
            if node.extra is not None:
                some.append(value(node.extra[0]))
            return _conj(required + [_disj(some)])
        if isinstance(node, ir.Ref):
            return ("ref", node.name)
        if isinstance(node, ir.Intersect) and is_empty is not None:
            return not is_empty(node)
        return True  # Empty, Bytes, JsonChar, Indent, Special, Intersect, Complement
    return combine


def _conj(parts: list) -> object:
    if any(p is False for p in parts):
        return False
    parts = [p for p in parts if p is not True]
    return True if not parts else parts[0] if len(parts) == 1 else ("and", tuple(parts))


def _disj(parts: list) -> object:
    if any(p is True for p in parts):
        return True
    parts = [p for p in parts if p is not False]
    return False if not parts else parts[0] if len(parts) == 1 else ("or", tuple(parts))


def _holds(formula: object, true: set[Hashable]) -> bool:
    stack = [formula]
    # evaluated with an explicit stack: formulas may nest as deep as the grammar
    results: dict[int, bool] = {}
    order: list[object] = []
    while stack:
        f = stack.pop()
        order.append(f)
        if isinstance(f, tuple) and f[0] in ("and", "or"):
            stack.extend(f[1])
    for f in reversed(order):
        if f is True or f is False:
            results[id(f)] = bool(f)
        elif f[0] == "ref":  # type: ignore[index]
            results[id(f)] = f[1] in true  # type: ignore[index]
        elif f[0] == "and":  # type: ignore[index]
            results[id(f)] = all(results[id(x)] for x in f[1])  # type: ignore[index]
        else:
            results[id(f)] = any(results[id(x)] for x in f[1])  # type: ignore[index]
    return results[id(formula)]


def _fixpoint(rules: Mapping[Hashable, ir.Node], step: Callable[[set[Hashable]], Callable]) -> set[Hashable]:
    """The least set of rule names closed under ``step(set)`` holding of their bodies."""
    found: set[Hashable] = set()
    while True:
        memo: dict[int, tuple[ir.Node, object]] = {}  # one pass: every shared node evaluated once
        combine = step(set(found))
        new = [name for name, body in rules.items() if name not in found and _evaluate(body, combine, memo)]
        if not new:
            return found
        found.update(new)


def nullable_rules(rules: Mapping[Hashable, ir.Node]) -> set[Hashable]:
    """Names of the rules that match the empty string."""
    return _fixpoint(rules, _nullable_step)


def unproductive_rules(rules: Mapping[Hashable, ir.Node], *,
                       is_empty: Callable[[ir.Node], bool] | None = None) -> list[Hashable]:
    """Names of the rules no finite string matches, in definition order. ``is_empty`` decides
    intersections (counted as productive without it)."""
    memo: dict[int, tuple[ir.Node, object]] = {}
    combine = _productivity_formula(is_empty)
    formulas = {name: _evaluate(body, combine, memo) for name, body in rules.items()}
    productive: set[Hashable] = set()
    while True:
        new = [name for name, f in formulas.items() if name not in productive and _holds(f, productive)]
        if not new:
            break
        productive.update(new)
    return [name for name in rules if name not in productive]


def _left_corners(rules: Mapping[Hashable, ir.Node], nullable: set[Hashable]) -> dict[Hashable, list[Hashable]]:
    """Per rule, the rules it can enter before consuming input."""
    null_memo: dict[int, tuple[ir.Node, object]] = {}
    null_step = _nullable_step(nullable)

    def is_nullable(n: ir.Node) -> bool:
        return bool(_evaluate(n, null_step, null_memo))

    def combine(node: ir.Node, value: Callable[[ir.Node], object]) -> frozenset:
        if isinstance(node, ir.Ref):
            return frozenset((node.name,))
        if isinstance(node, ir.Seq):
            out: set = set()
            for item in node.items:
                out |= value(item)  # type: ignore[operator]
                if not is_nullable(item):
                    break
            return frozenset(out)
        if isinstance(node, (ir.Alt, ir.Members)):
            out = set()
            for item in _children(node):
                out |= value(item)  # type: ignore[operator]
            return frozenset(out)
        if isinstance(node, (ir.Repeat, ir.Lexeme, ir.Lazy)):
            return value(node.item)  # type: ignore[return-value]
        return frozenset()

    memo: dict[int, tuple[ir.Node, object]] = {}
    return {name: list(_evaluate(body, combine, memo)) for name, body in rules.items()}  # type: ignore[arg-type]


def left_recursion_cycle(rules: Mapping[Hashable, ir.Node]) -> list[Hashable] | None:
    """A cycle ``[a, b, ..., a]`` of rules entering each other without consuming input, or None."""
    nullable = nullable_rules(rules)
    corners = _left_corners(rules, nullable)
    edges = {name: [c for c in corner if c in rules] for name, corner in corners.items()}
    state: dict[Hashable, int] = {}  # 1: on the current path, 2: done
    for root in rules:
        if root in state:
            continue
        path: list[Hashable] = [root]
        iters = [iter(edges[root])]
        state[root] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(edges[nxt]))
    return None


def nesting(node: ir.Node, memo: dict[int, tuple[ir.Node, object]] | None = None) -> int:
    """How many levels of IR nodes nest below ``node`` (a rule reference counts as a leaf)."""
    def combine(n: ir.Node, value: Callable[[ir.Node], object]) -> int:
        return 1 + max((value(k) for k in _children(n)), default=0)  # type: ignore[type-var]
    return _evaluate(node, combine, {} if memo is None else memo)  # type: ignore[return-value]


def recursion_depth(rules: ir.Rules) -> int:
    """The deepest nesting the engine's passes may recurse through, from any rule.

    A derivative, a nullability test or a lowering enters a referenced rule only where it comes
    before any input is consumed (its left corners: the engine meets later references in later
    steps, from the top again). So the depth is a rule's own nesting plus the deepest of the
    rules at its left corners: the longest path of the left-corner graph. Front ends measure it
    with their rules so that the engine can make room for it (:mod:`enforcer.grammar.nesting`)
    and :class:`~enforcer.Limits` can refuse it: a chain of 3,000 rules each naming the next is
    as deep as 3,000 nested parentheses.

    One pass over the IR: every reference counts as nullable (an upper bound, without the
    nullability fixpoint; a cycle that assumption makes counts once).
    """
    table = rules.rules
    if not isinstance(table, dict):
        return 0  # built on demand: the front end measured it
    none: frozenset = frozenset()

    def combine(node: ir.Node, value: Callable[[ir.Node], object]) -> tuple[int, bool, frozenset]:
        if isinstance(node, ir.Ref):
            return 1, True, frozenset((node.name,))
        kids = _children(node)
        if not kids:
            return 1, isinstance(node, ir.Empty) or (isinstance(node, ir.Words) and b"" in node.words), none
        parts = [value(k) for k in kids]
        deepest = 1 + max(p[0] for p in parts)  # type: ignore[index]
        if isinstance(node, ir.Seq):
            corners: frozenset = none
            for _, nullable, refs in parts:  # type: ignore[misc]
                corners = corners | refs if refs else corners
                if not nullable:
                    return deepest, False, corners
            return deepest, True, corners
        nullable = (any(p[1] for p in parts) if isinstance(node, ir.Alt)  # type: ignore[index]
                    else node.min == 0 or parts[0][1] if isinstance(node, ir.Repeat)  # type: ignore[index]
                    else parts[0][1] if isinstance(node, (ir.Lexeme, ir.Lazy)) else False)  # type: ignore[index]
        if isinstance(node, (ir.Intersect, ir.Complement)):
            return deepest, nullable, none  # no rule inside (no text front end writes one there)
        refs = [p[2] for p in parts if p[2]]  # type: ignore[index]
        return deepest, nullable, (refs[0] if len(refs) == 1 else frozenset().union(*refs)) if refs else none

    memo: dict[int, tuple[ir.Node, object]] = {}
    measured = {name: _evaluate(body, combine, memo) for name, body in table.items()}
    depth: dict[Hashable, int] = {}
    for root in table:
        if root in depth:
            continue
        path, iters = [root], [iter(measured[root][2])]  # type: ignore[index]
        depth[root] = -1  # on the path
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                name = path.pop()
                iters.pop()
                own, _, corners = measured[name]  # type: ignore[misc]
                depth[name] = own + max((depth[c] for c in corners if depth.get(c, -1) > 0), default=0)
            elif nxt in table and nxt not in depth:
                depth[nxt] = -1
                path.append(nxt)
                iters.append(iter(measured[nxt][2]))  # type: ignore[index]
    return max(depth.values(), default=0)


def check_rules(rules: ir.Rules, *, locate: Callable[[Hashable], str] | None = None, left_recursion: bool = True,
                is_empty: Callable[[ir.Node], bool] | None = None) -> None:
    """Raise :class:`SchemaError` naming the rules if ``rules`` has left recursion or rules that
    can never finish. ``locate(name)`` (e.g. ``"line 3"``) is added to the names when given.
    ``left_recursion=False`` skips that check for front ends that cannot produce it (JSON text
    always writes a bracket or a key before a nested value)."""
    if not isinstance(rules.rules, dict):
        return  # built on demand: cannot be enumerated
    table = rules.rules

    def label(name: Hashable) -> str:
        return f"{name!r} ({locate(name)})" if locate else repr(name)

    dead = unproductive_rules(table, is_empty=is_empty)
    if dead:
        names = ", ".join(label(n) for n in dead)
        raise SchemaError(f"rule{'s' if len(dead) > 1 else ''} {names} can never finish: no finite "
                          "text matches, since every alternative needs one of these rules again "
                          "(e.g. 'a ::= \"x\" a' has no alternative that stops)")
    cycle = left_recursion_cycle(table) if left_recursion else None
    if cycle:
        chain = " -> ".join(repr(n) for n in cycle)
        raise SchemaError(f"left recursion in rule {label(cycle[0])}: {chain} without consuming input; "
                          "rewrite it with repetition, e.g. 'expr ::= term (\"+\" term)*' instead of "
                          "'expr ::= expr \"+\" term | term'")
