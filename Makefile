# A thin layer over CMake. `make run` and `make test` do all the set-up on a
# fresh Debian 12 machine (they call `make deps`, which installs packages).
BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
# How long each fuzzer runs: briefly under `make test`, longer under `make fuzz`.
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SECONDS       ?= 300
RUN_ARGS   ?=

CMAKE_FLAGS ?=

.PHONY: all deps build run test unit bench fuzz fuzz-build fuzz-smoke asan clean

all: build

deps:
	@./scripts/deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/src/server/eventide serve --config eventide.yaml $(RUN_ARGS)

test: build fuzz-build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600
	$(MAKE) --no-print-directory fuzz-smoke

# Unit tests only: seconds.
unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

bench: build
	$(BUILD)/tests/bench/wal_bench --benchmark_counters_tabular=true
	$(BUILD)/tests/bench/stream_bench
	$(BUILD)/tests/bench/input_bench

$(FUZZ_BUILD)/build.ninja:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVENTIDE_FUZZ=ON

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# Each fuzzer runs FUZZ_SMOKE_SECONDS over a copy of its seed corpus.
fuzz-smoke: fuzz-build
	./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS)

fuzz: fuzz-build
	./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The unit and integration tests under AddressSanitizer and UBSan.
asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEVENTIDE_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) --timeout 900

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) build-asan

# The realtime-demo page (apps/realtime-demo/ui, React and Vite from npm),
# built into its web/ folder, which `make run` serves and `make test` tests.
# npm ci runs when node_modules is missing or older than the lock file; the
# build when a source is newer than the page.
.PHONY: ui
UI     := apps/realtime-demo/ui
UI_SRC := $(UI)/index.html $(UI)/vite.config.js $(UI)/package.json $(shell find $(UI)/src -type f)

ui: apps/realtime-demo/web/index.html
run test: ui

$(UI)/node_modules/.package-lock.json: $(UI)/package-lock.json | deps
	cd $(UI) && npm ci --no-audit --no-fund --loglevel=error

apps/realtime-demo/web/index.html: $(UI)/node_modules/.package-lock.json $(UI_SRC)
	cd $(UI) && npm run build --silent -- --logLevel warn
