"""Budget-aware completion: the shortest-completion table against brute force, and random walks
under a budget that always end complete."""

from __future__ import annotations

import json
import random
from collections import deque

import numpy as np
import pytest

from enforcer import (OptionError, TokenRejectedError, Vocabulary, compile_grammar, compile_json_schema,
                      compile_regex)
from enforcer.engine import budget


def _allowed(grammar, sid: int) -> list[int]:
    bits = np.unpackbits(grammar.token_mask(sid).view(np.uint8), bitorder="little")[: grammar.vocab.size]
    return np.flatnonzero(bits).tolist()


def _token_graph(grammar, max_states: int = 3000) -> dict[int, set[int]]:
    """Every reachable state and the states its allowed tokens (EOS aside) lead to."""
    vocab = grammar.vocab
    edges: dict[int, set[int]] = {}
    queue = deque([grammar.initial_state])
    while queue:
        sid = queue.popleft()
        if sid in edges:
            continue
        assert len(edges) < max_states, "grammar too large for brute force"
        targets = set()
        for token in _allowed(grammar, sid):
            if token in vocab.eos_token_ids:
                continue
            if grammar.names_special(token):
                nxt = grammar.step_special(sid, token)
            else:
                nxt = grammar.step(sid, vocab.token_bytes(token))
            targets.add(nxt)
            if nxt not in edges:
                queue.append(nxt)
        edges[sid] = targets
    return edges


def brute_force_distances(grammar, max_states: int = 3000) -> dict[int, int]:
    """Every reachable state's fewest tokens to acceptance, by breadth-first search forwards over
    every allowed token and backwards from the accepting states."""
    edges = _token_graph(grammar, max_states)
    reverse: dict[int, list[int]] = {s: [] for s in edges}
    for s, ts in edges.items():
        for t in ts:
            reverse[t].append(s)
    dist = {s: 0 for s in edges if grammar.is_accepting(s)}
    queue = deque(dist)
    while queue:
        t = queue.popleft()
        for s in reverse[t]:
            if s not in dist:
                dist[s] = dist[t] + 1
                queue.append(s)
    return dist


def small_vocab() -> Vocabulary:
    """Single bytes plus a few longer pieces, so the shortest way is not one token per byte."""
    pieces = [bytes([b]) for b in range(256)]
    pieces += [b'{"', b'":', b'",', b'"}', b'name', b'na', b'me"', b'true', b'tr', b'ue}', b'ab', b'abc',
               b'12', b'123', b'"]', b'["', b'", "', b'null', b'":"']
    return Vocabulary.from_token_bytes(pieces + [None], eos_token_ids=[len(pieces)])


SMALL_SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string", "minLength": 2, "maxLength": 4},
                                      "ok": {"type": "boolean"}}, "required": ["name", "ok"],
     "additionalProperties": False},
    {"type": "array", "items": {"enum": ["ab", "abc", None]}, "minItems": 2, "maxItems": 3},
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 10, "maximum": 999}},
     "required": ["n"], "additionalProperties": False},
]

SMALL_REGEXES = [r"(yes|no|maybe)", r"\d{3}-\d{4}", r"\{\"a\":(true|false|null)\}", r"(ab|abc){2,3}x?"]


@pytest.mark.parametrize("schema", SMALL_SCHEMAS, ids=range(len(SMALL_SCHEMAS)))
def test_shortest_completion_matches_brute_force_small_vocab(schema):
    grammar = compile_json_schema(schema, small_vocab())
    expected = brute_force_distances(grammar)
    for sid, d in expected.items():
        assert budget.shortest_completion(grammar, sid) == d, (sid, grammar.expression(sid))


@pytest.mark.parametrize("pattern", SMALL_REGEXES)
def test_shortest_completion_matches_brute_force_llama3(pattern, llama3_vocab):
    grammar = compile_regex(pattern, llama3_vocab)
    expected = brute_force_distances(grammar)
    for sid, d in expected.items():
        assert budget.shortest_completion(grammar, sid) == d, (pattern, sid)


def walk(grammar, max_tokens: int, rng: random.Random) -> tuple[bytes, int]:
    """A random walk over the allowed tokens of a budgeted matcher: the text and the tokens used
    (EOS included). Checks the bitmask, ``is_token_allowed`` and ``advance`` agree."""
    vocab = grammar.vocab
    matcher = grammar.matcher(max_tokens=max_tokens)
    out = b""
    while not matcher.is_terminated():
        allowed = matcher.allowed_token_ids()
        assert allowed, f"dead end after {out!r}"
        eos = [t for t in allowed if t in vocab.eos_token_ids]
        others = [t for t in allowed if t not in vocab.eos_token_ids]
        token = rng.choice(eos) if eos and (not others or rng.random() < 0.1) else rng.choice(others)
        assert matcher.is_token_allowed(token)
        matcher.advance(token)
        out += vocab.token_bytes(token) or b""
        assert matcher.num_tokens <= max_tokens, f"over budget: {out!r}"
    return out, matcher.num_tokens


@pytest.mark.parametrize("schema", SMALL_SCHEMAS, ids=range(len(SMALL_SCHEMAS)))
def test_budget_walk_small_vocab_always_completes(schema):
    grammar = compile_json_schema(schema, small_vocab())
    d = grammar.matcher().shortest_completion()
    rng = random.Random(1)
    for slack in (0, 1, 3, 8):
        for _ in range(10):
            text, used = walk(grammar, d + 1 + slack, rng)
            json.loads(text)


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
    "required": ["name", "age", "tags", "address"],
}


def test_budget_walk_llama3_always_completes(llama3_vocab):
    import jsonschema

    grammar = compile_json_schema(PERSON, llama3_vocab)
    d = grammar.matcher().shortest_completion()
    assert 5 <= d <= 30
    rng = random.Random(7)
    for slack in (0, 2, 10):
        for _ in range(3):
            text, used = walk(grammar, d + 1 + slack, rng)
            jsonschema.validate(json.loads(text), PERSON)


def test_budget_walk_regex_llama3(llama3_vocab):
    grammar = compile_regex(r"[a-z]{1,40}@[a-z]{2,20}\.(com|org|net)", llama3_vocab)
    d = grammar.matcher().shortest_completion()
    rng = random.Random(3)
    for slack in (0, 1, 4):
        for _ in range(5):
            text, _ = walk(grammar, d + 1 + slack, rng)
            assert text.count(b"@") == 1


def test_ample_budget_keeps_every_value_of_a_large_enum(llama3_vocab, llama3_tokenizer):
    """Inside an enum of hundreds of values every token leads to a state of its own, more than
    the token search affords per step; a completion spelled byte by byte bounds them (each byte
    is a token of Llama 3), so no value is refused when the budget is ample."""
    rng = random.Random(5)
    values = [f"value-{i}-{rng.random()}" for i in range(1000)]
    schema = {"type": "object", "properties": {"k": {"enum": values}}, "required": ["k"]}
    grammar = compile_json_schema(schema, llama3_vocab)
    for value in values[::97]:
        matcher = grammar.matcher(max_tokens=60)
        for token in llama3_tokenizer.encode(json.dumps({"k": value}, separators=(",", ":")),
                                             add_special_tokens=False):
            assert matcher.is_token_allowed(token), value
            matcher.advance(token)
        assert matcher.is_complete()
    # and a budget that leaves no room for the value's rest still refuses
    matcher = grammar.matcher(max_tokens=8)
    tokens = llama3_tokenizer.encode(json.dumps({"k": values[0]}, separators=(",", ":")), add_special_tokens=False)
    assert not all(matcher.is_token_allowed(t) and matcher.advance(t) is None for t in tokens)


def test_too_small_a_budget_takes_the_shortest_way():
    grammar = compile_json_schema(SMALL_SCHEMAS[0], small_vocab())
    d = grammar.matcher().shortest_completion()
    text, used = walk(grammar, d + 1, random.Random(0)) if d > 1 else (b"", 0)
    assert used == d + 1
    # below what fits: still a complete output, by the shortest way
    matcher = grammar.matcher(max_tokens=1)
    rng = random.Random(0)
    while not matcher.is_terminated():
        matcher.advance(rng.choice(matcher.allowed_token_ids()))
    assert matcher.num_tokens == d + 1


def test_budget_refuses_tokens_that_leave_no_room():
    vocab = small_vocab()
    grammar = compile_regex(r"(ab|abc){2,3}x?", vocab)
    assert grammar.matcher().shortest_completion() == 2  # "ab" "ab"
    matcher = grammar.matcher(max_tokens=3)
    assert matcher.remaining_tokens == matcher.max_tokens == 3
    a = vocab.trie.tokens_at(vocab.trie.find(b"a"))[0]
    ab = vocab.trie.tokens_at(vocab.trie.find(b"ab"))[0]
    assert grammar.matcher().is_token_allowed(int(a))  # "a" is allowed without a budget...
    assert not matcher.is_token_allowed(int(a))  # ...but leaves "b", "ab", EOS: four tokens
    assert int(a) not in matcher.allowed_token_ids() and int(ab) in matcher.allowed_token_ids()
    with pytest.raises(TokenRejectedError):
        matcher.advance(int(a))


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "10"])
def test_max_tokens_must_be_a_positive_integer(bad, llama3_vocab):
    grammar = compile_regex("a", llama3_vocab)
    with pytest.raises(OptionError):
        grammar.matcher(max_tokens=bad)


def test_fork_and_rollback_keep_the_budget(llama3_vocab, llama3_tokenizer):
    grammar = compile_regex(r"\d{3}-\d{4}", llama3_vocab)
    matcher = grammar.matcher(max_tokens=10)
    first = llama3_tokenizer.encode("123", add_special_tokens=False)
    for t in first:
        matcher.advance(t)
    twin = matcher.fork()
    assert twin.max_tokens == 10 and twin.remaining_tokens == matcher.remaining_tokens
    matcher.rollback(len(first))
    assert matcher.remaining_tokens == 10


CEILING_SCHEMAS = [
    *SMALL_SCHEMAS,
    {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string", "minLength": 3},
                                            "minItems": 2, "maxItems": 4},
                                      "b": {"enum": ["abc", "na", None]}},
     "required": ["b"], "additionalProperties": False},
]


def _reachable(grammar) -> dict[int, set[int]]:
    """Every state reachable from each state of the brute-force graph, itself included."""
    successors = _token_graph(grammar)
    closure = {}
    for sid in successors:
        seen, todo = {sid}, [sid]
        while todo:
            for y in successors[todo.pop()]:
                if y not in seen:
                    seen.add(y)
                    todo.append(y)
        closure[sid] = seen
    return closure


@pytest.mark.parametrize("schema", CEILING_SCHEMAS, ids=range(len(CEILING_SCHEMAS)))
def test_ceiling_bounds_every_state_reached_after(schema):
    """The ceiling of a state lets the budget allow every token with no walk of the trie, so it
    must bound the true distance of every state reachable from it, not only of its own."""
    grammar = compile_json_schema(schema, small_vocab())
    shortest = budget.shortest_for(grammar)
    dist = brute_force_distances(grammar)
    closure = _reachable(grammar)
    finite = 0
    for sid, reached in closure.items():
        ceiling = shortest.witness.ceiling(grammar.expression(sid))
        if ceiling < budget.INF:
            finite += 1
            assert max(dist[y] for y in reached) <= ceiling, (sid, grammar.expression(sid))
    assert finite == len(closure)  # no rule cycles, intersections or specials here


def test_ceiling_of_a_recursive_schema_is_not_proved(llama3_vocab):
    tree = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}}}
    grammar = compile_json_schema(tree, llama3_vocab)
    shortest = budget.shortest_for(grammar)
    assert shortest.witness.ceiling(grammar.expression(grammar.initial_state)) >= budget.INF
    text, _ = walk(grammar, 40, random.Random(2))  # the walks and searches still decide it
    json.loads(text)


def test_ample_budget_skips_the_token_walks(llama3_vocab):
    """A closed schema (no additional properties: no free JSON value, whose nesting has no
    ceiling) under a budget at its ceiling: every mask is the grammar's own, no trie walk."""
    import jsonschema

    closed = {**PERSON, "additionalProperties": False,
              "properties": {**PERSON["properties"],
                             "address": {**PERSON["properties"]["address"], "additionalProperties": False}}}
    grammar = compile_json_schema(closed, llama3_vocab)
    shortest = budget.shortest_for(grammar)
    ceiling = shortest.witness.ceiling(grammar.expression(grammar.initial_state))
    assert ceiling < budget.INF
    budgeted = grammar.matcher(max_tokens=ceiling + 2)
    assert budgeted.allowed_token_ids() == grammar.matcher().allowed_token_ids()
    assert shortest.stats["ample"] >= 1 and shortest.stats["walks"] == 0
    rng = random.Random(11)
    for _ in range(3):  # free strings run on until the budget binds; then the walks decide
        text, _ = walk(grammar, ceiling + 2, rng)
        jsonschema.validate(json.loads(text), closed)


def test_a_search_decided_early_proves_no_more_than_it_saw():
    """A search given a limit stops at the first completion within it. What it proved then is
    the least ``f`` still open, not that completion's length: once, taking the latter made the
    byte-per-token plan of "abcabcabc" (9 tokens) the proved distance, though "abc" is one
    token, and the matcher refused valid tokens (MaskBench Github_easy---o4262)."""
    grammar = compile_regex(r"(abc){3}", small_vocab())
    assert brute_force_distances(grammar)[grammar.initial_state] == 3
    shortest = budget.Shortest(grammar)
    start = grammar.initial_state
    path = [start]
    for byte in b"abcabcabc":  # the plan of one byte per token, as the budget once made it
        path.append(grammar.step(path[-1], bytes([byte])))
    for i in range(9):
        shortest._offer(path[i], 9 - i, path[i + 1])
    assert shortest.upper[start] == 9  # achievable, not the least
    shortest._search(start, 9, 48)  # decided at once: 9 fits a limit of 9
    assert shortest._lower(start) <= 3
    assert shortest.distance(start) == 3


def _within(grammar, sid: int, n: int) -> set[int]:
    """The states reached from ``sid`` by at most ``n`` bytes."""
    seen, frontier = {sid}, {sid}
    for _ in range(n):
        frontier = {y for x in frontier for _, _, y in grammar.byte_transitions(x)} - seen
        seen |= frontier
    return seen


CEILING_GRAMMARS = [
    ("regex", r"(xy){3}z?"),
    ("regex", r"[a-c]{2,5}(,[a-c]{2,5}){1,3}"),
    ("gbnf", 'root ::= item{3}\nitem ::= "[" inner "]" | "xyz"\ninner ::= "ab"{1,3} | "na"'),
    ("gbnf", 'root ::= "(" list ")"\nlist ::= item ("," item){2,4}\nitem ::= "q" | "<" "name"+ ">"'),
]


@pytest.mark.parametrize("kind, text", CEILING_GRAMMARS)
def test_ceilings_bound_the_distances_of_grammars(kind, text):
    """Repetitions owe their copies still to come (``x{3}``: inside the first, two more): every
    state within a few bytes of a state sampled along random walks is no farther from the end
    than the sampled state's ceiling."""
    vocab = small_vocab()
    grammar = compile_regex(text, vocab) if kind == "regex" else compile_grammar(text, vocab)
    shortest = budget.shortest_for(grammar)
    rng = random.Random(9)
    sids = {grammar.initial_state}
    for _ in range(8):
        matcher = grammar.matcher()
        for _ in range(rng.randrange(1, 10)):
            allowed = [t for t in matcher.allowed_token_ids() if t not in vocab.eos_token_ids]
            if not allowed:
                break
            matcher.advance(rng.choice(allowed))
            sids.add(matcher._states[-1])
    exact = budget.Shortest(grammar)  # apart from the one under test
    for sid in sorted(sids):
        ceiling = shortest.witness.ceiling(grammar.expression(sid))
        assert ceiling < budget.INF, grammar.expression(sid)
        worst = max(exact.distance(y) for y in _within(grammar, sid, 6))
        assert worst <= ceiling, (sid, grammar.expression(sid))


def test_a_deeply_nested_schema_under_a_budget(llama3_vocab):
    """Forty objects deep, a random walk that writes until the budget binds. Two faults were
    found here: a successor let in by its witness kept an older, larger plan, so one step later
    the matcher took "the shortest way" from that plan and overran the budget by a token; and
    the budget's measures, written as recursion, ran out of Python's room inside a step on
    deep real schemas (MaskBench kb_209, sp_338), now evaluated with a stack of their own."""
    import jsonschema

    schema: dict = {"type": "string", "maxLength": 3}
    for _ in range(40):
        schema = {"type": "object", "properties": {"a": schema, "b": {"type": "integer"}, "c": {"type": "string"}},
                  "required": ["a"]}
    grammar = compile_json_schema(schema, llama3_vocab)
    for max_tokens, seed in ((300, 1), (300, 2), (160, 3)):
        text, used = walk(grammar, max_tokens, random.Random(seed))
        jsonschema.validate(json.loads(text), schema)
        assert used <= max_tokens


@pytest.mark.parametrize("bounds", [{}, {"minLength": 3, "maxLength": 12}])
def test_string_moves_lead_where_the_tokens_do(bounds, llama3_vocab, llama3_tokenizer):
    """A string state's moves come from the vocabulary's tables and, for tokens that end inside
    a character, from derivatives kept per string body: every token must lead where stepping
    it leads (a range group: between its loosest and tightest ends, by characters used)."""
    schema = {"type": "object", "properties": {"s": {"type": "string", **bounds}, "t": {"type": "string"}},
              "required": ["s", "t"], "additionalProperties": False}
    grammar = compile_json_schema(schema, llama3_vocab)
    shortest = budget.Shortest(grammar)
    for prefix in ('{"s":"', '{"s":"ab', '{"s":"xyz","t":"'):
        matcher = grammar.matcher()
        for token in llama3_tokenizer.encode(prefix, add_special_tokens=False):
            matcher.advance(token)
        sid = matcher._states[-1]
        assert grammar.string_branch(sid) is not None
        moves = shortest.moves(sid)
        assert shortest.stats["string_moves"] and not shortest.stats["walks"]
        partial = 0
        for k in range(moves.counts.size):
            ids = moves.group_ids(k).tolist()
            loose, tight = int(moves.targets[k]), int(moves.tight[k])
            for token in (ids if loose == tight else ids[:: max(1, len(ids) // 50)]):
                y = grammar.step(sid, llama3_vocab.token_bytes(token))
                assert y in (loose, tight) or loose != tight, (prefix, token)
            partial += loose == tight and len(ids) > 1
        assert partial  # groups of several tokens, not one per token
        assert not shortest.stats["partials_stepped"]  # by the derivatives kept, not token by token
        ids = set(moves.ids.tolist())
        assert ids == set(_allowed(grammar, sid)) - set(llama3_vocab.eos_token_ids)
