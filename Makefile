# Tipline top-level targets.  Everything runs on a fresh Debian 12 machine
# as root: `make run` starts a local node, `make test` runs the whole suite
# in a normal and an ASan+UBSan build.  CMake does the real work; these
# targets only fix the build directories and options.
SHELL := /bin/bash
JOBS ?= 2
FUZZ_SECONDS ?= 30
# Build directories (override to keep several checkouts' builds apart).
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz

.PHONY: all deps build build-asan test run fuzz bench clean clean-var help

all: build

help:
	@echo "make deps        install missing Debian packages (scripts/deps.sh)"
	@echo "make build       build/ with -Werror"
	@echo "make build-asan  build-asan/ with AddressSanitizer + UBSan"
	@echo "make test        both builds, then ctest in each; prints 'N passed, M failed'"
	@echo "make run         build and run a local node (scripts/run.sh; state in var/)"
	@echo "make fuzz        clang libFuzzer build in build-fuzz/, each target $(FUZZ_SECONDS) s"
	@echo "make bench       build and run the benchmarks (bench/*/)"
	@echo "make clean       remove the build directories (var/ is kept: it holds keys)"
	@echo "make clean-var   remove var/ (keys, vault DB, JetStream store) - destroys local data"

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DWERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DSANITIZE='address;undefined' -DWERROR=ON
	cmake --build $(BUILD_ASAN) -j$(JOBS)

test: deps build build-asan
	@scripts/test.sh $(BUILD) $(BUILD_ASAN)

run: deps build
	TL_BUILD_DIR=$(BUILD) scripts/run.sh

fuzz: deps
	cmake -S . -B $(BUILD_FUZZ) -DFUZZ=ON -DCMAKE_C_COMPILER=clang -DSANITIZE='address;undefined'
	cmake --build $(BUILD_FUZZ) -j$(JOBS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(BUILD_FUZZ)

bench: deps build
	@scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)

clean-var:
	rm -rf var
