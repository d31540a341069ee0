"""``enforcer check``: compile a constraint without a model and say what is enforced exactly."""

from __future__ import annotations

from .common import EXIT_INCOMPLETE, EXIT_OK
from .constraints import Task, byte_vocabulary


def run(args) -> int:
    task = Task.from_args(args)
    if task.kind in ("grammar", "regex"):
        task.compile(byte_vocabulary())
        if task.kind == "regex":
            print(f"{task.label}: compiles")
            return EXIT_OK
        from ..grammar.gbnf import parse_gbnf

        rules = parse_gbnf(task.source)
        print(f"{task.label}: {len(rules.rules)} rules, start rule {rules.start!r}: compiles, "
              "no left recursion, every rule can finish")
        return EXIT_OK
    grammar = task.compile(byte_vocabulary(), strict=False)
    if not grammar.approximations:
        print(f"{task.label}: every keyword is enforced exactly")
        return EXIT_OK
    for pointer, keyword, what in grammar.approximations:
        print(f"{task.label}: {keyword!r} at {pointer}: {what} cannot be enforced exactly "
              "(strict mode refuses it; strict=False enforces a superset)")
    return EXIT_INCOMPLETE
