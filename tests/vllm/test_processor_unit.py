"""EnforcerLogitsProcessor driven by hand with vLLM's own batch classes: V1's BatchUpdate
(adds, removals, one-way moves and swaps, live output lists) and Model Runner V2's
LogitsProcRequestState / LogitsContext, which no CPU engine can run (V2 needs Triton on a GPU).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("vllm")

from vllm import SamplingParams  # noqa: E402
from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality  # noqa: E402
from vllm.v1.sample.logits_processor import LogitsProcessor as V1LogitsProcessor  # noqa: E402
from vllm.v1.worker.gpu.sample.logits_processor import (LogitsContext,  # noqa: E402
                                                        LogitsProcessor as V2LogitsProcessor,
                                                        LogitsProcRequestState,
                                                        build_custom_logits_processors)

from enforcer.integrations.vllm import EnforcerLogitsProcessor  # noqa: E402
from enforcer.integrations.vllm.vocabulary import vocabulary_for  # noqa: E402
from tests.tiny_llama3 import HEAD_ROWS, LLAMA3_EOS  # noqa: E402

FQCN = "enforcer.integrations.vllm:EnforcerLogitsProcessor"


def _params(**extra):
    return SamplingParams(max_tokens=10, extra_args=extra or None)


def _allowed(logits_row: torch.Tensor) -> set[int]:
    return set(torch.isfinite(logits_row).nonzero().flatten().tolist())


@pytest.fixture(scope="module")
def token(llama3_tokenizer):
    return lambda text: llama3_tokenizer.convert_tokens_to_ids(text)


def test_vocabulary_is_the_logits_width_with_every_eos(vllm_config):
    vocab = vocabulary_for(vllm_config.model_config)
    assert vocab.size == HEAD_ROWS == vllm_config.model_config.get_vocab_size()
    assert vocab.eos_token_ids == frozenset(LLAMA3_EOS)
    assert vocabulary_for(vllm_config.model_config) is vocab  # built once


# -- V1: the persistent batch ------------------------------------------------------------------

def test_v1_rows_follow_their_requests_through_adds_moves_swaps_and_removals(vllm_config, token):
    proc = EnforcerLogitsProcessor(vllm_config, torch.device("cpu"), False)
    assert isinstance(proc, V1LogitsProcessor) and not proc.is_argmax_invariant()
    out_a, out_b, out_c = [], [], []
    proc.update_state(BatchUpdate(batch_size=3, removed=[], moved=[], added=[
        (0, _params(regex="ab|cd"), [1], out_a),
        (1, _params(), [1], out_b),                   # free
        (2, _params(regex="xy|zw"), [1], out_c)]))
    logits = torch.zeros(3, HEAD_ROWS)
    proc.apply(logits)
    assert _allowed(logits[0]) >= {token("a"), token("c")} and token("x") not in _allowed(logits[0])
    assert _allowed(logits[1]) == set(range(HEAD_ROWS))  # the free row is untouched
    assert token("z") in _allowed(logits[2]) and token("a") not in _allowed(logits[2])
    assert not _allowed(logits[0]) & set(range(128_256, HEAD_ROWS))  # padded head never allowed

    out_a.append(token("a"))  # the engine appends the sampled tokens to the live lists
    out_c.append(token("z"))
    proc.update_state(BatchUpdate(batch_size=3, removed=[], added=[], moved=[(0, 2, MoveDirectionality.SWAP)]))
    logits = torch.zeros(3, HEAD_ROWS)
    proc.apply(logits)
    assert _allowed(logits[2]) == {token("b")}  # request A now lives in row 2
    assert _allowed(logits[0]) == {token("w")}  # request C in row 0

    out_a.append(token("b"))
    proc.update_state(BatchUpdate(batch_size=2, removed=[1], added=[], moved=[(2, 1, MoveDirectionality.UNIDIRECTIONAL)]))
    logits = torch.zeros(2, HEAD_ROWS)
    proc.apply(logits)
    assert _allowed(logits[1]) == set(LLAMA3_EOS)  # "ab" is complete: only EOS
    assert token("w") in _allowed(logits[0])

    out_d: list[int] = []  # a free request takes over row 0: its old matcher must go
    proc.update_state(BatchUpdate(batch_size=2, removed=[], moved=[], added=[(0, _params(), [1], out_d)]))
    assert proc.num_constrained == 1
    logits = torch.zeros(2, HEAD_ROWS)
    proc.apply(logits)
    assert _allowed(logits[0]) == set(range(HEAD_ROWS))


def test_v1_preempted_request_is_replayed_and_identical_constraints_share_a_grammar(vllm_config, token):
    proc = EnforcerLogitsProcessor(vllm_config, torch.device("cpu"), False)
    compiled = proc._impl.masker.service.grammars.compiled  # one service per vocabulary, shared
    already = [token("ab")] if token("ab") is not None else [token("a"), token("b")]
    proc.update_state(BatchUpdate(batch_size=2, removed=[], moved=[], added=[
        (0, _params(regex="abc|abd"), [1], list(already)), (1, _params(regex="abc|abd"), [1], [])]))
    logits = torch.zeros(2, HEAD_ROWS)
    proc.apply(logits)
    assert _allowed(logits[0]) == {token("c"), token("d")}
    assert proc._impl.masker.service.grammars.compiled == compiled + 1


def test_v1_a_constraint_that_fails_in_the_engine_fails_closed(vllm_config, monkeypatch, caplog):
    from enforcer.service import Constraint

    compile_ = Constraint.compile

    def broken(self, compiler):
        if self.text == "boom":
            raise RuntimeError("does not fit this vocabulary")
        return compile_(self, compiler)

    monkeypatch.setattr(Constraint, "compile", broken)
    proc = EnforcerLogitsProcessor(vllm_config, torch.device("cpu"), False)
    proc.update_state(BatchUpdate(batch_size=1, removed=[], moved=[], added=[(0, _params(regex="boom"), [1], [])]))
    logits = torch.zeros(1, HEAD_ROWS)
    proc.apply(logits)  # no exception: the engine keeps serving the other requests
    assert _allowed(logits[0]) == set(LLAMA3_EOS)
    assert "does not compile for this model" in caplog.text


def test_v1_a_rejected_token_fails_closed_and_the_batch_carries_on(vllm_config, token, caplog):
    """A token the mask forbade (something after the processor changed it) used to leave the
    request unconstrained (fail open): it now may only end, logged once; other rows are as before."""
    proc = EnforcerLogitsProcessor(vllm_config, torch.device("cpu"), False)
    out_a, out_b, out_c = [], [], []
    proc.update_state(BatchUpdate(batch_size=3, removed=[], moved=[], added=[
        (0, _params(regex="[0-9]+"), [1], out_a), (1, _params(regex="ab|cd"), [1], out_b), (2, _params(), [1], out_c)]))
    proc.apply(torch.zeros(3, HEAD_ROWS))
    out_a.append(token("x"))  # forbidden: the regex wants digits
    out_b.append(token("a"))
    out_c.append(token("x"))
    with caplog.at_level("ERROR", logger="enforcer"):
        for _ in range(2):
            logits = torch.zeros(3, HEAD_ROWS)
            proc.apply(logits)
            assert _allowed(logits[0]) == set(LLAMA3_EOS)
            assert _allowed(logits[1]) == {token("b")}
            assert _allowed(logits[2]) == set(range(HEAD_ROWS))
    assert proc.num_constrained == 2
    assert caplog.text.count("fails closed") == 1 and "batch row 0" in caplog.text


def test_v1_an_error_while_masking_fails_that_request_closed(vllm_config, token, monkeypatch, caplog):
    """A mask that cannot be computed (a SchemaError raised lazily, as a budget or an
    undecidable intersection can) used to propagate out of apply and stop the engine."""
    from enforcer import Matcher, SchemaError

    fill = Matcher.fill_next_token_bitmask

    def exploding(self, bitmask, row=0):
        if self.grammar.source == "regex 'x+y'":
            raise SchemaError("constraint too complex: cannot decide whether an intersection is empty")
        return fill(self, bitmask, row)

    monkeypatch.setattr(Matcher, "fill_next_token_bitmask", exploding)
    proc = EnforcerLogitsProcessor(vllm_config, torch.device("cpu"), False)
    proc.update_state(BatchUpdate(batch_size=2, removed=[], moved=[], added=[
        (0, _params(regex="ab|cd"), [1], []), (1, _params(regex="x+y"), [1], [])]))
    logits = torch.zeros(2, HEAD_ROWS)
    with caplog.at_level("ERROR", logger="enforcer"):
        proc.apply(logits)
    assert token("a") in _allowed(logits[0]) and token("x") not in _allowed(logits[0])
    assert _allowed(logits[1]) == set(LLAMA3_EOS)
    assert "too complex" in caplog.text and "fails closed" in caplog.text


def test_v1_async_placeholder_is_a_clear_error(vllm_config):
    proc = EnforcerLogitsProcessor(vllm_config, torch.device("cpu"), False)
    proc.update_state(BatchUpdate(batch_size=1, removed=[], moved=[], added=[(0, _params(regex="a+"), [1], [-1])]))
    with pytest.raises(RuntimeError, match="--logits-processors"):
        proc.apply(torch.zeros(1, HEAD_ROWS))


# -- V2: request slots, tokens on the device -----------------------------------------------------

class _Buffers:
    """Stand-ins for the model runner's per-slot buffers (StagedWriteTensor / UvaBackedTensor):
    the processor reads only ``.gpu`` of the token table and ``.np`` of the prompt lengths."""

    def __init__(self, slots: int, max_len: int):
        self.all_token_ids = SimpleNamespace(gpu=torch.zeros(slots, max_len, dtype=torch.int32))
        self.prompt_len = SimpleNamespace(np=np.zeros(slots, dtype=np.int32))
        self.prefill_len = SimpleNamespace(np=np.zeros(slots, dtype=np.int32))
        self.total_len = SimpleNamespace(gpu=torch.zeros(slots, dtype=torch.int32))

    def state(self) -> LogitsProcRequestState:
        return LogitsProcRequestState(device=torch.device("cpu"), max_num_reqs=self.prompt_len.np.shape[0],
                                      vocab_size=HEAD_ROWS, all_token_ids=self.all_token_ids,
                                      prompt_len=self.prompt_len, prefill_len=self.prefill_len,
                                      total_len=self.total_len)


def _ctx(slots: list[int], seq_lens: list[int]) -> LogitsContext:
    n = len(slots)
    return LogitsContext(expanded_idx_mapping=torch.tensor(slots), idx_mapping=torch.tensor(slots),
                         idx_mapping_np=np.array(slots, dtype=np.int32), expanded_local_pos=torch.zeros(n),
                         input_ids=torch.zeros(n, dtype=torch.int32), pos=torch.tensor(seq_lens) - 1,
                         seq_lens_upper_bound_np=np.array(seq_lens, dtype=np.int32))


def test_v2_loader_accepts_the_class_by_name_and_by_entry_point(vllm_config):
    buffers = _Buffers(4, 32)
    req_states = SimpleNamespace(device=torch.device("cpu"), max_num_reqs=4, vocab_size=HEAD_ROWS,
                                 **{k: getattr(buffers, k) for k in ("all_token_ids", "prompt_len",
                                                                     "prefill_len", "total_len")})
    processors = build_custom_logits_processors(vllm_config, req_states, False, [FQCN])
    assert len(processors) == 2 and all(isinstance(p, V2LogitsProcessor) for p in processors)
    assert [p.is_idle for p in processors] == [False, True]  # entry point first, the named one defers


def test_v2_slots_follow_committed_tokens_in_any_row_order(vllm_config, token):
    buffers = _Buffers(4, 32)
    proc = EnforcerLogitsProcessor(vllm_config, buffers.state())
    assert proc.add_request(3, _params(regex="ab|cd")) is True
    assert proc.add_request(1, _params()) is False  # free: vLLM may skip the processor for it
    buffers.prompt_len.np[3] = 5
    buffers.prompt_len.np[1] = 2

    logits = torch.zeros(2, HEAD_ROWS)
    proc.apply(logits, _ctx(slots=[1, 3], seq_lens=[2, 5]))  # decoding the first output token
    assert _allowed(logits[0]) == set(range(HEAD_ROWS))
    assert token("a") in _allowed(logits[1]) and token("x") not in _allowed(logits[1])

    buffers.all_token_ids.gpu[3, 5] = token("c")  # the sampler committed "c" for slot 3
    logits = torch.zeros(2, HEAD_ROWS)
    proc.apply(logits, _ctx(slots=[3, 1], seq_lens=[6, 3]))  # rows reordered this step
    assert _allowed(logits[0]) == {token("d")}
    assert _allowed(logits[1]) == set(range(HEAD_ROWS))

    assert proc.add_request(3, _params(regex="xy")) is True  # slot recycled: fresh matcher
    buffers.prompt_len.np[3] = 4
    logits = torch.zeros(1, HEAD_ROWS)
    proc.apply(logits, _ctx(slots=[3], seq_lens=[4]))
    assert token("x") in _allowed(logits[0]) and token("c") not in _allowed(logits[0])


def test_v2_under_speculative_decoding_a_constrained_request_fails_closed(vllm_config, caplog):
    """validate_params refuses these where it sees the engine's config; should one still
    arrive, it fails closed instead of raising into the engine."""
    spec_config = SimpleNamespace(**{k: getattr(vllm_config, k) for k in ("model_config", "scheduler_config")},
                                  speculative_config=object())
    buffers = _Buffers(2, 8)
    proc = EnforcerLogitsProcessor(spec_config, buffers.state())
    assert proc.add_request(0, _params()) is False
    with caplog.at_level("ERROR", logger="enforcer"):
        assert proc.add_request(1, _params(regex="a")) is True
    logits = torch.zeros(1, HEAD_ROWS)
    proc.apply(logits, _ctx(slots=[1], seq_lens=[0]))
    assert _allowed(logits[0]) == set(LLAMA3_EOS)
    assert "speculative decoding" in caplog.text


# -- validation against the model's vocabulary -----------------------------------------------------

HEADER_GRAMMAR = 'root ::= <|start_header_id|> "user" <|end_header_id|>'


def test_validate_params_sees_the_models_special_tokens(vllm_config):
    """vLLM's frontend validates requests without handing over the model: the processor finds
    the InputProcessor that calls it and validates against the real vocabulary."""
    from vllm.exceptions import VLLMValidationError
    from vllm.v1.engine.input_processor import InputProcessor

    frontend = InputProcessor(vllm_config)
    frontend._validate_params(_params(grammar=HEADER_GRAMMAR), ("generate",))
    frontend._validate_params(_params(choice=["a", "b"]), ("generate",))
    with pytest.raises(VLLMValidationError, match=re.escape("<|nope|>")):  # only the real vocabulary can say so
        frontend._validate_params(_params(grammar='root ::= <|nope|> "x"'), ("generate",))
    with pytest.raises(VLLMValidationError, match="json_schema does not compile"):
        frontend._validate_params(_params(json_schema={"type": "nope"}), ("generate",))


def test_validate_params_refuses_constraints_under_speculative_decoding(vllm_config, monkeypatch):
    from vllm.exceptions import VLLMValidationError
    from vllm.v1.engine.input_processor import InputProcessor

    frontend = InputProcessor(vllm_config)
    monkeypatch.setattr(frontend.vllm_config, "speculative_config", object())
    with pytest.raises(VLLMValidationError, match="speculative decoding"):
        frontend._validate_params(_params(regex="a+"), ("generate",))
    frontend._validate_params(_params(), ("generate",))  # free requests are fine


# -- the OpenAI server ----------------------------------------------------------------------------

def test_openai_vllm_xargs_become_the_constraint():
    import json

    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

    from enforcer.integrations.vllm import parse_constraint

    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    # vllm_xargs values are strings, numbers or lists of them: the schema travels as JSON text.
    request = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                                    vllm_xargs={"json_schema": json.dumps(schema), "whitespace": "flexible"})
    params = request.to_sampling_params(max_tokens=10, default_sampling_params={})
    assert parse_constraint(params.extra_args) == parse_constraint({"json_schema": schema, "whitespace": "flexible"})
    EnforcerLogitsProcessor.validate_params(params)
    bad = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                                vllm_xargs={"json_schema": '{"type": 3}'})
    with pytest.raises(ValueError, match="json_schema does not compile"):
        EnforcerLogitsProcessor.validate_params(bad.to_sampling_params(max_tokens=10, default_sampling_params={}))
