"""The llama.cpp adapter with SmolLM2's GGUF file run by llama.cpp (llama-cpp-python): the
vocabulary read from the ``Llama`` object, JSON/regex/GBNF output through ``create_completion``,
stopping on each end-of-generation id, and the same greedy output as llama.cpp's own GBNF sampler
on the same grammar."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jsonschema
import pytest
from llama_cpp import LlamaGrammar, LogitsProcessorList

from enforcer.integrations.llamacpp import (GbnfLogitsProcessor, JsonSchemaLogitsProcessor, RegexLogitsProcessor,
                                            build_vocabulary)

ROOT = Path(__file__).resolve().parents[2]


def chat(text: str) -> str:
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


def complete(llm, prompt, processors, max_tokens=128, **options):
    # From a fresh state: llama-cpp-python otherwise reuses the cached prompt and re-evaluates only
    # its last token, whose logits differ in the last bits from a whole-prompt pass (enough to flip a
    # near tie under greedy decoding, with or without a constraint).
    llm.reset()
    out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=options.pop("temperature", 0.0),
                                logits_processor=LogitsProcessorList(processors) if processors else None,
                                **options)
    choice = out["choices"][0]
    return choice["text"], choice["finish_reason"], out["usage"]["completion_tokens"]


def boost(token: int):
    def processor(input_ids, scores):
        scores[token] += 1e4
        return scores
    return processor


def test_vocabulary_read_from_llama(llm):
    vocab = build_vocabulary(llm)
    assert vocab.size == llm.n_vocab() == 49152
    # llama.cpp's end-of-generation set: the metadata's eos (2, <|im_end|>), <|endoftext|> (0) by its
    # name and <reponame> (4), which llama.cpp takes for a fill-in-the-middle separator.
    import llama_cpp

    eog = {i for i in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(llm._model.vocab, i)}
    assert sorted(vocab.eos_token_ids) == sorted(eog) == [0, 2, 4]
    assert vocab.special_token_id("<|im_start|>") == 1
    text = "Héllo wörld 🙂 {\"a\": [1, 2]}\n\tend"
    tokens = llm.tokenize(text.encode(), add_bos=False)
    assert b"".join(vocab.token_bytes(t) for t in tokens) == text.encode()
    assert build_vocabulary(llm) is vocab


def test_json_schema(llm):
    schema = json.loads((ROOT / "schemas" / "person.schema.json").read_text())
    processor = JsonSchemaLogitsProcessor(schema, llm)
    text, finish, _ = complete(llm, chat("Give an example person as JSON."), [processor], max_tokens=200)
    jsonschema.validate(json.loads(text), schema)
    # llama.cpp never evaluates the EOS it samples, so the matcher sees the output complete, not ended.
    assert finish == "stop" and processor.matcher.is_complete()
    # Reused for the next request.
    text, finish, _ = complete(llm, chat("A person from Lisbon, as JSON."), [processor], max_tokens=200)
    jsonschema.validate(json.loads(text), schema)
    assert finish == "stop"


def test_regex_and_sampling(llm):
    processor = RegexLogitsProcessor(r"\d{4}-\d{2}-\d{2}", llm)
    text, finish, _ = complete(llm, chat("When did Apollo 11 land? Answer as YYYY-MM-DD."), [processor], max_tokens=20)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) and finish == "stop", text
    for seed in (1, 2):
        processor = RegexLogitsProcessor(r"[A-Z][a-z]{2,12}( [A-Z][a-z]{2,12}){0,2}", llm)
        text, finish, _ = complete(llm, chat("Name a city."), [processor], max_tokens=30, temperature=0.8,
                                   top_p=0.9, repeat_penalty=1.2, seed=seed)
        assert re.fullmatch(r"[A-Z][a-z]{2,12}( [A-Z][a-z]{2,12}){0,2}", text) and finish == "stop", text


@pytest.mark.parametrize("eos", [0, 2, 4])
def test_stops_on_each_end_of_generation_id(llm, eos):
    """Three letters, then (pushed towards ``eos``) the end-of-generation id, and llama.cpp stops.
    Without the constraint the push wins at once: the mask is what held the id back."""
    import llama_cpp

    for processors, expected in (([RegexLogitsProcessor("[a-c]{3}", llm), boost(eos)], 3), ([boost(eos)], 0)):
        tokens = []
        for token in llm.generate(llm.tokenize(chat("Hi").encode(), special=True), temp=0.0,
                                  logits_processor=LogitsProcessorList(processors)):
            tokens.append(token)
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token) or len(tokens) > 12:
                break
        assert tokens[-1] == eos
        text = llm.detokenize(tokens[:-1]).decode()
        assert len(text) == expected and re.fullmatch("[a-c]*", text), text


PERSON_GBNF = r'''root ::= "{\"name\": \"" name "\", \"age\": " age ", \"city\": \"" name "\"}"
name ::= [A-Z] [a-z]{1,15} (" " [A-Z] [a-z]{1,15})?
age ::= [1-9] [0-9]?
'''


@pytest.mark.parametrize("grammar, prompt", [
    (PERSON_GBNF, "Describe a person as JSON with name, age and city."),
    ((ROOT / "tests" / "grammar" / "gbnf" / "arithmetic.gbnf").read_text(), "Write an arithmetic expression."),
    ((ROOT / "tests" / "grammar" / "gbnf" / "json.gbnf").read_text(), "Describe a cat as JSON."),
])
def test_same_greedy_output_as_llama_cpp_grammar(llm, grammar, prompt):
    """Greedy decoding under the same GBNF text: llama.cpp's grammar sampler and our processor
    pick from the same allowed set at every step, so the outputs are identical."""
    start = time.perf_counter()
    theirs, their_finish, their_n = complete(llm, chat(prompt), [], max_tokens=60,
                                             grammar=LlamaGrammar.from_string(grammar, verbose=False))
    their_time = time.perf_counter() - start
    start = time.perf_counter()
    ours, our_finish, our_n = complete(llm, chat(prompt), [GbnfLogitsProcessor(grammar, llm)], max_tokens=60)
    our_time = time.perf_counter() - start
    print(f"\nllama.cpp grammar: {their_n} tokens in {their_time:.2f} s; enforcer: {our_n} in {our_time:.2f} s")
    assert ours == theirs and our_finish == their_finish and our_n == their_n
