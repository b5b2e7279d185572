# streamlake - the two commands of the quick start, and a few more.
#
#   make demo    install what is missing, build, run the demo (DEMO_ONCE=1: exit after)
#   make test    install what is missing, build (normal + ASan/UBSan), run every test
#   make bench   build and run the benchmarks (figures go to bench/RESULTS.md by hand)
#   make fuzz    build libFuzzer targets with clang (FUZZ_SECONDS=60 per target)
#   make sql-difftest  20,000 generated queries against PostgreSQL 15 (SL_DIFF_SEED=N)
#
# Everything below calls CMake; build/ is optimised, build-asan/ has the sanitizers.

JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps deps-test build build-asan demo test test-fast bench fuzz sql-difftest format clean

all: build

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSL_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

demo: build
	@scripts/demo.sh

test: deps-test build build-asan
	@scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

# The optimised build only: quicker while working.
test-fast: deps-test build
	@scripts/run-tests.sh $(BUILD)

bench: build
	@scripts/bench.sh

fuzz: deps-test
	@scripts/fuzz.sh

sql-difftest: deps-test build
	@SL_BUILD_DIR=$(CURDIR)/$(BUILD) SL_DIFF_COUNT=$${SL_DIFF_COUNT:-20000} \
	  /usr/bin/python3 tests/sql/difftest.py

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
