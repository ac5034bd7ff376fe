# torch_fuser — the commands a new user (and CI) runs:
#   make         build in place (PYTHONPATH=$PWD python3 -c 'import torch_fuser' works)
#   make test    install missing Debian packages (as root), build, run C++ and Python tests,
#                the C++ package test (install + examples/cpp) and the wheel test
#   make demo    build and show a fused graph, its kernel, and eager vs fused timings
#   make bench   build and run the benchmark suite (JSON + PNG under benchmarks/results)
#   make workloads  build, install torchvision if missing, run benchmarks/workloads.py
#   make test-asan  build test_jit with AddressSanitizer + UBSan (build-asan/) and run it
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
PYTHON_FINDER := tools/find_python.sh

.PHONY: all build deps configure test test-cpp test-python test-package test-wheel test-asan demo bench workloads format clean

all: build

deps:
	@tools/install_deps.sh

configure: deps
	@py=$$($(PYTHON_FINDER)) && \
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DPython3_EXECUTABLE=$$py

build: configure
	cmake --build $(BUILD_DIR)

test: build test-cpp test-python test-package test-wheel

test-cpp:
	./$(BUILD_DIR)/bin/test_jit --gtest_filter='*Fusion*:*Codegen*:*Pass*'

test-python:
	@py=$$($(PYTHON_FINDER)) && PYTHONPATH=$(CURDIR) $$py -m pytest -q test/test_jit_fuser.py

test-package: build
	BUILD_DIR=$(BUILD_DIR) tools/test_package.sh

test-wheel: build
	BUILD_DIR=$(BUILD_DIR) tools/test_wheel.sh

# The sanitized build has its own tree and library directory, so it never replaces the
# in-place library. Leaks are not checked: libtorch keeps process-lifetime allocations.
ASAN_DIR ?= build-asan
ASAN_CASES ?= 300
test-asan: deps
	@py=$$($(PYTHON_FINDER)) && \
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython3_EXECUTABLE=$$py \
	  -DTORCH_FUSER_SANITIZE=address,undefined -DTORCH_FUSER_BUILD_PYTHON=OFF \
	  -DTORCH_FUSER_PACKAGE_DIR=$(CURDIR)/$(ASAN_DIR)/lib
	cmake --build $(ASAN_DIR)
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  FUSER_FUZZ_CASES=$(ASAN_CASES) ./$(ASAN_DIR)/bin/test_jit --gtest_filter='*Fusion*:*Codegen*:*Pass*'

demo: build
	@py=$$($(PYTHON_FINDER)) && PYTHONPATH=$(CURDIR) $$py benchmarks/demo.py

bench: build
	@py=$$($(PYTHON_FINDER)) && PYTHONPATH=$(CURDIR) $$py benchmarks/run.py

workloads: build
	@tools/install_deps.sh --bench
	@py=$$($(PYTHON_FINDER)) && PYTHONPATH=$(CURDIR) $$py benchmarks/workloads.py

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD_DIR) torch_fuser/*.so
