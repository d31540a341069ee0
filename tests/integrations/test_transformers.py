"""Hugging Face generate with the processor and the prefix function: real models, real EOS sets."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
import torch

from enforcer import Vocabulary, VocabularyError, compile_json_schema
from enforcer.integrations.transformers import (GrammarLogitsProcessor, JsonSchemaLogitsProcessor,
                                                build_prefix_allowed_tokens_fn)
from enforcer.masking import allocate_token_bitmask, apply_token_bitmask_inplace, unpack_bitmask

from tests.conftest import LLAMA3_EOS, SMOLLM2_GGUF

SMALL = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99},
                                          "c": {"enum": ["red", "green", "blue"]},
                                          "ok": {"type": "boolean"}},
         "required": ["n", "c", "ok"], "additionalProperties": False}


# -- masking ------------------------------------------------------------------------------------

def test_apply_bitmask_matches_the_bits():
    rng = np.random.default_rng(0)
    vocab_size, width = 1000, 1008  # a padded head
    bitmask = torch.from_numpy(rng.integers(-2**31, 2**31, size=(3, 32), dtype=np.int64).astype(np.int32))
    logits = torch.randn(3, width)
    expected = logits.clone()
    bits = np.unpackbits(bitmask.numpy().view(np.uint8), bitorder="little").reshape(3, -1)[:, :vocab_size]
    expected[:, :vocab_size][torch.from_numpy(bits == 0)] = float("-inf")
    expected[:, vocab_size:] = float("-inf")
    apply_token_bitmask_inplace(logits, bitmask, vocab_size=vocab_size)
    assert torch.equal(logits, expected)
    assert unpack_bitmask(bitmask, vocab_size).sum() == int(bits.sum())


def test_apply_bitmask_to_selected_rows_and_half_precision():
    bitmask = allocate_token_bitmask(1, 64)
    bitmask[0, 0] = 0b101
    logits = torch.zeros(3, 64, dtype=torch.bfloat16)
    apply_token_bitmask_inplace(logits, bitmask, vocab_size=64, rows=torch.tensor([1]))
    assert torch.isfinite(logits[0]).all() and torch.isfinite(logits[2]).all()
    assert torch.isfinite(logits[1]).sum() == 2 and torch.isfinite(logits[1, [0, 2]]).all()


def test_narrow_logits_are_a_clear_error():
    with pytest.raises(VocabularyError, match="logits are 100 wide but the vocabulary has 128"):
        apply_token_bitmask_inplace(torch.zeros(1, 100), allocate_token_bitmask(1, 128), vocab_size=128)


def test_numpy_bitmask_and_numpy_logits_as_in_the_readme_loop():
    """The README's loop fills a numpy bitmask: masking takes it, for torch or numpy logits."""
    bitmask = np.zeros((1, 2), dtype=np.int32)
    bitmask[0, 0] = 0b1001
    bitmask[0, 1] = 1  # token 32
    logits = torch.zeros(1, 40)
    assert apply_token_bitmask_inplace(logits, bitmask, vocab_size=40) is logits
    assert torch.isfinite(logits[0]).nonzero().flatten().tolist() == [0, 3, 32]
    as_numpy = np.zeros((1, 40), dtype=np.float32)
    assert apply_token_bitmask_inplace(as_numpy, bitmask, vocab_size=40) is as_numpy
    assert np.flatnonzero(np.isfinite(as_numpy[0])).tolist() == [0, 3, 32]
    one_row = np.zeros(40, dtype=np.float32)  # a single row of logits, as a 1-d array
    apply_token_bitmask_inplace(one_row, bitmask[0], vocab_size=40)
    assert np.flatnonzero(np.isfinite(one_row)).tolist() == [0, 3, 32]


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.uint8, torch.float32, np.int64, np.bool_, np.uint32])
def test_a_bitmask_of_another_dtype_is_refused(dtype):
    """An int64 or bool bitmask has another layout: read as packed int32 it masks the wrong tokens."""
    from enforcer import EnforcerError

    if isinstance(dtype, torch.dtype):
        bitmask = torch.ones((1, 64), dtype=dtype)
    else:
        bitmask = np.ones((1, 64), dtype=dtype)
    with pytest.raises(EnforcerError, match="int32"):
        apply_token_bitmask_inplace(torch.zeros(1, 64), bitmask, vocab_size=64)


def test_shapes_that_do_not_fit_are_refused():
    from enforcer import EnforcerError

    with pytest.raises(EnforcerError, match="rows"):
        apply_token_bitmask_inplace(torch.zeros(3, 64), allocate_token_bitmask(2, 64), vocab_size=64)
    with pytest.raises(EnforcerError, match="2-d"):
        apply_token_bitmask_inplace(torch.zeros(2, 3, 64), allocate_token_bitmask(2, 64), vocab_size=64)
    with pytest.raises(EnforcerError, match="floating"):
        apply_token_bitmask_inplace(torch.zeros(1, 64, dtype=torch.int64), allocate_token_bitmask(1, 64),
                                    vocab_size=64)
    with pytest.raises(EnforcerError, match="torch tensor or a numpy array"):
        apply_token_bitmask_inplace([[0.0] * 64], allocate_token_bitmask(1, 64), vocab_size=64)


# -- a tiny random Llama with the Llama 3 vocabulary, a padded head and three EOS ids ------------

@pytest.fixture(scope="module")
def tiny(tiny_llama3_model, llama3_tokenizer):
    return tiny_llama3_model, llama3_tokenizer


def _generated(out, prompt_length):
    return [row[prompt_length:].tolist() for row in out]


def _text_and_eos(tokenizer, tokens, eos):
    ended = [i for i, t in enumerate(tokens) if t in eos]
    assert ended, f"no EOS in {tokens}"
    return tokenizer.decode(tokens[: ended[0]]), tokens[ended[0]]


@pytest.mark.parametrize("sampling", [False, True])
def test_processor_on_a_padded_llama3_head(tiny, sampling):
    model, tokenizer = tiny
    processor = JsonSchemaLogitsProcessor(SMALL, tokenizer, model=model)
    assert processor.grammar.vocab.size == 128_264 and processor.grammar.n_words == 4009
    prompt = tokenizer("Reply in JSON:", return_tensors="pt")
    torch.manual_seed(1)
    out = model.generate(**prompt, logits_processor=[processor], max_new_tokens=40, do_sample=sampling,
                         num_return_sequences=3 if sampling else 1, pad_token_id=128004)
    for tokens in _generated(out, prompt["input_ids"].shape[1]):
        text, eos = _text_and_eos(tokenizer, tokens, set(LLAMA3_EOS))
        jsonschema.validate(json.loads(text), SMALL)
        assert eos in LLAMA3_EOS


def test_prefix_allowed_tokens_fn_on_a_padded_llama3_head(tiny):
    model, tokenizer = tiny
    fn = build_prefix_allowed_tokens_fn(tokenizer, SMALL, model=model)
    prompt = tokenizer("JSON please:", return_tensors="pt")
    out = model.generate(**prompt, prefix_allowed_tokens_fn=fn, max_new_tokens=40, do_sample=False,
                         pad_token_id=128004)
    text, _ = _text_and_eos(tokenizer, _generated(out, prompt["input_ids"].shape[1])[0], set(LLAMA3_EOS))
    jsonschema.validate(json.loads(text), SMALL)
    assert max(fn(0, torch.tensor([1, 2]))) < 128_264


def test_beam_search_and_other_processors(tiny):
    model, tokenizer = tiny
    vocab = Vocabulary.from_pretrained(tokenizer, model=model)
    grammar = compile_json_schema(SMALL, vocab)
    prompt = tokenizer("JSON:", return_tensors="pt")
    out = model.generate(**prompt, logits_processor=[GrammarLogitsProcessor(grammar)], max_new_tokens=40,
                         num_beams=3, num_return_sequences=2, repetition_penalty=1.3, no_repeat_ngram_size=0,
                         pad_token_id=128004)
    for tokens in _generated(out, prompt["input_ids"].shape[1]):
        text, _ = _text_and_eos(tokenizer, tokens, set(LLAMA3_EOS))
        jsonschema.validate(json.loads(text), SMALL)


# -- SmolLM2-135M-Instruct, the real model ---------------------------------------------------------

@pytest.fixture(scope="module")
def smollm2(smollm2_dir, smollm2_tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(smollm2_dir), gguf_file=SMOLLM2_GGUF).eval()
    smollm2_tokenizer.padding_side = "left"
    return model, smollm2_tokenizer


PERSON = json.loads((__import__("pathlib").Path(__file__).resolve().parents[2] / "schemas" / "person.schema.json").read_text())


def _chat(tokenizer, texts):
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": t}], add_generation_prompt=True,
                                             tokenize=False) for t in texts]
    return tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)


def _check(model, tokenizer, out, prompt_length, schema):
    eos = set(Vocabulary.from_pretrained(tokenizer, model=model).eos_token_ids)
    for tokens in _generated(out, prompt_length):
        text, _ = _text_and_eos(tokenizer, tokens, eos)
        jsonschema.validate(json.loads(text), schema)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["greedy", "sampling", "batch", "beams"])
def test_smollm2_generates_valid_json_and_stops_on_eos(smollm2, mode):
    model, tokenizer = smollm2
    texts = ["Describe a person as JSON with name, age, email and hobbies."]
    kwargs = {"do_sample": False}
    if mode == "sampling":
        torch.manual_seed(7)
        kwargs = {"do_sample": True, "temperature": 0.9, "top_p": 0.95, "num_return_sequences": 2}
    elif mode == "batch":
        texts = ["A chef as JSON.", "Describe a retired astronaut who loves chess, in JSON.",
                 "JSON for a student.", "Invent a musician and give their details as JSON please."]
    elif mode == "beams":
        kwargs = {"num_beams": 3, "do_sample": False}
    inputs = _chat(tokenizer, texts)
    processor = JsonSchemaLogitsProcessor(PERSON, tokenizer, model=model)
    out = model.generate(**inputs, logits_processor=[processor], max_new_tokens=160,
                         pad_token_id=tokenizer.pad_token_id or 2, **kwargs)
    _check(model, tokenizer, out, inputs["input_ids"].shape[1], PERSON)


@pytest.mark.parametrize("ours_first", [True, False])
def test_next_to_other_processors_in_any_order(tiny, ours_first):
    from transformers import (LogitsProcessorList, NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor,
                              TemperatureLogitsWarper, TopPLogitsWarper)

    model, tokenizer = tiny
    ours = JsonSchemaLogitsProcessor(SMALL, tokenizer, model=model)
    others = [RepetitionPenaltyLogitsProcessor(1.5), NoRepeatNGramLogitsProcessor(4),
              TemperatureLogitsWarper(0.7), TopPLogitsWarper(0.9)]
    processors = LogitsProcessorList([ours, *others] if ours_first else [*others, ours])
    prompt = tokenizer("JSON:", return_tensors="pt")
    torch.manual_seed(3)
    out = model.generate(**prompt, logits_processor=processors, do_sample=True, max_new_tokens=40,
                         num_return_sequences=4, pad_token_id=128004)
    for tokens in _generated(out, prompt["input_ids"].shape[1]):
        text, eos = _text_and_eos(tokenizer, tokens, set(LLAMA3_EOS))
        jsonschema.validate(json.loads(text), SMALL)


@pytest.mark.parametrize("eos_id", LLAMA3_EOS)
def test_generation_stops_on_each_eos_id(tiny, eos_id):
    """With Llama 3.1's list of EOS ids configured, whichever one the model prefers ends it."""
    from transformers import LogitsProcessor, LogitsProcessorList

    class Prefer(LogitsProcessor):
        def __call__(self, input_ids, scores):
            scores[:, eos_id] += 1000.0  # still -inf while the grammar forbids it
            return scores

    model, tokenizer = tiny
    processors = LogitsProcessorList([JsonSchemaLogitsProcessor(SMALL, tokenizer, model=model), Prefer()])
    prompt = tokenizer("JSON:", return_tensors="pt")
    out = model.generate(**prompt, logits_processor=processors, do_sample=False, max_new_tokens=40,
                         pad_token_id=128004)
    tokens = _generated(out, prompt["input_ids"].shape[1])[0]
    assert tokens[-1] == eos_id and sum(t in LLAMA3_EOS for t in tokens) == 1
    jsonschema.validate(json.loads(tokenizer.decode(tokens[:-1])), SMALL)


# -- tool calls through generate ---------------------------------------------------------------------

@pytest.mark.parametrize("tool_choice", ["required", "auto"])
def test_tool_calls_with_python_tag_on_a_padded_head(tiny_llama3_model, llama31_tokenizer, tool_choice):
    from enforcer import parse_tool_calls
    from enforcer.integrations.transformers import ToolCallLogitsProcessor

    from tests.tools.test_compile_tools import PARAMETERS, TOOLS

    processor = ToolCallLogitsProcessor(TOOLS, llama31_tokenizer, model=tiny_llama3_model, tool_choice=tool_choice,
                                        format="llama3_python_tag", max_text_length=30)
    prompt = llama31_tokenizer("Call a tool:", return_tensors="pt")
    torch.manual_seed(2)
    out = tiny_llama3_model.generate(**prompt, logits_processor=[processor], max_new_tokens=120, do_sample=True,
                                     num_return_sequences=4, pad_token_id=128004)
    vocab = processor.grammar.vocab
    for tokens in _generated(out, prompt["input_ids"].shape[1]):
        ended = [i for i, t in enumerate(tokens) if t in vocab.eos_token_ids]
        if not ended:  # a random-weight model may ramble inside a string until max_new_tokens
            continue
        assert set(tokens[: ended[0]]) & vocab.special_token_ids <= {128010}
        calls = parse_tool_calls(tokens, TOOLS, format="llama3_python_tag", vocab=vocab)
        if tool_choice == "required":
            assert tokens[0] == 128010 and len(calls) == 1
        for call in calls:
            jsonschema.validate(call["arguments"], PARAMETERS[call["name"]])


@pytest.mark.slow
def test_smollm2_calls_the_tool_it_is_asked_for(smollm2):
    from enforcer import parse_tool_calls
    from enforcer.integrations.transformers import ToolCallLogitsProcessor

    from tests.tools.test_compile_tools import PARAMETERS, TOOLS

    from enforcer.tools import describe_tools

    model, tokenizer = smollm2
    questions = {"What is the weather in Paris?": "get_weather", "What is 17 * 23?": "calculate",
                 "Search the web for pasta recipes.": "search"}
    for question, expected in questions.items():
        messages = [{"role": "system", "content": describe_tools(TOOLS)}, {"role": "user", "content": question}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        processor = ToolCallLogitsProcessor(TOOLS, tokenizer, model=model, tool_choice="required")
        out = model.generate(**inputs, logits_processor=[processor], max_new_tokens=80, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id or 2)
        tokens = out[0, inputs["input_ids"].shape[1]:].tolist()
        calls = parse_tool_calls(tokens, TOOLS, vocab=processor.grammar.vocab)
        assert len(calls) == 1, tokenizer.decode(tokens)
        jsonschema.validate(calls[0]["arguments"], PARAMETERS[calls[0]["name"]])
        named = ToolCallLogitsProcessor(TOOLS, tokenizer, model=model,
                                        tool_choice={"type": "function", "function": {"name": expected}})
        out = model.generate(**inputs, logits_processor=[named], max_new_tokens=80, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id or 2)
        calls = parse_tool_calls(out[0, inputs["input_ids"].shape[1]:].tolist(), TOOLS, vocab=named.grammar.vocab)
        assert [c["name"] for c in calls] == [expected]


# -- reuse and the failure policy ---------------------------------------------------------------------

def test_one_processor_serves_two_generate_calls(tiny):
    """A second generate call with the same processor starts a new generation: its prompt is not
    read as output of the first (that ended in RecursionError)."""
    model, tokenizer = tiny
    processor = JsonSchemaLogitsProcessor(SMALL, tokenizer, model=model)
    for text in ["JSON:", "Another, longer prompt for the second call, in JSON please:", "J:"]:
        prompt = tokenizer(text, return_tensors="pt")
        out = model.generate(**prompt, logits_processor=[processor], max_new_tokens=40, do_sample=False,
                             pad_token_id=128004)
        tokens = _generated(out, prompt["input_ids"].shape[1])[0]
        text, _ = _text_and_eos(tokenizer, tokens, set(LLAMA3_EOS))
        jsonschema.validate(json.loads(text), SMALL)


def test_a_forbidden_token_fails_closed(tiny, caplog):
    """A processor after ours forces a token the grammar forbids: that row may then only end
    (EOS next), the failure is logged once, and generate does not raise."""
    from transformers import LogitsProcessor, LogitsProcessorList

    model, tokenizer = tiny
    bad = tokenizer.convert_tokens_to_ids("hello")

    class ForceOnce(LogitsProcessor):
        calls = 0

        def __call__(self, input_ids, scores):
            ForceOnce.calls += 1
            if ForceOnce.calls == 2:  # after "{" comes a forced "hello"
                scores[:, bad] = 1e9
            return scores

    ours = JsonSchemaLogitsProcessor(SMALL, tokenizer, model=model)
    prompt = tokenizer("JSON:", return_tensors="pt")
    with caplog.at_level("ERROR", logger="enforcer"):
        out = model.generate(**prompt, logits_processor=LogitsProcessorList([ours, ForceOnce()]), do_sample=False,
                             max_new_tokens=20, pad_token_id=128004)
    tokens = _generated(out, prompt["input_ids"].shape[1])[0]
    assert tokens[1] == bad and tokens[2] in LLAMA3_EOS  # closed: only EOS after the bad token
    assert caplog.text.count("fails closed") == 1


def test_prefix_function_fails_closed_too(tiny):
    model, tokenizer = tiny
    fn = build_prefix_allowed_tokens_fn(tokenizer, SMALL, model=model)
    prompt = [1, 2, 3]
    assert max(fn(0, torch.tensor(prompt))) < 128_264
    bad = tokenizer.convert_tokens_to_ids("hello")  # JSON cannot start with it
    assert sorted(fn(0, torch.tensor(prompt + [bad]))) == LLAMA3_EOS


# -- the token budget -------------------------------------------------------------------------------

TEXT = {"type": "object", "properties": {"text": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["text", "n"], "additionalProperties": False}


@pytest.mark.parametrize("how", ["processor", "prefix_fn", "generation_config"])
def test_budget_completes_the_output_within_max_new_tokens(tiny, how):
    """A random model never closes a free string by itself: with the budget the output still ends
    complete, on EOS, within max_new_tokens; without it, it is cut off."""
    model, tokenizer = tiny
    prompt = tokenizer("Reply in JSON:", return_tensors="pt")
    n = prompt["input_ids"].shape[1]
    limit = 16
    kwargs: dict = {"max_new_tokens": limit, "do_sample": True, "num_return_sequences": 3, "pad_token_id": 128004}
    if how == "processor":
        kwargs["logits_processor"] = [JsonSchemaLogitsProcessor(TEXT, tokenizer, model=model, max_new_tokens=limit)]
    elif how == "prefix_fn":
        kwargs["prefix_allowed_tokens_fn"] = build_prefix_allowed_tokens_fn(tokenizer, TEXT, model=model,
                                                                          max_new_tokens=limit)
    else:
        old = model.generation_config.max_new_tokens
        model.generation_config.max_new_tokens = limit
        try:
            kwargs["logits_processor"] = [JsonSchemaLogitsProcessor(TEXT, tokenizer, model=model)]
        finally:
            model.generation_config.max_new_tokens = old
    torch.manual_seed(3)
    out = model.generate(**prompt, **kwargs)
    for tokens in _generated(out, n):
        text, _ = _text_and_eos(tokenizer, tokens, set(LLAMA3_EOS))
        jsonschema.validate(json.loads(text), TEXT)
    torch.manual_seed(3)
    free = JsonSchemaLogitsProcessor(TEXT, tokenizer, model=model, max_new_tokens=limit, budget=False)
    out = model.generate(**prompt, logits_processor=[free], max_new_tokens=limit, do_sample=True,
                         num_return_sequences=3, pad_token_id=128004)
    assert any(not set(tokens) & set(LLAMA3_EOS) for tokens in _generated(out, n))


def test_budget_must_be_a_positive_integer(tiny):
    from enforcer import OptionError

    model, tokenizer = tiny
    with pytest.raises(OptionError):
        JsonSchemaLogitsProcessor(TEXT, tokenizer, model=model, max_new_tokens=0)
