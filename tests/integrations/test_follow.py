"""What the MLX and llama.cpp processors share, tested without either framework: following a
request through whole-sequence calls (new prompts, one token a step, rejected draft tokens) and
the numpy masking kernel of the llama.cpp adapter."""

from __future__ import annotations

import numpy as np
import pytest

from enforcer import TokenRejectedError, Vocabulary, VocabularyError, compile_regex
from enforcer.integrations._follow import SequenceFollower
from enforcer.integrations.llamacpp import apply_token_bitmask_inplace

EOS = 256


@pytest.fixture(scope="module")
def grammar():
    vocab = Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None, b"ab"], eos_token_ids=[EOS],
                                        special_text={EOS: "<eos>"})
    return compile_regex("[a-c]{2,4}", vocab)


def ids(text: str) -> list[int]:
    return list(text.encode())


def test_prompt_then_one_token_a_step(grammar):
    follower = SequenceFollower(grammar)
    prompt = ids("Say abc: ")
    assert follower.sync(np.array(prompt)).num_tokens == 0
    assert follower.sync(np.array(prompt + ids("a"))).num_tokens == 1
    matcher = follower.sync(np.array(prompt + ids("ab")))
    assert matcher.is_complete() and follower.generated == ids("ab")
    assert follower.requests == 1


def test_rejected_draft_tokens_are_rolled_back(grammar):
    follower = SequenceFollower(grammar)
    prompt = ids("P:")
    follower.sync(np.array(prompt + []))
    follower.sync(np.array(prompt + ids("abc")))  # three drafted tokens accepted at once
    matcher = follower.sync(np.array(prompt + ids("ab") + [257]))  # the last one replaced by "ab"
    assert follower.generated == ids("ab") + [257] and matcher.num_tokens == 3
    assert matcher.is_complete()  # "abab" has 4 letters


def test_a_new_prompt_starts_a_new_request(grammar):
    follower = SequenceFollower(grammar)
    follower.sync(np.array(ids("one")))
    follower.sync(np.array(ids("one") + ids("abc")))
    assert follower.sync(np.array(ids("two"))).num_tokens == 0
    assert follower.requests == 2
    follower.sync(np.array(ids("two") + ids("a")))
    assert follower.sync(np.array(ids("two"))).num_tokens == 0  # same prompt again: rolled back to it
    follower.reset()
    follower.sync(np.array(ids("two")))
    assert follower.requests == 3


def test_a_forbidden_token_is_an_error(grammar):
    follower = SequenceFollower(grammar)
    follower.sync(np.array(ids("p")))
    with pytest.raises(TokenRejectedError):
        follower.sync(np.array(ids("p") + ids("z")))


def test_numpy_kernel_matches_the_bitmask(grammar):
    rng = np.random.default_rng(0)
    vocab_size = grammar.vocab.size
    matcher = grammar.matcher()
    bitmask = np.zeros((1, (vocab_size + 31) // 32), np.int32)
    matcher.fill_next_token_bitmask(bitmask)
    allowed = set(matcher.allowed_token_ids())
    for width in (vocab_size, vocab_size + 5):  # exact and padded head
        scores = rng.standard_normal(width).astype(np.float32)
        before = scores.copy()
        out = apply_token_bitmask_inplace(scores, bitmask, vocab_size=vocab_size)
        assert out is scores
        finite = set(np.flatnonzero(np.isfinite(scores)).tolist())
        assert finite == allowed == {ord("a"), ord("b"), ord("c"), 257}
        assert np.array_equal(scores[sorted(finite)], before[sorted(finite)])
    # A strided view, as llama-cpp-python's candidate array is (id, logit, p records).
    records = np.zeros(vocab_size, dtype=[("id", np.intc), ("logit", np.single), ("p", np.single)])
    records["logit"] = 1.0
    apply_token_bitmask_inplace(records["logit"], bitmask, vocab_size=vocab_size)
    assert set(np.flatnonzero(np.isfinite(records["logit"])).tolist()) == allowed
    with pytest.raises(VocabularyError, match="logits are 100 wide but the vocabulary has 258"):
        apply_token_bitmask_inplace(np.zeros(100, np.float32), bitmask, vocab_size=vocab_size)
