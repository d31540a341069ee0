"""Fast-forward: the tokens the grammar forces never change the set of texts it accepts."""

from __future__ import annotations

import json
import random

import pytest

from enforcer import Vocabulary, compile_json_schema, compile_regex
from enforcer.engine.forced import fewest_tokens, forced_bytes

from .test_budget import PERSON, small_vocab


def byte_vocab() -> Vocabulary:
    return Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None], eos_token_ids=[256])


def accepted_texts(grammar, sid: int, limit: int = 2000) -> list[bytes]:
    """Every text accepted from ``sid`` (a finite language), by depth-first search over bytes."""
    out: list[bytes] = []
    stack = [(sid, b"")]
    while stack:
        s, text = stack.pop()
        if grammar.is_accepting(s):
            out.append(text)
        for lo, hi, nxt in grammar.byte_transitions(s):
            for b in range(lo, hi):
                stack.append((nxt, text + bytes([b])))
        assert len(out) < limit
    return out


FINITE = [r"\{\"a\":(true|false|null)\}", r"(red|green|blue)-(big|bigger)!", r"abc(def)?ghi", r"x{3}(y|z)\.end"]


@pytest.mark.parametrize("pattern", FINITE)
def test_forced_bytes_are_a_prefix_of_every_accepted_text(pattern):
    grammar = compile_regex(pattern, byte_vocab())
    texts = accepted_texts(grammar, grammar.initial_state)
    prefixes = {t[:i] for t in texts for i in range(len(t) + 1)}
    for prefix in prefixes:
        sid = grammar.step(grammar.initial_state, prefix) if prefix else grammar.initial_state
        data, end = forced_bytes(grammar, sid)
        rest = [t[len(prefix):] for t in texts if t.startswith(prefix)]
        assert all(r.startswith(data) for r in rest), (prefix, data)
        # what is accepted after the forced bytes is exactly the rest without them
        if data:
            assert sorted(accepted_texts(grammar, end)) == sorted(r[len(data):] for r in rest)
        # and nothing longer is forced: at the end either a choice or completion
        if rest and data != min(rest, key=len) and not grammar.is_accepting(end):
            assert len({r[len(data):len(data) + 1] for r in rest}) > 1


def check_forced_along_walk(grammar, rng: random.Random, encode=None, max_tokens: int = 120):
    """A random walk; at every step the forced tokens are allowed one after another, spell a
    prefix of the forced bytes, and the text the walk goes on to write starts with them."""
    vocab = grammar.vocab
    matcher = grammar.matcher()
    seen: list[tuple[int, bytes]] = []
    out = b""
    for _ in range(max_tokens):
        forced = matcher.forced_tokens(encode)
        data, _ = forced_bytes(grammar, matcher.state)
        probe = matcher.fork()
        spelled = b""
        for t in forced:
            assert probe.is_token_allowed(t)
            probe.advance(t)
            spelled += vocab.token_bytes(t)
        assert data.startswith(spelled)
        if forced:
            assert probe.state == grammar.step(matcher.state, spelled)
        seen.append((len(out), data))
        allowed = matcher.allowed_token_ids()
        eos = [t for t in allowed if t in vocab.eos_token_ids]
        if eos and (len(eos) == len(allowed) or rng.random() < 0.2):
            break
        token = rng.choice([t for t in allowed if t not in vocab.eos_token_ids])
        matcher.advance(token)
        out += vocab.token_bytes(token)
    for at, data in seen:
        assert out[at:].startswith(data) or (data.startswith(out[at:]) and len(out) - at < len(data)), (out, at, data)
    return out


def test_forced_tokens_along_walks_small_vocab():
    grammar = compile_json_schema(
        {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}, "ok": {"type": "boolean"},
                                          "list": {"type": "array", "items": {"enum": ["ab", "abc"]}}},
         "required": ["name", "ok", "list"], "additionalProperties": False}, small_vocab())
    rng = random.Random(0)
    for _ in range(20):
        check_forced_along_walk(grammar, rng)


def test_forced_tokens_along_walks_llama3(llama3_vocab, llama3_tokenizer):
    encode = lambda b: llama3_tokenizer.encode(b.decode("utf-8"), add_special_tokens=False)  # noqa: E731
    grammar = compile_json_schema(PERSON, llama3_vocab)
    rng = random.Random(5)
    for _ in range(4):
        check_forced_along_walk(grammar, rng, encode, max_tokens=60)


def test_forced_tokens_are_the_canonical_tokenization(llama3_vocab, llama3_tokenizer):
    """At the start of an object the key is forced; the tokens are what the tokenizer makes of
    the whole answer, and the last ones, which could merge with the free text after them, are
    left to the model."""
    encode = lambda b: llama3_tokenizer.encode(b.decode("utf-8"), add_special_tokens=False)  # noqa: E731
    grammar = compile_json_schema(PERSON, llama3_vocab)
    matcher = grammar.matcher()
    forced = matcher.forced_tokens(encode)
    assert forced
    answer = json.dumps({"name": "Ann", "age": 3, "tags": [], "address": {"city": "Oslo"}}, separators=(",", ":"))
    full = llama3_tokenizer.encode(answer, add_special_tokens=False)
    assert full[: len(forced)] == forced
    text = b"".join(llama3_vocab.token_bytes(t) for t in forced)
    data, _ = forced_bytes(grammar, matcher.state)
    assert data.startswith(text) and len(text) < len(data)  # the closing quote may merge with ':'


def test_nothing_is_forced_where_the_model_chooses(llama3_vocab):
    grammar = compile_regex(r"(yes|no)", llama3_vocab)
    assert grammar.matcher().forced_tokens() == []
    done = compile_regex(r"a", llama3_vocab).matcher()
    done.advance(llama3_vocab.trie.tokens_at(llama3_vocab.trie.find(b"a"))[0].item())
    assert done.forced_tokens() == []  # complete: only EOS may follow


def test_fewest_tokens(llama3_vocab):
    grammar = compile_regex("x", llama3_vocab)
    tokens = fewest_tokens(grammar, b'{"name":')
    assert b"".join(llama3_vocab.token_bytes(t) for t in tokens) == b'{"name":'
    assert len(tokens) <= 3


def test_forced_tokens_respect_the_budget():
    vocab = small_vocab()
    grammar = compile_regex(r"abcabc(x|y)", vocab)
    unlimited = grammar.matcher().forced_tokens()
    assert b"".join(vocab.token_bytes(t) for t in unlimited) == b"abcabc"
    tight = grammar.matcher(max_tokens=4)  # "abc" "abc" x EOS
    forced = tight.forced_tokens()
    assert len(forced) <= 2 and b"".join(vocab.token_bytes(t) for t in forced) in (b"abcabc", b"abc", b"")
