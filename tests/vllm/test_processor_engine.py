"""EnforcerLogitsProcessor inside a real vLLM engine (CPU, in-process, the tiny Llama 3).

One engine for the module. The model's weights are random, so anything it writes that parses
and validates was written because of the mask; and it stops on one of Llama 3.1's three EOS ids
because those are allowed only once the output is complete.
"""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

vllm = pytest.importorskip("vllm")

from vllm import SamplingParams  # noqa: E402
from vllm.exceptions import VLLMValidationError  # noqa: E402

from enforcer.integrations.vllm import EnforcerLogitsProcessor  # noqa: E402
from tests.tiny_llama3 import LLAMA3_EOS  # noqa: E402

from .conftest import make_llm  # noqa: E402

PERSON = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 120}},
          "required": ["name", "age"], "additionalProperties": False}
COLOR = {"type": "object", "properties": {"c": {"enum": ["red", "green", "blue"]}, "ok": {"type": "boolean"}},
         "required": ["c", "ok"], "additionalProperties": False}
LIST = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "minItems": 1, "maxItems": 4}
PROMPTS = ["Write JSON:", "Hello", "The answer is", "Data:"]


@pytest.fixture(scope="module")
def llm(tiny_model_dir):
    # Named explicitly *and* registered through the entry point: one instance must do the work.
    # At most 8 requests at once, so that longer batches refill and compact rows.
    return make_llm(tiny_model_dir, logits_processors=[EnforcerLogitsProcessor], max_num_seqs=8)


def _processors(llm):
    runner = llm.llm_engine.engine_core.engine_core.model_executor.driver_worker.worker.model_runner
    return [p for p in runner.input_batch.logitsprocs.all if isinstance(p, EnforcerLogitsProcessor)]


def _check(output, schema):
    completion = output.outputs[0]
    assert completion.finish_reason == "stop", completion
    assert completion.token_ids[-1] in LLAMA3_EOS
    jsonschema.validate(json.loads(completion.text), schema)


def test_one_active_instance_though_loaded_twice(llm):
    processors = _processors(llm)
    assert len(processors) == 2  # the entry point and logits_processors=[...]
    assert [p.is_idle for p in processors] == [False, True]


def test_several_schemas_in_one_batch_sampled(llm):
    schemas = [PERSON, COLOR, LIST, PERSON, COLOR, LIST, PERSON, COLOR]
    params = [SamplingParams(max_tokens=120, temperature=1.0, seed=i, extra_args={"json_schema": s})
              for i, s in enumerate(schemas)]
    outputs = llm.generate(PROMPTS * 2, params, use_tqdm=False)
    for output, schema in zip(outputs, schemas):
        _check(output, schema)


def test_greedy_and_schema_as_json_text(llm):
    params = SamplingParams(max_tokens=120, temperature=0.0,
                            extra_args={"json_schema": json.dumps(COLOR), "whitespace": "flexible"})
    _check(llm.generate(["Colour:"], params, use_tqdm=False)[0], COLOR)


def test_mixed_batch_of_constrained_and_free_requests(llm):
    free = SamplingParams(max_tokens=16, temperature=1.0, seed=1, ignore_eos=True)
    constrained = SamplingParams(max_tokens=120, temperature=1.0, seed=2, extra_args={"json_schema": PERSON})
    params = [free, constrained, free, constrained, free]
    outputs = llm.generate(PROMPTS + ["x"], params, use_tqdm=False)
    for output, p in zip(outputs, params):
        if p is free:  # untouched: random weights ramble until max_tokens
            assert len(output.outputs[0].token_ids) == 16
            assert output.outputs[0].finish_reason == "length"
        else:
            _check(output, PERSON)
    assert all(p.num_constrained == 0 for p in _processors(llm))  # finished requests were dropped


def test_regex_request(llm):
    pattern = r"[0-9]{3}-[a-z]{2,4}"
    params = [SamplingParams(max_tokens=30, temperature=1.0, seed=i, extra_args={"regex": pattern}) for i in range(4)]
    for output in llm.generate(PROMPTS, params, use_tqdm=False):
        assert re.fullmatch(pattern, output.outputs[0].text), output.outputs[0].text
        assert output.outputs[0].finish_reason == "stop"


def test_more_requests_than_fit_at_once_reuse_batch_rows(llm, monkeypatch):
    # 40 requests, 8 rows: requests finish at different steps, so rows are removed, refilled by
    # waiting requests and compacted (moved); each matcher must follow its request.
    active = next(p for p in _processors(llm) if not p.is_idle)
    seen = {"added": 0, "removed": 0, "moved": 0}
    update_state = active._impl.update_state

    def spy(batch_update):
        if batch_update is not None:
            for kind in seen:
                seen[kind] += len(getattr(batch_update, kind))
        update_state(batch_update)

    monkeypatch.setattr(active._impl, "update_state", spy)
    schemas = [PERSON, COLOR, LIST, None]
    params = []
    for i in range(40):
        schema = schemas[i % 4]
        extra = {"json_schema": schema} if schema else None
        params.append(SamplingParams(max_tokens=4 + i if schema is None else 120, temperature=1.0, seed=i,
                                     extra_args=extra))
    outputs = llm.generate([f"Item {i}:" for i in range(40)], params, use_tqdm=False)
    for output, p in zip(outputs, params):
        if p.extra_args:
            _check(output, p.extra_args["json_schema"])
    assert seen["added"] == 40 and seen["moved"] > 0, seen


def test_gbnf_grammar_request(llm):
    grammar = 'root ::= "(" expr ")"\nexpr ::= num (("+" | "*") num){0,3}\nnum ::= [1-9] [0-9]?'
    params = [SamplingParams(max_tokens=40, temperature=1.0, seed=i, extra_args={"grammar": grammar}) for i in range(4)]
    for output in llm.generate(PROMPTS, params, use_tqdm=False):
        assert re.fullmatch(r"\([1-9][0-9]?([+*][1-9][0-9]?){0,3}\)", output.outputs[0].text), output.outputs[0].text
        assert output.outputs[0].finish_reason == "stop"


def test_tool_calls(llm):
    from pathlib import Path

    from enforcer import parse_tool_calls

    tools = json.loads((Path(__file__).parents[2] / "examples" / "tools.json").read_text())
    forced = {"type": "function", "function": {"name": "web_search"}}
    params = [SamplingParams(max_tokens=200, temperature=1.0, seed=i,
                             extra_args={"tools": tools, "tool_choice": choice, "tool_format": "llama3_json"})
              for i, choice in enumerate(["required", "required", json.dumps(forced)])]
    outputs = llm.generate(PROMPTS[:3], params, use_tqdm=False)
    for output in outputs:
        assert output.outputs[0].finish_reason == "stop"
        calls = parse_tool_calls(output.outputs[0].text, tools, format="llama3_json")  # validates arguments
        assert len(calls) == 1
    assert calls[0]["name"] == "web_search"


def test_grammar_naming_the_models_special_tokens(llm, llama3_tokenizer):
    """Validated against the model's vocabulary: the byte vocabulary refused this (HTTP 400)."""
    grammar = 'root ::= <|start_header_id|> ("user" | "assistant") <|end_header_id|>'
    params = SamplingParams(max_tokens=10, temperature=1.0, seed=0, skip_special_tokens=False,
                            extra_args={"grammar": grammar})
    completion = llm.generate(["x"], params, use_tqdm=False)[0].outputs[0]
    assert completion.finish_reason == "stop"
    ids = completion.token_ids
    assert ids[0] == llama3_tokenizer.convert_tokens_to_ids("<|start_header_id|>")
    assert ids[-2] == llama3_tokenizer.convert_tokens_to_ids("<|end_header_id|>") and ids[-1] in LLAMA3_EOS
    assert llama3_tokenizer.decode(ids[1:-2]) in {"user", "assistant"}


def test_choice_request(llm):
    choices = ["red", "green", "dark blue", 'say "hi"']
    params = [SamplingParams(max_tokens=20, temperature=1.0, seed=i, extra_args={"choice": choices}) for i in range(6)]
    for output in llm.generate(PROMPTS + PROMPTS[:2], params, use_tqdm=False):
        assert output.outputs[0].text in choices and output.outputs[0].finish_reason == "stop"


@pytest.mark.parametrize("extra_args, message", [
    ({"json_schema": COLOR, "regex": "a"}, "2 constraints"),
    ({"json_schema": {"type": "nope"}}, "json_schema does not compile"),
    ({"json_schema": 5}, "must be an object"),
    ({"json_schema": "{not json"}, "not valid JSON"),
    ({"regex": ["a"]}, "'regex' must be a string"),
    ({"regex": "(a"}, "regex does not compile"),
    ({"regex": "a", "whitespace": "flexible"}, "do not apply to 'regex'"),
    ({"grammar": "root ::= undefined_rule"}, "grammar does not compile"),
    ({"json_schema": {"type": "array", "uniqueItems": True}}, "'uniqueItems'"),  # valid, not enforceable: names it
    ({"grammar": 'root ::= <|python_tag|> "x"'}, "<|python_tag|>"),  # not in Llama 3.0's vocabulary
    ({"choice": []}, "at least one"),
])
def test_validate_params_rejects_bad_requests(llm, extra_args, message):
    with pytest.raises(VLLMValidationError, match=re.escape(message)):
        llm.generate(["x"], SamplingParams(max_tokens=5, extra_args=extra_args), use_tqdm=False)


def test_engine_still_serves_after_a_rejected_request(llm):
    with pytest.raises(VLLMValidationError):
        llm.generate(["x"], SamplingParams(extra_args={"regex": "(a"}), use_tqdm=False)
    out = llm.generate(["x"], SamplingParams(max_tokens=10, extra_args={"regex": "ok|fine"}), use_tqdm=False)
    assert out[0].outputs[0].text in {"ok", "fine"}
