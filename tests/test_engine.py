"""The engine's contract, checked on regex grammars with real tokenizers."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from enforcer import (TokenRejectedError, UnsupportedSchemaError, Vocabulary, VocabularyError,
                      compile_regex)

from .conftest import LLAMA3_EOS


def allowed_from_bitmask(matcher, vocab) -> set[int]:
    bitmask = np.zeros((2, (vocab.size + 31) // 32), dtype=np.int32)
    matcher.fill_next_token_bitmask(bitmask, 1)
    assert not bitmask[0].any()  # only the requested row is written
    bits = np.unpackbits(bitmask[1].view(np.uint8), bitorder="little")[: vocab.size]
    return set(np.flatnonzero(bits).tolist())


def random_walk(grammar, vocab, rng: random.Random, max_tokens: int = 200) -> tuple[bytes, list[int]]:
    """Sample only allowed tokens until EOS; check the three views of the mask agree each step."""
    matcher = grammar.matcher()
    out, ids = b"", []
    for _ in range(max_tokens):
        allowed = matcher.allowed_token_ids()
        assert allowed, f"dead end after {out!r}"
        assert set(allowed) == allowed_from_bitmask(matcher, vocab)
        eos_allowed = vocab.eos_token_ids & set(allowed)
        assert bool(eos_allowed) == matcher.is_complete()
        if eos_allowed:
            assert eos_allowed == vocab.eos_token_ids  # the whole set, never a part
        if matcher.is_complete() and (len(allowed) == len(eos_allowed) or rng.random() < 0.15):
            matcher.advance(rng.choice(sorted(eos_allowed)))
            assert matcher.is_terminated()
            return out, ids
        token = rng.choice([t for t in allowed if t not in vocab.eos_token_ids])
        assert matcher.is_token_allowed(token)
        assert not any(matcher.is_token_allowed(s) for s in (vocab.special_token_ids - vocab.eos_token_ids))
        matcher.advance(token)
        out += vocab.token_bytes(token)
        ids.append(token)
    raise AssertionError(f"no EOS after {max_tokens} tokens: {out!r}")


PATTERNS = [
    r"[a-z]{1,8}@[a-z]{2,6}\.(com|org|net)",
    r"\d{3}-\d{4}",
    r"(yes|no|maybe)",
    r"[\u4e00-\u9fff]{1,6}",
    r"(\u{1F600}|\u{1F389}|é|ñ){1,5}",
    r"-?(0|[1-9]\d{0,5})(\.\d{1,3})?",
    r"[A-Z][a-z]+( [A-Z][a-z]+){0,3}",
    r"\{\"a\":(true|false|null)\}",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_random_walks_match_the_regex(pattern, llama3_vocab):
    grammar = compile_regex(pattern, llama3_vocab)
    python = re.compile(pattern.replace(r"\u{1F600}", "\U0001F600").replace(r"\u{1F389}", "\U0001F389"))
    rng = random.Random(pattern)
    for _ in range(15):
        text, _ = random_walk(grammar, llama3_vocab, rng)
        assert python.fullmatch(text.decode("utf-8")), text


def test_tokenization_of_a_valid_string_is_accepted(llama3_tokenizer, llama3_vocab):
    grammar = compile_regex(r"[a-z]+@[a-z]+\.com", llama3_vocab)
    matcher = grammar.matcher()
    for token in llama3_tokenizer.encode("hello@world.com", add_special_tokens=False):
        matcher.advance(token)
    assert matcher.is_complete()
    assert set(matcher.allowed_token_ids()) >= set(LLAMA3_EOS)


def test_only_eos_when_nothing_else_can_follow(llama3_tokenizer, llama3_vocab):
    matcher = compile_regex("(yes|no)", llama3_vocab).matcher()
    matcher.advance(llama3_tokenizer.convert_tokens_to_ids("yes"))
    assert set(matcher.allowed_token_ids()) == set(LLAMA3_EOS)


def test_eos_is_not_allowed_before_completion(llama3_tokenizer, llama3_vocab):
    matcher = compile_regex(r"\d{3}", llama3_vocab).matcher()
    matcher.advance(llama3_tokenizer.convert_tokens_to_ids("12"))
    assert not (set(matcher.allowed_token_ids()) & set(LLAMA3_EOS))
    with pytest.raises(TokenRejectedError, match="before the output is complete"):
        matcher.advance(128009)


def test_forbidden_tokens_are_rejected(llama3_tokenizer, llama3_vocab):
    matcher = compile_regex(r"\d{3}", llama3_vocab).matcher()
    with pytest.raises(TokenRejectedError, match="not allowed"):
        matcher.advance(llama3_tokenizer.convert_tokens_to_ids("abc"))
    with pytest.raises(TokenRejectedError, match="special"):
        matcher.advance(128006)
    with pytest.raises(TokenRejectedError, match="outside the vocabulary"):
        matcher.advance(10**6)
    assert matcher.num_tokens == 0  # a rejected token changes nothing


def test_tokens_that_end_inside_a_character(mistral_sp_tokenizer):
    """Byte-fallback tokens carry one byte of a UTF-8 character each."""
    vocab = Vocabulary.from_pretrained(mistral_sp_tokenizer)
    # Some transformers releases prepend SentencePiece's dummy-prefix space ("▁") here: allow it.
    grammar = compile_regex(" ?\U0001d400{2}", vocab)
    ids = mistral_sp_tokenizer.encode("\U0001d400\U0001d400", add_special_tokens=False)
    byte_tokens = [i for i in ids if vocab.token_bytes(i) != b" "]
    assert len(byte_tokens) == 8 and all(len(vocab.token_bytes(i)) == 1 for i in byte_tokens)  # <0xF0><0x9D><0x90><0x80> x2
    matcher = grammar.matcher()
    for i, token in enumerate(ids):
        assert not matcher.is_complete()
        assert token in matcher.allowed_token_ids()
        matcher.advance(token)
    assert matcher.is_complete()


def test_padded_vocabulary_never_allows_padding_ids(llama3_tokenizer, tiny_llama3_model):
    vocab = Vocabulary.from_pretrained(llama3_tokenizer, model=tiny_llama3_model)
    grammar = compile_regex("[a-z ]{0,20}", vocab)
    matcher = grammar.matcher()
    bitmask = np.zeros((1, (128_264 + 31) // 32), dtype=np.int32)
    matcher.fill_next_token_bitmask(bitmask)
    bits = np.unpackbits(bitmask[0].view(np.uint8), bitorder="little")
    assert bits[128_256:].sum() == 0 or set(np.flatnonzero(bits[128_256:]) + 128_256) <= set(LLAMA3_EOS)
    assert bits[128_000:128_256].sum() == 3  # the three EOS ids: the empty string is complete
    with pytest.raises(VocabularyError, match="words per row"):
        matcher.fill_next_token_bitmask(np.zeros((1, 128_256 // 32), dtype=np.int32))


def test_torch_cpu_bitmask(llama3_vocab):
    torch = pytest.importorskip("torch")
    matcher = compile_regex("(yes|no)", llama3_vocab).matcher()
    bitmask = torch.zeros((1, (llama3_vocab.size + 31) // 32), dtype=torch.int32)
    matcher.fill_next_token_bitmask(bitmask)
    expected = np.zeros((1, bitmask.shape[1]), dtype=np.int32)
    matcher.fill_next_token_bitmask(expected)
    assert np.array_equal(bitmask.numpy(), expected)


def test_rollback_and_fork(llama3_tokenizer, llama3_vocab):
    grammar = compile_regex(r"\d{2}-\d{2}", llama3_vocab)
    matcher = grammar.matcher()
    start = matcher.allowed_token_ids()
    ids = llama3_tokenizer.encode("12-34", add_special_tokens=False)
    for token in ids:
        matcher.advance(token)
    twin = matcher.fork()
    matcher.advance(128009)
    assert matcher.is_terminated() and not twin.is_terminated()
    matcher.rollback(1)
    assert not matcher.is_terminated() and matcher.is_complete()
    matcher.rollback(len(ids))
    assert matcher.allowed_token_ids() == start and matcher.num_tokens == 0
    with pytest.raises(ValueError):
        matcher.rollback(1)
    assert twin.is_complete() and twin.num_tokens == len(ids)


def test_grammars_are_shared_by_matchers(llama3_tokenizer, llama3_vocab):
    grammar = compile_regex(r"[a-z]{1,5}", llama3_vocab)
    a, b = grammar.matcher(), grammar.matcher()
    a.advance(llama3_tokenizer.convert_tokens_to_ids("abc"))
    assert b.num_tokens == 0 and b.allowed_token_ids() != a.allowed_token_ids()


def test_bounded_repetition_shares_masks(llama3_tokenizer, llama3_vocab):
    """maxLength-style bounds must not cost one trie walk per position."""
    grammar = compile_regex(r"[a-z ]{0,300}", llama3_vocab)
    walks_before = grammar._space.stats["lexeme_walks"]
    matcher = grammar.matcher()
    for token in llama3_tokenizer.encode("the quick brown fox jumps over the lazy dog " * 3,
                                         add_special_tokens=False):
        matcher.allowed_token_ids()
        matcher.advance(token)
    assert grammar._space.stats["lexeme_walks"] - walks_before + grammar.stats["raw_walks"] <= 3


def test_unsupported_regex_names_the_construct(llama3_vocab):
    with pytest.raises(UnsupportedSchemaError, match="lookbehind"):
        compile_regex(r"(?<=a)b", llama3_vocab)
    with pytest.raises(UnsupportedSchemaError, match="backreference"):
        compile_regex(r"(a)\1", llama3_vocab)


def test_intersections_dead_and_alive(llama3_vocab):
    """Intersections are the one place a non-empty-looking state can be empty: the engine must
    neither offer a token into an empty intersection nor refuse one into a live one."""
    from enforcer import SchemaError, compile_ir
    from enforcer.grammar import ir

    digits = ir.repeat(ir.char_class([(48, 57)]), 1, 4)
    letters = ir.repeat(ir.char_class([(97, 122)]), 1, 4)
    with pytest.raises(SchemaError, match="admits no"):
        compile_ir(ir.Intersect((digits, letters)), llama3_vocab)
    # "ab" followed by anything but "c": after "ab" the complement side is already satisfied
    not_c = ir.Complement(ir.literal("abc"))
    grammar = compile_ir(ir.Intersect((ir.repeat(ir.char_class([(97, 99)]), 1, 3), not_c)), llama3_vocab)
    rng = random.Random(0)
    for _ in range(20):
        text, _ = random_walk(grammar, llama3_vocab, rng)
        assert re.fullmatch(b"[a-c]{1,3}", text) and text != b"abc"


def test_intersection_members_implied_by_another():
    """``(x | y) & y`` is ``y`` and ``¬(x | y) & y`` is empty: what a search pattern becomes
    inside a key once it has matched (``.*p.*`` derives to ``… | .*``). Decided when the
    intersection is built, so no search through the key's states is needed to find it."""
    from enforcer.engine.expr import NEVER, ExprFactory

    f = ExprFactory()
    anything = f.repeat(f.byte_ranges([(0x20, 0x7E)]))
    matched = f.alt(f.seq(f.literal(b"net_"), anything), anything)  # ".*net_.*" after a match
    other = f.seq(f.repeat(f.byte_ranges([(0x61, 0x7A)])), f.literal(b"x"))
    assert f.both(anything, matched) is anything
    assert f.both(anything, matched, other) is f.both(anything, other)
    assert f.both(anything, f.complement(matched)).kind == NEVER
    assert f.both(other, f.complement(other)).kind == NEVER
    assert f.both(anything, f.complement(other)).kind != NEVER  # unrelated members stay
    # the languages agree with the unsimplified reading on a few words
    for word in (b"", b"ax", b"net_", b"zz net_q"):
        both = f.matches(f.both(anything, matched, other), word)
        assert both == (f.matches(anything, word) and f.matches(matched, word) and f.matches(other, word))


def test_members_in_any_order_offer_what_a_brute_force_count_offers():
    """An object in any order steps over a set of members left (a bit mask): which member may
    come next, and whether it may end, decided by counting required and writable members in
    the set. The counts are population counts of precomputed masks (hundreds of properties
    cost no more per step than five); checked here against counting member by member, over
    random objects: required members, members that cannot be written, bounds, extras."""
    from enforcer.engine.expr import NEVER, ExprFactory
    from enforcer.engine.lower import _MemberList

    f = ExprFactory()
    rng = random.Random(7)
    for _ in range(120):
        n = rng.randint(0, 8)
        members = []
        for i in range(n):
            first = f.never if rng.random() < 0.2 else f.literal(b'"k%d":1' % i)
            members.append((first, f.seq(f.literal(b","), first), rng.random() < 0.4))
        extra = (f.literal(b'"x":1'), f.literal(b',"x":1')) if rng.random() < 0.5 else None
        lo = rng.randint(0, 4)
        hi = rng.choice([None, lo + rng.randint(0, 4)])
        order = _MemberList(f, tuple(members), extra, lo, hi, ordered=False)

        def feasible(left: int, count: int) -> bool:
            inside = [m for i, m in enumerate(members) if left >> i & 1]
            required = [m for m in inside if m[2]]
            if any(m[0].kind == NEVER for m in required) or (hi is not None and count + len(required) > hi):
                return False
            return extra is not None or count + sum(m[0].kind != NEVER for m in inside) >= lo

        for left in range(1 << n):
            for count in range(0, 6):
                expected = [(i, left & ~(1 << i)) for i in range(n)
                            if left >> i & 1 and members[i][0].kind != NEVER and feasible(left & ~(1 << i), count + 1)]
                if extra is not None and feasible(left, count + 1):
                    expected.append((None, left))
                assert order.steps(left, count) == expected
                assert order.feasible(left, count) == feasible(left, count)
                assert order.may_end(left, count) == (count >= lo and not any(
                    members[i][2] for i in range(n) if left >> i & 1))


@pytest.mark.parametrize("bad", [97.7, 97.0, True, "97", np.float64(97.0), np.bool_(True), None])
def test_advance_rejects_what_is_not_an_integer(bad):
    """A float token id is a caller's bug (a logits value passed for an index): truncating it to
    an int would advance on a token nobody sampled."""
    vocab = Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None], eos_token_ids=[256])
    matcher = compile_regex("[a-z]+", vocab).matcher()
    with pytest.raises(TokenRejectedError, match="integer"):
        matcher.advance(bad)
    assert matcher.num_tokens == 0


def test_advance_takes_numpy_and_torch_integers():
    torch = pytest.importorskip("torch")
    vocab = Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None], eos_token_ids=[256])
    matcher = compile_regex("[a-z]+", vocab).matcher()
    for token in (np.int64(97), np.int32(98), torch.tensor(99), torch.tensor([100])[0], 101):
        matcher.advance(token)
    assert matcher.num_tokens == 5
