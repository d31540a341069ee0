"""The MLX-LM adapter with models mlx-lm itself runs (CPU device): the MLX masking kernel, the
vocabulary (real width, full EOS set), stopping on each of Llama 3.1's EOS ids, a padded head,
and SmolLM2 writing JSON, regex and GBNF output through ``mlx_lm.generate``/``stream_generate``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import mlx.core as mx
import mlx_lm
import numpy as np
import pytest
from mlx_lm.sample_utils import make_logits_processors, make_sampler

from enforcer import VocabularyError, compile_regex
from enforcer.integrations.mlx import (GbnfLogitsProcessor, GrammarLogitsProcessor, JsonSchemaLogitsProcessor,
                                       RegexLogitsProcessor, apply_token_bitmask, build_vocabulary, logits_width)

ROOT = Path(__file__).resolve().parents[2]
LLAMA31_EOS = [128001, 128008, 128009]


def boost(token: int, amount: float = 1e4):
    """A processor run after ours: makes ``token`` the choice whenever our mask allows it."""
    def processor(tokens, logits):
        return logits + mx.where(mx.arange(logits.shape[-1]) == token, amount, 0.0)
    return processor


def run(model, tokenizer, prompt, processors, max_tokens=64, **kwargs):
    """(text, generated token ids, finish_reason) through stream_generate."""
    text, tokens, finish = "", [], None
    for response in mlx_lm.stream_generate(model, tokenizer, prompt, max_tokens=max_tokens,
                                           logits_processors=processors, **kwargs):
        text += response.text
        tokens.append(response.token)
        finish = response.finish_reason
    return text, tokens, finish


def chat(tokenizer, content: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                         tokenize=False)


# -- the kernel --------------------------------------------------------------------------------

@pytest.mark.parametrize("width", [100, 107, 128])
def test_kernel_matches_a_numpy_reference(width):
    rng = np.random.default_rng(width)
    vocab_size = 100
    bitmask = rng.integers(-2**31, 2**31, size=(3, 4), dtype=np.int64).astype(np.int32)
    logits = rng.standard_normal((3, width)).astype(np.float32)
    out = np.array(apply_token_bitmask(mx.array(logits), bitmask, vocab_size=vocab_size))
    bits = np.unpackbits(bitmask.view(np.uint8), axis=1, bitorder="little")[:, :vocab_size].astype(bool)
    expected = np.full_like(logits, -np.inf)
    expected[:, :vocab_size] = np.where(bits, logits[:, :vocab_size], -np.inf)
    assert np.array_equal(out, expected)
    single = np.array(apply_token_bitmask(mx.array(logits[1]), bitmask[1], vocab_size=vocab_size))
    assert np.array_equal(single, expected[1])


def test_kernel_refuses_narrow_logits():
    with pytest.raises(VocabularyError, match="logits are 90 wide but the vocabulary has 100"):
        apply_token_bitmask(mx.zeros((1, 90)), np.zeros((1, 4), np.int32), vocab_size=100)


# -- vocabulary --------------------------------------------------------------------------------

def test_vocabulary_of_the_padded_llama(tiny_llama3_mlx):
    model, tokenizer = tiny_llama3_mlx
    assert logits_width(model) == 128_264
    vocab = build_vocabulary(tokenizer, model)
    assert (vocab.size, vocab.tokenizer_size) == (128_264, 128_256)
    assert sorted(vocab.eos_token_ids) == LLAMA31_EOS
    assert build_vocabulary(tokenizer, model) is vocab  # kept per tokenizer


def test_padded_columns_are_masked(tiny_llama3_mlx):
    model, tokenizer = tiny_llama3_mlx
    processor = RegexLogitsProcessor("[a-z]{1,5}", tokenizer, model)
    prompt = mx.array(tokenizer.encode("Hello"))
    logits = model(prompt[None])[:, -1, :]
    assert logits.shape[-1] == 128_264
    out = np.array(processor(prompt, logits))[0]
    finite = set(np.flatnonzero(np.isfinite(out)).tolist())
    assert finite == set(processor.matcher.allowed_token_ids())
    assert max(finite) < 128_256 and not set(LLAMA31_EOS) & finite  # nothing written yet: no EOS


# -- stopping ----------------------------------------------------------------------------------

@pytest.mark.parametrize("eos", LLAMA31_EOS)
def test_generation_stops_on_each_eos_id(tiny_llama3_mlx, eos):
    """Three letters, then the model (pushed towards ``eos``) ends with it and mlx-lm stops."""
    model, tokenizer = tiny_llama3_mlx
    processor = RegexLogitsProcessor("[a-c]{3}", tokenizer, model)
    text, tokens, finish = run(model, tokenizer, "Hello", [processor, boost(eos)], max_tokens=12)
    assert re.fullmatch("[a-c]{3}", text), text
    assert tokens[-1] == eos and finish == "stop"
    assert processor.matcher.is_complete()
    # Without the constraint the push wins at once: the mask is what held EOS back.
    _, free, _ = run(model, tokenizer, "Hello", [boost(eos)], max_tokens=12)
    assert free == [eos]


def test_a_tokenizer_that_kept_one_eos_id_is_completed(tiny_llama3_dir):
    """MLX-LM's old bug: a reader kept one id of the list. The processor adds the others to what
    generation stops on (unless told not to)."""
    model, tokenizer = mlx_lm.load(str(tiny_llama3_dir))
    tokenizer.eos_token_ids = {128009}
    RegexLogitsProcessor("[a-c]{2}", tokenizer, model, sync_eos=False)
    assert tokenizer.eos_token_ids == {128009}
    processor = RegexLogitsProcessor("[a-c]{2}", tokenizer, model)
    assert set(tokenizer.eos_token_ids) == set(LLAMA31_EOS)
    text, tokens, finish = run(model, tokenizer, "Hi", [processor, boost(128008)], max_tokens=12)
    assert re.fullmatch("[a-c]{2}", text) and tokens[-1] == 128008 and finish == "stop"


def test_json_on_the_random_llama(tiny_llama3_mlx):
    model, tokenizer = tiny_llama3_mlx
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99},
                                               "ok": {"type": "boolean"}},
              "required": ["n", "ok"], "additionalProperties": False}
    processor = JsonSchemaLogitsProcessor(schema, tokenizer, model)
    text, tokens, finish = run(model, tokenizer, "Hello", [processor], max_tokens=40)
    jsonschema.validate(json.loads(text), schema)
    assert finish == "stop" and tokens[-1] in LLAMA31_EOS


# -- SmolLM2 ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_smollm2_person_json(smollm2_mlx):
    model, tokenizer = smollm2_mlx
    schema = json.loads((ROOT / "schemas" / "person.schema.json").read_text())
    vocab = build_vocabulary(tokenizer, model)
    assert (vocab.size, sorted(vocab.eos_token_ids)) == (49152, [2])
    processor = JsonSchemaLogitsProcessor(schema, tokenizer, model)
    prompt = chat(tokenizer, "Give an example person as JSON.")
    text = mlx_lm.generate(model, tokenizer, prompt, max_tokens=200, logits_processors=[processor])
    jsonschema.validate(json.loads(text), schema)
    assert processor.matcher.is_terminated()  # it ended on EOS, not on max_tokens
    # The same processor serves the next request (a new prompt starts a new one).
    text2, tokens, finish = run(model, tokenizer, chat(tokenizer, "A person from Lisbon, as JSON."), [processor],
                                max_tokens=200)
    jsonschema.validate(json.loads(text2), schema)
    assert finish == "stop" and tokens[-1] == 2


@pytest.mark.slow
def test_smollm2_regex_grammar_and_sampling(smollm2_mlx):
    model, tokenizer = smollm2_mlx
    date = RegexLogitsProcessor(r"\d{4}-\d{2}-\d{2}", tokenizer, model)
    text, _, finish = run(model, tokenizer, chat(tokenizer, "When did Apollo 11 land on the moon? Answer as "
                                                 "YYYY-MM-DD."), [date], max_tokens=20)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) and finish == "stop", text

    gbnf = 'root ::= answer "."\nanswer ::= "yes" | "no"\n'
    grammar = GbnfLogitsProcessor(gbnf, tokenizer, model)
    text, _, finish = run(model, tokenizer, chat(tokenizer, "Is Paris in France?"), [grammar], max_tokens=10)
    assert text in ("yes.", "no.") and finish == "stop"

    # mlx-lm's own sampler and repetition penalty after the mask: still valid.
    vocab = build_vocabulary(tokenizer, model)
    shared = compile_regex(r"[A-Z][a-z]{2,12}( [A-Z][a-z]{2,12}){0,2}", vocab)
    for seed in (0,):
        mx.random.seed(seed)
        processors = [GrammarLogitsProcessor(shared, tokenizer)] + make_logits_processors(repetition_penalty=1.2)
        text, _, finish = run(model, tokenizer, chat(tokenizer, "Name a city."), processors, max_tokens=30,
                              sampler=make_sampler(temp=0.8, top_p=0.9))
        assert re.fullmatch(r"[A-Z][a-z]{2,12}( [A-Z][a-z]{2,12}){0,2}", text) and finish == "stop", text
