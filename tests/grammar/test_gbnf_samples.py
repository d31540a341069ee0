"""llama.cpp's sample grammars (tests/grammar/gbnf/, MIT, vendored unchanged) compiled and run
token by token with real tokenizers: Llama 3 (byte-level BPE) and Mistral v3 (SentencePiece with
byte fallback).

Hand-written examples live in tests/grammar/gbnf_examples.json ("accept" and "reject" per
grammar; the benchmark reads the "accept" ones too). Every example is also checked against the
IR oracle (tests/ir_oracle.py), an independent matcher over code points, and single-character
mutations of the accepted examples must get the same verdict from the engine and the oracle.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from enforcer import SchemaError, TokenRejectedError, Vocabulary, compile_grammar, compile_json_schema
from enforcer.grammar.gbnf import parse_gbnf

from tests.ir_oracle import matches
from tests.conftest import mistral_data

HERE = Path(__file__).resolve().parent
GRAMMAR_DIR = HERE / "gbnf"
EXAMPLES = json.loads((HERE / "gbnf_examples.json").read_text(encoding="utf-8"))
NAMES = sorted(EXAMPLES)


def grammar_text(name: str) -> str:
    return (GRAMMAR_DIR / f"{name}.gbnf").read_text(encoding="utf-8")


def test_every_sample_grammar_is_covered_and_compiles():
    assert sorted(p.stem for p in GRAMMAR_DIR.glob("*.gbnf")) == NAMES
    assert (GRAMMAR_DIR / "LICENSE").read_text().startswith("MIT License")
    for name in NAMES:
        rules = parse_gbnf(grammar_text(name))
        assert rules.start == "root" and len(rules.rules) >= 2


# --- the tokenizers -------------------------------------------------------------------------------

def _sentencepiece_without_dummy_prefix():
    """Mistral's SentencePiece model with its dummy prefix (a leading "▁") turned off: how text is
    tokenized in the middle of an output, which is what a model continues. Same ids as the
    transformers tokenizer the vocabulary is read from (same model file)."""
    spm = pytest.importorskip("sentencepiece")
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(mistral_data("mistral_instruct_tokenizer_240323.model.v3").read_bytes())
    model.normalizer_spec.add_dummy_prefix = False
    return spm.SentencePieceProcessor(model_proto=model.SerializeToString())


class Tokenizer:
    """A vocabulary, an encoder, and the grammars compiled for it (shared across tests)."""

    def __init__(self, name: str, vocab: Vocabulary, encode):
        self.name, self.vocab, self._encode = name, vocab, encode
        self._grammars: dict[str, object] = {}

    def encode(self, text: str) -> list[int]:
        ids = list(self._encode(text))
        assert b"".join(self.vocab.token_bytes(i) for i in ids) == text.encode("utf-8"), (self.name, text)
        return ids

    def grammar(self, name: str):
        if name not in self._grammars:
            self._grammars[name] = compile_grammar(grammar_text(name), self.vocab)
        return self._grammars[name]


@pytest.fixture(scope="module")
def llama3(llama3_tokenizer, llama3_vocab) -> Tokenizer:
    return Tokenizer("llama3", llama3_vocab, lambda s: llama3_tokenizer.encode(s, add_special_tokens=False))


@pytest.fixture(scope="module")
def mistral(mistral_sp_tokenizer) -> Tokenizer:
    sp = _sentencepiece_without_dummy_prefix()
    return Tokenizer("mistral", Vocabulary.from_pretrained(mistral_sp_tokenizer), sp.encode)


@pytest.fixture(params=["llama3", "mistral"])
def tok(request) -> Tokenizer:
    return request.getfixturevalue(request.param)


def feed(matcher, ids: list[int]) -> bool:
    """Advance through ``ids``; False at the first token outside the mask (which ``advance``
    must then refuse too)."""
    for token in ids:
        if not matcher.is_token_allowed(token):
            with pytest.raises(TokenRejectedError):
                matcher.advance(token)
            return False
        matcher.advance(token)
    return True


# --- accepted, rejected, generated ----------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_examples_are_accepted_token_by_token(tok, name):
    grammar = tok.grammar(name)
    for text in EXAMPLES[name]["accept"]:
        matcher = grammar.matcher()
        assert feed(matcher, tok.encode(text)), f"{name}: a token of {text!r} was refused"
        assert matcher.is_complete(), f"{name}: {text!r} should be complete"
        assert tok.vocab.eos_token_ids <= set(matcher.allowed_token_ids())


@pytest.mark.parametrize("name", NAMES)
def test_near_misses_are_rejected(tok, name):
    grammar = tok.grammar(name)
    for text in EXAMPLES[name]["reject"]:
        matcher = grammar.matcher()
        refused = not feed(matcher, tok.encode(text))
        assert refused or not matcher.is_complete(), f"{name}: {text!r} should be rejected"
        if not refused:
            assert not (tok.vocab.eos_token_ids & set(matcher.allowed_token_ids()))


def _state_size(grammar, matcher) -> int:
    """Nodes in the derivative expression of the matcher's state (test-only peek at a private
    table): it grows with what is still open (strings, brackets, pending rules)."""
    seen, stack = set(), [grammar._automaton.exprs[matcher.state]]
    while stack:
        e = stack.pop()
        if e.uid not in seen:
            seen.add(e.uid)
            stack.extend(a for a in e.args if hasattr(a, "uid"))
    return len(seen)


def guided_walk(grammar, vocab: Vocabulary, rng: random.Random, preferred: np.ndarray,
                max_tokens: int = 120) -> tuple[bytes, list[int]] | None:
    """Sample allowed tokens until EOS is chosen (None past ``max_tokens``), checking at every
    step that something is allowed and that EOS is allowed exactly when the text is complete.

    Uniform sampling over 128k tokens almost never closes a JSON string (few tokens hold a
    quote), so most draws come from ``preferred`` (the tokens of the examples and the one-byte
    tokens) when the mask allows some of them; after the first third of the budget the walk
    heads for the end: of a few candidates, it takes the one leaving the least open."""
    matcher = grammar.matcher()
    eos = vocab.eos_token_ids
    out, ids = b"", []
    for step in range(max_tokens):
        allowed = matcher.allowed_token_ids()
        assert allowed, f"dead end after {out!r}"
        eos_allowed = eos & set(allowed)
        assert bool(eos_allowed) == matcher.is_complete(), out
        assert not eos_allowed or eos_allowed == eos
        others = [t for t in allowed if t not in eos]
        closing = step >= max_tokens // 3
        if eos_allowed and (not others or closing or rng.random() < 0.2):
            matcher.advance(min(eos_allowed))
            return out, ids
        pool = [t for t in others if preferred[t]] if rng.random() < 0.85 else []
        pool = pool or others
        if closing:
            def left_open(t: int) -> tuple[int, float]:
                twin = matcher.fork()
                twin.advance(t)
                return (0 if twin.is_complete() else 1, _state_size(grammar, twin)), rng.random()
            token = min(rng.sample(pool, min(len(pool), 12)), key=left_open)
        else:
            token = rng.choice(pool)
        matcher.advance(token)
        out += vocab.token_bytes(token)
        ids.append(token)
    return None


@pytest.mark.parametrize("name", NAMES)
def test_random_walks_are_accepted_again(tok, name):
    grammar, vocab = tok.grammar(name), tok.vocab
    rules = parse_gbnf(grammar_text(name))
    preferred = np.zeros(vocab.size, dtype=bool)
    for text in EXAMPLES[name]["accept"]:
        preferred[tok.encode(text)] = True
    for token in range(vocab.size):
        data = vocab.token_bytes(token)
        preferred[token] |= data is not None and len(data) == 1 and data[0] < 0x80
    rng = random.Random(f"{tok.name}-{name}")
    finished = 0
    for _ in range(8):
        walk = guided_walk(grammar, vocab, rng, preferred)
        if walk is None:
            continue
        finished += 1
        out, ids = walk
        replay = grammar.matcher()
        assert feed(replay, ids) and replay.is_complete()
        text = out.decode("utf-8")  # a complete match is whole characters
        assert matches(rules, text), f"{name}: the oracle refuses generated {text!r}"
        retokenized = grammar.matcher()  # the tokenizer's own spelling of the same text
        assert feed(retokenized, tok.encode(text)) and retokenized.is_complete(), text
    assert finished >= 4, f"{name}: only {finished} of 8 walks reached EOS within 120 tokens"


# --- the IR oracle agrees on mutations (one-byte vocabulary: fast) --------------------------------

@pytest.fixture(scope="module")
def byte_vocab() -> Vocabulary:
    return Vocabulary.from_token_bytes([bytes([b]) for b in range(256)] + [None], eos_token_ids=[256],
                                       special_text={256: "<eos>"})


def byte_accepts(grammar, text: str) -> bool:
    matcher = grammar.matcher()
    for byte in text.encode("utf-8"):
        if not matcher.is_token_allowed(byte):
            return False
        matcher.advance(byte)
    return matcher.is_complete()


@pytest.mark.parametrize("name", NAMES)
def test_engine_and_oracle_agree_on_mutations(byte_vocab, name):
    grammar = compile_grammar(grammar_text(name), byte_vocab)
    rules = parse_gbnf(grammar_text(name))
    rng = random.Random(name)
    mutants = set(EXAMPLES[name]["reject"])
    for text in EXAMPLES[name]["accept"]:
        assert byte_accepts(grammar, text) and matches(rules, text)
        for i in range(len(text)):
            mutants.add(text[:i] + text[i + 1:])
            mutants.add(text[:i] + rng.choice('a0 "\n({-é日') + text[i + 1:])
    verdicts = {m: byte_accepts(grammar, m) for m in mutants}
    disagreements = [m for m, ok in verdicts.items() if ok != matches(rules, m)]
    assert not disagreements, disagreements[:5]
    assert not all(verdicts.values())  # some mutants are near misses, refused by both


# --- the GBNF JSON grammar against the JSON Schema path ---------------------------------------------

DOCUMENTS = [
    {}, {"a": 1}, {"a": [1, 2, 3], "b": {"c": None, "d": True, "e": False}},
    {"name": "Ann \"A\" Lee", "tags": ["x", "y\n", "\u00e9\u65e5"], "n": -0.5, "big": 1234567890123456},
    {"deep": {"deeper": {"deepest": [[], {}, [{"k": "v"}]]}}}, {"f": 3.25, "g": 0, "h": -7, "s": ""},
    {"esc": "tab\there \\ slash / \u0001 ctrl"}, {"emoji": "\U0001F389 ok", "list": [1.5, "two", None]},
]
STYLES = {
    "compact": lambda d: json.dumps(d, separators=(",", ":"), ensure_ascii=False),
    "default": lambda d: json.dumps(d, ensure_ascii=False),
    "ascii": lambda d: json.dumps(d),
    "indent2": lambda d: json.dumps(d, indent=2, ensure_ascii=False),
}
# The schema path with whitespace="flexible" and max_whitespace=21 (json.gbnf's longest gap is
# "\n" + 20 spaces or tabs) accepts every document above in every style. Valid JSON objects the
# two treat differently, and why (llama.cpp's json.gbnf is not quite JSON):
ONLY_SCHEMA = [
    '{"a":1e10}',                # json.gbnf's exponent is [0-9] [1-9]{0,15}: no 0 after its first digit
    '{"a":12345678901234567}',   # json.gbnf: at most 16 integer digits (the schema path: 19)
    '{\t"a":1}',                 # json.gbnf's gaps are "", " " or "\n" + [ \t]{0,20}: no lone tab,
    '{"a":  1}',                 # no two spaces,
    '{"a":\r\n1}',               # no carriage return
    '{"a":"\x7f"}',              # json.gbnf refuses a raw DEL in strings; JSON allows it
]
ONLY_GBNF = [
    '{"a":1}\n',                 # json.gbnf lets whitespace follow the root object;
    '{"a":1} ',                  # the schema path ends at the closing brace
]
NEITHER = ['{"a":\n' + " " * 21 + '1}', ' {"a":1}', '{"a":}', '{"a":1,}', '[1]', '{"a":"\\x"}', '{"a":tru}',
           '{a:1}', '{"a":1}}', '"s"']


@pytest.fixture(scope="module")
def json_pair(byte_vocab):
    return (compile_grammar(grammar_text("json"), byte_vocab),
            compile_json_schema({"type": "object"}, byte_vocab, whitespace="flexible", max_whitespace=21))


def test_gbnf_json_and_json_schema_agree_on_documents(json_pair):
    gbnf, schema = json_pair
    for document in DOCUMENTS:
        for style, dump in STYLES.items():
            text = dump(document)
            assert byte_accepts(gbnf, text), (style, text)
            assert byte_accepts(schema, text), (style, text)
    for text in NEITHER:
        assert not byte_accepts(gbnf, text) and not byte_accepts(schema, text), text


def test_where_gbnf_json_and_json_schema_differ(json_pair):
    gbnf, schema = json_pair
    for text in ONLY_SCHEMA:
        assert byte_accepts(schema, text) and not byte_accepts(gbnf, text), text
    for text in ONLY_GBNF:
        assert byte_accepts(gbnf, text) and not byte_accepts(schema, text), text


def test_gbnf_json_token_by_token_matches_the_schema_path(llama3):
    schema = compile_json_schema({"type": "object"}, llama3.vocab, whitespace="flexible", max_whitespace=21)
    gbnf = llama3.grammar("json")
    for document in DOCUMENTS:
        for dump in STYLES.values():
            ids = llama3.encode(dump(document))
            for grammar in (gbnf, schema):
                matcher = grammar.matcher()
                assert feed(matcher, ids) and matcher.is_complete(), dump(document)


def test_unproductive_sample_variant_is_refused():
    """A typo that makes a sample rule recursive with no way out is caught at compile time."""
    broken = grammar_text("chess").replace('castle  ::= "O-O" "-O"?', 'castle  ::= "O-O" castle')
    with pytest.raises(SchemaError, match=r"rule 'castle' \(line \d+\) can never finish"):
        parse_gbnf(broken)
