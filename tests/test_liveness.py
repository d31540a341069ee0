"""Whether an intersection can still accept: texts first, then a best-first search.

The automaton must never intern a dead state as live (a token into it would be offered and the
output could not be finished) nor a live one as dead (a valid output refused). These tests hold
``Automaton.is_live`` to an exhaustive search over derivatives, on random intersections of small
regular languages, and hold a text (:mod:`enforcer.engine.texts`) to being a string of its
expression.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.engine.automaton import Automaton
from enforcer.engine.expr import NEVER, ExprFactory, class_byte
from enforcer.engine.lower import Lowering
from enforcer.engine.texts import Texts
from enforcer.grammar import ir
from enforcer.grammar.regex import parse_regex

PIECES = ["a", "b", "ab", "[ab]", "[a-c]{2}", "c", "a*", "b+", "(?:ab)*", "[bc]{0,3}", "a?", "(?:a|bc)"]


def exhaustive_live(f: ExprFactory, e) -> bool:
    """Reference: some derivative reachable from ``e`` is nullable (every state explored)."""
    seen, todo = {e}, [e]
    while todo:
        x = todo.pop()
        if f.nullable(x):
            return True
        for rep in (0, *f.cuts(x)):
            y = f.derive(x, rep)
            if y.kind != NEVER and y not in seen:
                seen.add(y)
                todo.append(y)
    return False


def regex_strategy() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(regex_strategy(), min_size=2, max_size=3), st.lists(st.sampled_from("abc"), max_size=4))
def test_is_live_agrees_with_an_exhaustive_search(patterns: list[str], prefix: list[str]) -> None:
    lowering = Lowering(ExprFactory())
    f = lowering.factory
    e = lowering.lower(ir.Intersect(tuple(parse_regex(p) for p in patterns)))
    e = f.derive_bytes(e, "".join(prefix).encode())  # a state inside the intersection, too
    if e.kind == NEVER:
        return
    expected = exhaustive_live(f, e)
    assert Automaton(f, max_states=100_000).is_live(e) == expected, (patterns, prefix)


@settings(max_examples=300, deadline=None)
@given(st.lists(regex_strategy(), min_size=1, max_size=3), st.booleans())
def test_a_text_is_a_string_of_its_expression(patterns: list[str], complement: bool) -> None:
    lowering = Lowering(ExprFactory())
    f = lowering.factory
    parts = [parse_regex(p) for p in patterns]
    if complement:
        parts[-1] = ir.Complement(parts[-1])
    e = lowering.lower(parts[0] if len(parts) == 1 else ir.Intersect(tuple(parts)))
    text = Texts(f).text(e)
    if text is not None:
        assert f.matches(e, text), (patterns, text)
    elif len(parts) == 1 and not complement:
        raise AssertionError(f"no text for {patterns}: every plain regular expression has one")


def derivations_to_decide(f: ExprFactory, e) -> int:
    before = f.derivations
    assert Automaton(f, max_states=100_000).is_live(e)
    return f.derivations - before


def test_an_intersection_whose_texts_fit_a_few_bytes_further_is_decided_quickly() -> None:
    """Inside an ASCII label of a host name that must hold a Latin-1 letter somewhere (the shape
    ``idn-hostname`` had): neither part's shortest text fits the other (``ß`` cannot continue
    the ASCII label, the label's ``a`` holds no ``ß``), ``a.ß`` does, three bytes on. Searched
    depth first in byte order, every ASCII label was explored before it."""
    lowering = Lowering(ExprFactory())
    f = lowering.factory
    label = "[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,40}[a-zA-Z0-9])?"
    hosts = parse_regex(rf"{label}(?:\.(?:{label}|[a-zß-ÿ]{{1,19}}))*")
    e = lowering.lower(ir.Intersect((hosts, parse_regex(".*[ß-ÿ].*"))))
    inside = f.derive_bytes(e, b"Example")  # an upper-case letter: this label is ASCII only
    assert inside.kind != NEVER
    assert derivations_to_decide(f, inside) < 400
    dead = f.derive_bytes(e, b"Ex")
    assert Automaton(f, max_states=100_000).is_live(f.derive_bytes(dead, b"-.")) is False


def test_texts_follow_the_class_of_each_byte() -> None:
    """``Texts.accepts`` derives by each byte's class representative, the derivatives the
    automaton keeps; the answer is the same as deriving by the bytes themselves."""
    lowering = Lowering(ExprFactory())
    f = lowering.factory
    e = lowering.lower(parse_regex("[a-f]{2,3}x|[0-9]+"))
    texts = Texts(f)
    for data in (b"abx", b"ffx", b"123", b"ax", b"abcx", b"0"):
        by_class = e
        for byte in data:
            by_class = f.derive(by_class, class_byte(f.cuts(by_class), byte))
        assert texts.accepts(e, data) == f.matches(e, data) == f.nullable(by_class), data
