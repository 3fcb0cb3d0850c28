# The README's two commands: `make test` and `make demo`.
# Both install missing Debian packages first when run as root.

BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Tests mostly wait (on devcluster rollouts, agents, git): one more than the
# cores keeps the machine busy without starving the timing-bound ones.
TEST_JOBS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) + 1 )))
CMAKE_FLAGS ?=

.PHONY: all deps build test test-asan demo bench fuzz format format-check clean

all: build

deps:
	@sh tests/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKS_SANITIZE=address,undefined -DKS_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(TEST_JOBS)

demo: build
	@sh examples/demo.sh $(BUILD)/kusync

bench: build
	cmake --build $(BUILD) --target bench
	cmake --build $(BUILD) --target bench-cel
	cmake --build $(BUILD) --target bench-devcluster
	cmake --build $(BUILD) --target bench-sync
	cmake --build $(BUILD) --target bench-drift
	cmake --build $(BUILD) --target bench-pipeline
	cmake --build $(BUILD) --target bench-agent

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DKS_FUZZ=ON -DKS_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-fuzz -j $(JOBS)
	sh tests/fuzz/run.sh build-fuzz $${FUZZ_SECONDS:-600}

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
