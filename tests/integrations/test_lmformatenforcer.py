"""lm-format-enforcer's own README example, with only its import lines changed."""

from __future__ import annotations

import json

import pytest
import torch

from enforcer.integrations.lmformatenforcer import (JsonSchemaParser, RegexParser,
                                                    build_token_enforcer_tokenizer_data,
                                                    build_transformers_prefix_allowed_tokens_fn)
from tests.conftest import SMOLLM2_GGUF


def test_regex_parser_with_tokenizer_data(tiny_llama3_model, llama3_tokenizer):
    data = build_token_enforcer_tokenizer_data(llama3_tokenizer, model=tiny_llama3_model)
    assert data.vocab.size == 128_264
    fn = build_transformers_prefix_allowed_tokens_fn(data, RegexParser(r"(yes|no)"))
    prompt = llama3_tokenizer("Answer:", return_tensors="pt")
    for _ in range(2):  # one function, two generate calls
        out = tiny_llama3_model.generate(**prompt, prefix_allowed_tokens_fn=fn, max_new_tokens=5, do_sample=True,
                                         pad_token_id=128004)
        tokens = out[0, prompt["input_ids"].shape[1]:].tolist()
        end = next(i for i, t in enumerate(tokens) if t in (128001, 128008, 128009))
        assert llama3_tokenizer.decode(tokens[:end]) in ("yes", "no")


@pytest.mark.slow
def test_lm_format_enforcer_readme_example(smollm2_dir):
    pydantic = pytest.importorskip("pydantic")
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    # -- lm-format-enforcer's README, model swapped for the embedded one, imports changed --------
    # (one more change: extra keys are forbidden. The README's 7B model stops after the four
    # fields; a 135M model keeps inventing keys, which a schema allowing them cannot stop.)
    class AnswerFormat(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        first_name: str
        last_name: str
        year_of_birth: int
        num_seasons_in_nba: int

    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_dir), gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(str(smollm2_dir), gguf_file=SMOLLM2_GGUF)
    hf_pipeline = pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu")
    prompt = f"Here is information about Michael Jordan in the following json schema: {json.dumps(AnswerFormat.model_json_schema())} :\n"

    parser = JsonSchemaParser(AnswerFormat.model_json_schema())
    prefix_function = build_transformers_prefix_allowed_tokens_fn(hf_pipeline.tokenizer, parser)
    torch.manual_seed(0)
    output_dict = hf_pipeline(prompt, prefix_allowed_tokens_fn=prefix_function, max_new_tokens=100, do_sample=False)
    result = output_dict[0]["generated_text"][len(prompt):]
    # ------------------------------------------------------------------------------------------
    AnswerFormat.model_validate_json(result)
