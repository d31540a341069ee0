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

Only finite rule mappings are checked (GBNF); the JSON Schema front end builds rules on demand
and never produces either problem. ``Intersect`` and ``Complement`` count as productive and
consuming: no text front end produces them inside rules.
"""

from __future__ import annotations

from typing import Callable, Hashable, Mapping

from ..errors import SchemaError
from . import ir

__all__ = ["check_rules", "left_recursion_cycle", "nullable_rules", "unproductive_rules"]


def _nullable(node: ir.Node, nullable: set[Hashable]) -> bool:
    if isinstance(node, ir.Empty):
        return True
    if isinstance(node, ir.Seq):
        return all(_nullable(x, nullable) for x in node.items)
    if isinstance(node, ir.Alt):
        return any(_nullable(x, nullable) for x in node.items)
    if isinstance(node, ir.Repeat):
        return node.min == 0 or _nullable(node.item, nullable)
    if isinstance(node, ir.Ref):
        return node.name in nullable
    return False  # terminals, Never, Intersect/Complement (see the module docstring)


def _productive(node: ir.Node, productive: set[Hashable]) -> bool:
    if isinstance(node, ir.Never):
        return False
    if isinstance(node, ir.CharClass | ir.ByteClass):
        return bool(node.ranges)
    if isinstance(node, ir.Seq):
        return all(_productive(x, productive) for x in node.items)
    if isinstance(node, ir.Alt):
        return any(_productive(x, productive) for x in node.items)
    if isinstance(node, ir.Repeat):
        return node.min == 0 or _productive(node.item, productive)
    if isinstance(node, ir.Ref):
        return node.name in productive
    return True  # Empty, Bytes, Intersect, Complement


def _fixpoint(rules: Mapping[Hashable, ir.Node], holds: Callable[[ir.Node, set[Hashable]], bool]) -> set[Hashable]:
    """The least set of rule names closed under ``holds(body, set)``."""
    found: set[Hashable] = set()
    changed = True
    while changed:
        changed = False
        for name, body in rules.items():
            if name not in found and holds(body, found):
                found.add(name)
                changed = True
    return found


def nullable_rules(rules: Mapping[Hashable, ir.Node]) -> set[Hashable]:
    """Names of the rules that match the empty string."""
    return _fixpoint(rules, _nullable)


def unproductive_rules(rules: Mapping[Hashable, ir.Node]) -> list[Hashable]:
    """Names of the rules no finite string matches, in definition order."""
    productive = _fixpoint(rules, _productive)
    return [name for name in rules if name not in productive]


def _left_corner(node: ir.Node, nullable: set[Hashable], out: list[Hashable]) -> None:
    """Append the rules ``node`` can enter before consuming input."""
    if isinstance(node, ir.Ref):
        out.append(node.name)
    elif isinstance(node, ir.Seq):
        for item in node.items:
            _left_corner(item, nullable, out)
            if not _nullable(item, nullable):
                break
    elif isinstance(node, ir.Alt):
        for item in node.items:
            _left_corner(item, nullable, out)
    elif isinstance(node, ir.Repeat):
        if node.max != 0:
            _left_corner(node.item, nullable, out)


def left_recursion_cycle(rules: Mapping[Hashable, ir.Node]) -> list[Hashable] | None:
    """A cycle ``[a, b, ..., a]`` of rules entering each other without consuming input, or None."""
    nullable = nullable_rules(rules)
    edges: dict[Hashable, list[Hashable]] = {}
    for name, body in rules.items():
        corner: list[Hashable] = []
        _left_corner(body, nullable, corner)
        edges[name] = list(dict.fromkeys(c for c in corner if c in rules))
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


def check_rules(rules: ir.Rules, *, locate: Callable[[Hashable], str] | None = None) -> None:
    """Raise :class:`SchemaError` naming the rules if ``rules`` has left recursion or rules that
    can never finish. ``locate(name)`` (e.g. ``"line 3"``) is added to the names when given."""
    if not isinstance(rules.rules, dict):
        return  # built on demand: cannot be enumerated
    table = rules.rules

    def label(name: Hashable) -> str:
        return f"{name!r} ({locate(name)})" if locate else repr(name)

    dead = unproductive_rules(table)
    if dead:
        names = ", ".join(label(n) for n in dead)
        raise SchemaError(f"rule{'s' if len(dead) > 1 else ''} {names} can never finish: no finite "
                          "text matches, since every alternative needs one of these rules again "
                          "(e.g. 'a ::= \"x\" a' has no alternative that stops)")
    cycle = left_recursion_cycle(table)
    if cycle:
        chain = " -> ".join(repr(n) for n in cycle)
        raise SchemaError(f"left recursion in rule {label(cycle[0])}: {chain} without consuming input; "
                          "rewrite it with repetition, e.g. 'expr ::= term (\"+\" term)*' instead of "
                          "'expr ::= expr \"+\" term | term'")
