"""Vocabulary: exact token bytes for five real tokenizers, logits width, the EOS set, the cache."""

from __future__ import annotations

import unicodedata
from types import SimpleNamespace

import numpy as np
import pytest

from enforcer import Vocabulary, VocabularyError
from enforcer import cache as enforcer_cache
from enforcer.tokenizers import adapt

from .conftest import LLAMA3_EOS
from .corpus import labelled_corpus, roundtrip_corpus

CORPUS = roundtrip_corpus()


def concatenated(vocab: Vocabulary, ids) -> bytes:
    out = []
    for i in ids:
        piece = vocab.token_bytes(int(i))
        assert piece is not None, f"encoding produced id {i}, which has no bytes"
        out.append(piece)
    return b"".join(out)


def assert_round_trip(vocab: Vocabulary, encode, expected=lambda s: s.encode("utf-8"), corpus=CORPUS):
    failures = [s for s in corpus if concatenated(vocab, encode(s)) != expected(s)]
    assert not failures, f"{len(failures)} of {len(corpus)} strings differ, e.g. {failures[:3]!r}"


# SentencePiece writes a space as "▁" before tokenizing, so a literal "▁" in the input cannot be
# told apart from a space: no SentencePiece tokenizer can round-trip it, whatever reads its bytes.
WITHOUT_SPACE_MARKER = [s for s in CORPUS if "\u2581" not in s]


def test_corpus_is_large_and_varied():
    assert len(CORPUS) >= 2000 and len(set(CORPUS)) == len(CORPUS)
    categories = {c for c, _ in labelled_corpus()}
    assert {"ascii", "json", "whitespace", "cjk", "emoji", "combining", "odd"} <= categories


def test_llama3_bytes_round_trip(llama3_tokenizer, llama3_vocab):
    assert_round_trip(llama3_vocab, lambda s: llama3_tokenizer.encode(s, add_special_tokens=False))


def test_mistral_sentencepiece_bytes_round_trip(mistral_sp_tokenizer):
    vocab = Vocabulary.from_pretrained(mistral_sp_tokenizer)
    assert len(WITHOUT_SPACE_MARKER) >= 2000

    def encode(s):
        return mistral_sp_tokenizer.encode(s, add_special_tokens=False)

    # transformers 5.2x prepends SentencePiece's dummy-prefix space ("▁") as raw SentencePiece
    # does; earlier 5.x releases did not. Either way the bytes we read are what the model emits.
    prefix = b" " if vocab.token_bytes(encode("x")[0]).startswith(b" ") else b""
    assert_round_trip(vocab, encode, expected=lambda s: prefix + s.encode("utf-8"), corpus=WITHOUT_SPACE_MARKER)
    # Byte fallback: a character outside the pieces becomes <0xNN> tokens that split UTF-8.
    ids = [i for i in encode("\U0001d400") if vocab.token_bytes(i) != b" "]
    assert [vocab.token_bytes(i) for i in ids] == [bytes([b]) for b in "\U0001d400".encode()]


def test_mistral_common_sentencepiece_keeps_the_dummy_prefix(mistral_common_sp):
    """Raw SentencePiece prepends "▁" to the text (its dummy prefix); the bytes we read are what the
    model emits, so the expected text carries that leading space."""
    vocab = Vocabulary.from_pretrained(mistral_common_sp)
    sp = mistral_common_sp.instruct_tokenizer.tokenizer
    assert_round_trip(vocab, lambda s: sp.encode(s, bos=False, eos=False),
                      expected=lambda s: b" " + s.encode("utf-8"), corpus=WITHOUT_SPACE_MARKER)


def test_tekken_bytes_round_trip(tekken_tokenizer):
    vocab = Vocabulary.from_pretrained(tekken_tokenizer)
    assert vocab.size == 131_072 and vocab.eos_token_ids == {tekken_tokenizer.eos_id}
    assert_round_trip(vocab, lambda s: tekken_tokenizer.encode(s, bos=False, eos=False))


def test_qwen_bytes_round_trip(qwen_tokenizer):
    vocab = Vocabulary.from_pretrained(qwen_tokenizer)
    assert vocab.size == 151_851 and 151_643 in vocab.eos_token_ids
    # The raw tiktoken encoding is byte exact; Qwen's wrapper NFC-normalises the text first.
    assert_round_trip(vocab, lambda s: qwen_tokenizer._tokenizer.encode(s, allowed_special=set()))
    assert_round_trip(vocab, qwen_tokenizer.encode,
                      expected=lambda s: unicodedata.normalize("NFC", s).encode("utf-8"))


def test_smollm2_gguf_bytes_round_trip(smollm2_tokenizer):
    """SmolLM2's GGUF vocabulary has no token for a few control bytes (0x04, 0x14, ...): its own
    tokenizer drops those characters, so only text it encodes losslessly can round-trip."""
    vocab = Vocabulary.from_pretrained(smollm2_tokenizer)
    assert vocab.size == 49_152 and vocab.eos_token_ids == {2}

    def encode(s):
        return smollm2_tokenizer.encode(s, add_special_tokens=False)

    encodable = [s for s in CORPUS if smollm2_tokenizer.decode(encode(s)) == s]
    assert len(encodable) >= 2000
    assert_round_trip(vocab, encode, corpus=encodable)


def test_special_tokens_have_no_bytes(llama3_vocab):
    assert len(llama3_vocab.special_token_ids) == 256
    for token_id in (128000, 128001, 128009, 128010, 128255):
        assert token_id in llama3_vocab.special_token_ids
        assert llama3_vocab.token_bytes(token_id) is None
        assert llama3_vocab.trie.token_node[token_id] == -1
    assert llama3_vocab.special_token_id("<|start_header_id|>") == 128006
    assert llama3_vocab.special_token_text(128009) == "<|eot_id|>"


def test_padded_head_and_llama31_eos_set(llama3_tokenizer, tiny_llama3_model):
    vocab = Vocabulary.from_pretrained(llama3_tokenizer, model=tiny_llama3_model)
    assert vocab.size == 128_264
    assert vocab.eos_token_ids == frozenset(LLAMA3_EOS)
    assert vocab.tokenizer_size == 128_256
    for padded_id in range(128_256, 128_264):
        assert vocab.token_bytes(padded_id) is None
    assert vocab.trie.token_ids.max() < 128_256
    with pytest.raises(VocabularyError, match="outside the vocabulary"):
        vocab.token_bytes(128_264)


def test_explicit_vocab_size_and_eos_win(llama3_tokenizer, tiny_llama3_model):
    vocab = Vocabulary.from_pretrained(llama3_tokenizer, model=tiny_llama3_model, vocab_size=128_300,
                                       eos_token_ids=128009)
    assert vocab.size == 128_300 and vocab.eos_token_ids == {128009}


def test_width_from_config_and_text_config(llama3_tokenizer):
    from transformers import LlamaConfig, MllamaConfig

    plain = SimpleNamespace(config=LlamaConfig(vocab_size=128_512, eos_token_id=[128001, 128009]))
    vocab = Vocabulary.from_pretrained(llama3_tokenizer, model=plain)
    assert vocab.size == 128_512 and vocab.eos_token_ids == {128001, 128009}

    multimodal = MllamaConfig()
    multimodal.text_config.vocab_size = 128_264
    multimodal.text_config.eos_token_id = 128008
    vocab = Vocabulary.from_pretrained(llama3_tokenizer, model=SimpleNamespace(config=multimodal))
    assert vocab.size == 128_264 and vocab.eos_token_ids == {128008, 128009}


def test_width_defaults_to_the_tokenizer(llama3_tokenizer):
    vocab = Vocabulary.from_pretrained(llama3_tokenizer)
    assert vocab.size == len(llama3_tokenizer) == 128_256
    assert vocab.eos_token_ids == {128009}


def test_narrow_head_drops_unreachable_ids(llama3_tokenizer):
    with pytest.warns(UserWarning, match="can never be sampled"):
        vocab = Vocabulary.from_pretrained(llama3_tokenizer, vocab_size=100_000, eos_token_ids=[99_999])
    assert vocab.size == 100_000
    assert vocab.trie.token_ids.max() < 100_000
    assert vocab.token_bytes(99_998) is not None


def test_eos_outside_the_width_is_an_error(llama3_tokenizer):
    with pytest.raises(VocabularyError, match="128009"), pytest.warns(UserWarning):
        Vocabulary.from_pretrained(llama3_tokenizer, vocab_size=128_000)


def test_no_eos_anywhere_is_an_error():
    with pytest.raises(VocabularyError, match="eos_token_ids"):
        Vocabulary.from_token_bytes([b"a", b"b"], eos_token_ids=[])


def test_unknown_tokenizer_is_an_error():
    with pytest.raises(VocabularyError, match="cannot read token bytes"):
        Vocabulary.from_pretrained(object())


def test_wordpiece_decoder_is_rejected():
    from tokenizers import Tokenizer, decoders, models

    tok = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1, "##b": 2}, unk_token="[UNK]"))
    tok.decoder = decoders.WordPiece()
    with pytest.raises(VocabularyError, match="unsupported tokenizer decoder"):
        Vocabulary.from_pretrained(tok, eos_token_ids=[0])


def test_fingerprint_tracks_table_width_and_eos(llama3_tokenizer, llama3_vocab):
    again = Vocabulary.from_pretrained(llama3_tokenizer, eos_token_ids=LLAMA3_EOS)
    assert again.fingerprint == llama3_vocab.fingerprint
    assert Vocabulary.from_pretrained(llama3_tokenizer, eos_token_ids=[128009]).fingerprint != again.fingerprint
    assert Vocabulary.from_pretrained(llama3_tokenizer, eos_token_ids=LLAMA3_EOS,
                                      vocab_size=128_264).fingerprint != again.fingerprint


# -- the on-disk cache --------------------------------------------------------------------------

@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ENFORCER_CACHE_DIR", str(tmp_path))
    return tmp_path


def _count_reads(monkeypatch, tokenizer):
    adapter_class = type(adapt(tokenizer))
    calls = []
    original = adapter_class.read

    def counting_read(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(adapter_class, "read", counting_read)
    return calls


def test_second_load_comes_from_the_cache(cache_dir, monkeypatch, qwen_tokenizer):
    reads = _count_reads(monkeypatch, qwen_tokenizer)
    first = Vocabulary.from_pretrained(qwen_tokenizer)
    second = Vocabulary.from_pretrained(qwen_tokenizer)
    assert len(reads) == 1 and len(list(cache_dir.glob("*.npz"))) == 1
    assert second.fingerprint == first.fingerprint
    assert all(second.token_bytes(i) == first.token_bytes(i) for i in range(0, first.size, 97))
    np.testing.assert_array_equal(second.trie.subtree_end, first.trie.subtree_end)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip_byte"])
def test_corrupt_cache_is_rebuilt(cache_dir, monkeypatch, tekken_tokenizer, damage):
    good = Vocabulary.from_pretrained(tekken_tokenizer)
    (entry,) = cache_dir.glob("*.npz")
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"not a cache file at all")
    else:  # a flipped byte inside the stored token bytes: only the checksum can notice
        blob_at = data.find(b"blob.npy")
        data[blob_at + 4096] ^= 0xFF
    entry.write_bytes(bytes(data))
    reads = _count_reads(monkeypatch, tekken_tokenizer)
    with pytest.warns(UserWarning, match="discarding bad cache entry"):
        rebuilt = Vocabulary.from_pretrained(tekken_tokenizer)
    assert len(reads) == 1
    assert rebuilt.fingerprint == good.fingerprint


def test_stale_cache_is_rebuilt(cache_dir, monkeypatch, tekken_tokenizer):
    """An entry whose key matches but whose content no longer agrees with the tokenizer."""
    good = Vocabulary.from_pretrained(tekken_tokenizer)
    key = adapt(tekken_tokenizer).source_key()
    arrays, meta = enforcer_cache.load("vocab", key)
    arrays = dict(arrays)
    blob = arrays["blob"].copy()
    offsets = arrays["offsets"]
    blob[offsets[1000]:] = ord("x")  # every ordinary token changed, as in another vocabulary
    arrays["blob"] = blob
    enforcer_cache.store("vocab", key, arrays, {k: v for k, v in meta.items() if k in ("digest", "special_text")})
    with pytest.warns(UserWarning, match="disagrees with the tokenizer"):
        rebuilt = Vocabulary.from_pretrained(tekken_tokenizer)
    assert rebuilt.fingerprint == good.fingerprint


def test_cache_of_another_format_version_is_ignored(cache_dir, monkeypatch, tekken_tokenizer):
    Vocabulary.from_pretrained(tekken_tokenizer)
    monkeypatch.setattr(enforcer_cache, "FORMAT_VERSION", enforcer_cache.FORMAT_VERSION + 1)
    reads = _count_reads(monkeypatch, tekken_tokenizer)
    Vocabulary.from_pretrained(tekken_tokenizer)
    assert len(reads) == 1  # another version lives under another name: a miss, then a rebuild


def test_cache_can_be_switched_off(monkeypatch, tekken_tokenizer, tmp_path):
    monkeypatch.setenv("ENFORCER_CACHE_DIR", "off")
    assert enforcer_cache.cache_dir() is None
    reads = _count_reads(monkeypatch, tekken_tokenizer)
    Vocabulary.from_pretrained(tekken_tokenizer)
    Vocabulary.from_pretrained(tekken_tokenizer)
    assert len(reads) == 2


def _fresh_llama3_tokenizer():
    from tests.tiny_llama3 import load_llama3_tokenizer

    return load_llama3_tokenizer()  # its own object: the test changes it at run time


@pytest.mark.parametrize("change", ["pad_token", "additional_special_tokens", "existing_as_special"])
def test_a_runtime_change_of_special_tokens_is_not_served_from_the_cache(cache_dir, change):
    """The cache key covers the tokenizer's special-token state as it is now, not only its files:
    a token made special at run time has no bytes, and the cached table where it had some must not
    come back (the spot checks on a hit look at 24-odd ids only)."""
    tokenizer = _fresh_llama3_tokenizer()
    before = Vocabulary.from_pretrained(tokenizer)
    word = tokenizer.convert_tokens_to_ids("hello")
    assert before.token_bytes(word) == b"hello"
    if change == "pad_token":
        tokenizer.pad_token = "hello"
    elif change == "additional_special_tokens":
        tokenizer.add_special_tokens({"additional_special_tokens": ["<tool>"]})
    else:
        tokenizer.add_special_tokens({"additional_special_tokens": ["hello"]})
    after = Vocabulary.from_pretrained(tokenizer)
    fresh = Vocabulary.from_pretrained(tokenizer, use_cache=False)
    assert after.fingerprint == fresh.fingerprint
    assert after.token_bytes(word) == fresh.token_bytes(word)
    assert after.special_token_ids == fresh.special_token_ids
