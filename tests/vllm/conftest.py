"""vLLM fixtures: a tiny Llama 3 checkpoint on disk and in-process CPU engines.

Runs only in ``.venv-vllm`` (``make test-vllm``); the main suite does not collect this folder.
The environment is set before vLLM is imported: a 1 GiB CPU KV cache, no hub, and the engine in
this process (faster to start, and what we patch or count here is what the engine runs).
"""

from __future__ import annotations

import os

os.environ["VLLM_CPU_KVCACHE_SPACE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
os.environ.pop("ENFORCER_VLLM_BACKEND", None)  # the backend tests install it themselves

import pytest  # noqa: E402

pytest.importorskip("vllm")

from tests.tiny_llama3 import save_tiny_llama3  # noqa: E402

MAX_MODEL_LEN = 512


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    return str(save_tiny_llama3(tmp_path_factory.mktemp("tiny-llama3")))


@pytest.fixture(scope="session")
def vllm_config(tiny_model_dir):
    """A real VllmConfig for the tiny model, without an engine (unit tests of the processor)."""
    from vllm.engine.arg_utils import EngineArgs

    return EngineArgs(model=tiny_model_dir, max_model_len=MAX_MODEL_LEN).create_engine_config()


def make_llm(model_dir: str, **kwargs):
    from vllm import LLM

    return LLM(model=model_dir, max_model_len=MAX_MODEL_LEN, seed=0, **kwargs)
