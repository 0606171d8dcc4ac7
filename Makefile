# The two commands of the README: `make run` and `make test`.
# Both install what is missing (packaging/install-deps.sh), configure and build.

BUILD      ?= build
SAN_BUILD  ?= build-sanitize
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
GENERATOR  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CTEST_ARGS ?= --output-on-failure -j$(JOBS) --timeout 300

.PHONY: all deps configure build run test test-sanitize reliability bench package clean format format-check

all: build

deps:
	@./packaging/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# Builds, then runs botwatch on the bundled demo in the foreground (Ctrl-C stops).
# Installs and builds only what the demo runs (the botwatch binary, node and
# PostgreSQL): the test suite and its peers come with `make test`.
run:
	@./packaging/install-deps.sh --demo
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS) --target botwatch
	@./scripts/run-demo.sh $(BUILD)

# The whole suite: unit and integration tests against real peers on 127.0.0.1.
test: build format-check
	cd $(BUILD) && ctest $(CTEST_ARGS)

# The house style (.clang-format): `make format` applies it, `make test` checks it.
format: deps
	./scripts/format.sh

format-check: deps
	./scripts/format.sh --check

# The Debian package: $(BUILD)/botwatch_<version>_<arch>.deb
package: build
	cd $(BUILD) && cpack -G DEB

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize: deps
	cmake -S . -B $(SAN_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DBOTWATCH_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build $(SAN_BUILD) -j$(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest $(CTEST_ARGS)

# The long reliability tier (docs/RELIABILITY.md): fuzzing for FUZZ_SECONDS per
# target, rotation chaos with SIGKILLs, load and soak for SOAK_MINUTES; the
# figures go to build-fuzz/reliability-report.md.
reliability: deps
	BUILD=$(BUILD) ./scripts/reliability.sh

# Benchmarks against the tools botwatch replaces (not tests; they print ratios).
bench: build
	./bench/scrape-vs-exporters.sh $(BUILD)
	./bench/feed-latency $(BUILD)

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
