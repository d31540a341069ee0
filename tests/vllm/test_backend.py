"""The opt-in structured-output backend in real CPU engines: vLLM's own request API
(``StructuredOutputsParams``) served by enforcer, with and without speculative decoding.

vLLM silently keeps its built-in backend when a patch does not take, so every engine test also
checks that the manager's backend is ours and that our counters moved.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

pytest.importorskip("vllm")

import vllm  # noqa: E402
from vllm import SamplingParams  # noqa: E402
from vllm.sampling_params import StructuredOutputsParams  # noqa: E402

from enforcer import Vocabulary, compile_json_schema, compile_regex  # noqa: E402
from enforcer.integrations.vllm import backend, plugin  # noqa: E402
from enforcer.integrations.vllm.backend import STATS, EnforcerBackend, EnforcerGrammar  # noqa: E402
from enforcer.integrations.vllm.vocabulary import vocabulary_for  # noqa: E402
from tests.tiny_llama3 import LLAMA3_EOS  # noqa: E402

from .conftest import make_llm  # noqa: E402

ITEM = {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 999},
                                         "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]},
                                                  "maxItems": 3}},
        "required": ["id", "tags"], "additionalProperties": False}


@pytest.fixture(scope="module")
def installed():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(plugin.ENV_VAR, "1")
        plugin.register()
        yield
    backend.uninstall()


def _served_by_enforcer(llm) -> bool:
    manager = llm.llm_engine.engine_core.engine_core.scheduler.structured_output_manager
    return isinstance(manager.backend, EnforcerBackend)


@pytest.fixture(scope="module")
def llm(installed, tiny_model_dir):
    return make_llm(tiny_model_dir, max_num_seqs=8)


# -- without an engine ---------------------------------------------------------------------------

def test_plugin_does_nothing_unless_asked(monkeypatch):
    from vllm.v1.structured_output import StructuredOutputManager

    before = StructuredOutputManager.grammar_init
    monkeypatch.delenv(plugin.ENV_VAR, raising=False)
    plugin.register()
    assert StructuredOutputManager.grammar_init is before


def test_plugin_refuses_untested_vllm_versions(monkeypatch):
    from vllm.v1.structured_output import StructuredOutputManager

    before = StructuredOutputManager.grammar_init
    monkeypatch.setenv(plugin.ENV_VAR, "1")
    monkeypatch.setattr(vllm, "__version__", "0.99.0")
    with pytest.warns(RuntimeWarning, match="0.99.0 is not one the enforcer backend was tested with"):
        plugin.register()
    assert StructuredOutputManager.grammar_init is before


def test_entry_points_are_visible_to_vllm():
    from vllm.plugins import load_plugins_by_group

    assert load_plugins_by_group("vllm.general_plugins")["enforcer_backend"] is plugin.register
    assert "enforcer" in load_plugins_by_group("vllm.logits_processors")


def test_grammar_validates_drafts_without_moving_and_rolls_back(llama3_tokenizer):
    vocab = Vocabulary.from_pretrained(llama3_tokenizer, eos_token_ids=LLAMA3_EOS)
    tok = llama3_tokenizer.convert_tokens_to_ids
    grammar = EnforcerGrammar(compile_regex("abc", vocab).matcher())
    assert grammar.validate_tokens([tok("a"), tok("b"), tok("x"), tok("c")]) == [tok("a"), tok("b")]
    assert grammar.num_processed_tokens == 0
    assert grammar.accept_tokens("r", [tok("a"), tok("b"), tok("c"), 128009]) and grammar.is_terminated()
    assert grammar.accept_tokens("r", [tok("a")])  # after EOS: ignored, as vLLM pads spec steps
    grammar.rollback(2)  # EOS and "c"
    assert not grammar.is_terminated() and grammar.num_processed_tokens == 2
    assert grammar.accept_tokens("r", [tok("x")]) is False


# -- in an engine --------------------------------------------------------------------------------

def test_json_schema_requests_are_served_by_enforcer(llm):
    compiled = STATS["compiled"]
    params = [SamplingParams(max_tokens=150, temperature=1.0, seed=i,
                             structured_outputs=StructuredOutputsParams(json=ITEM)) for i in range(6)]
    outputs = llm.generate([f"Item {i}:" for i in range(6)], params, use_tqdm=False)
    assert _served_by_enforcer(llm)
    assert STATS["compiled"] == compiled + 6
    for output in outputs:
        assert output.outputs[0].finish_reason == "stop" and output.outputs[0].token_ids[-1] in LLAMA3_EOS
        jsonschema.validate(json.loads(output.outputs[0].text), ITEM)


def test_regex_json_object_and_free_requests_together(llm):
    params = [SamplingParams(max_tokens=30, temperature=1.0, seed=1,
                             structured_outputs=StructuredOutputsParams(regex=r"[A-Z][a-z]{2,5}!")),
              SamplingParams(max_tokens=150, temperature=1.0, seed=2,
                             structured_outputs=StructuredOutputsParams(json_object=True)),
              SamplingParams(max_tokens=12, temperature=1.0, seed=3, ignore_eos=True)]
    regex_out, object_out, free_out = llm.generate(["a", "b", "c"], params, use_tqdm=False)
    assert re.fullmatch(r"[A-Z][a-z]{2,5}!", regex_out.outputs[0].text)
    # A random model rarely closes a free-form key before max_tokens: check every token it wrote
    # was allowed (and that it parses if it stopped).
    vocab = vocabulary_for(llm.llm_engine.vllm_config.model_config)
    matcher = compile_json_schema({"type": "object"}, vocab).matcher()
    for token in object_out.outputs[0].token_ids:
        matcher.advance(token)  # raises TokenRejectedError otherwise
    assert object_out.outputs[0].text.startswith("{")
    if object_out.outputs[0].finish_reason == "stop":
        assert isinstance(json.loads(object_out.outputs[0].text), dict)
    assert len(free_out.outputs[0].token_ids) == 12
    assert _served_by_enforcer(llm)


def test_choice_and_grammar_requests(llm):
    compiled = STATS["compiled"]
    choices = ["yes", "no (maybe)", 'say "hi"']
    params = [SamplingParams(max_tokens=20, temperature=1.0, seed=i,
                             structured_outputs=StructuredOutputsParams(choice=choices)) for i in range(3)]
    params.append(SamplingParams(max_tokens=30, temperature=1.0, seed=9, structured_outputs=StructuredOutputsParams(
        grammar='root ::= "v" [0-9] "." [0-9]{1,2}')))
    outputs = llm.generate(["a", "b", "c", "d"], params, use_tqdm=False)
    assert STATS["compiled"] == compiled + 4  # vLLM hands choice over as a grammar: still ours
    for output in outputs[:3]:
        assert output.outputs[0].text in choices and output.outputs[0].finish_reason == "stop"
    assert re.fullmatch(r"v[0-9]\.[0-9]{1,2}", outputs[3].outputs[0].text)


def test_speculative_decoding_checks_drafts_with_enforcer(tiny_model_dir):
    # n-gram drafts from the prompt: the grammar validates each draft before it is scored. In a
    # process of its own: see tests/vllm/speculative_run.py for the vLLM bug that makes it so.
    root = Path(__file__).parents[2]
    run = subprocess.run([sys.executable, "-m", "tests.vllm.speculative_run", tiny_model_dir], cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["served_by_enforcer"]
    assert result["stats"]["compiled"] == 3 and result["stats"]["validated"] > 0
    for text, finish_reason in result["outputs"]:
        assert finish_reason == "stop"
        jsonschema.validate(json.loads(text), result["schema"])
