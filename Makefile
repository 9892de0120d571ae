# Tidemark: `make serve` and `make test` install what is missing (Debian
# packages, as root), configure, build, and then serve or test.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
DATA_DIR   ?= ./tidemark-data
HOST       ?= 127.0.0.1
PORT       ?= 19530

# Debian 12 packages the build and the tests need (the aarch64 cross compiler
# and qemu-user run the NEON distance kernels: ctest unit.index.kernels_neon).
DEB_PACKAGES := build-essential cmake pkg-config libnng-dev libmsgpack-dev libraft-dev \
                libuv1-dev libzstd-dev libcmocka-dev libjansson-dev python3 curl ca-certificates \
                gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libsimde-dev

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all deps node-deps build build-asan serve test unit-test acceptance-deps clean format

all: build

# Installs only what is missing, so a prepared machine pays nothing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

# Node.js runs the acceptance test with the Milvus Node.js SDK.
node-deps:
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q nodejs npm; }

acceptance-deps: node-deps
	@cd tests/acceptance && { [ -d node_modules/@zilliz ] || npm ci --no-audit --no-fund --loglevel=error; }

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTM_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

serve: build
	./$(BUILD)/tidemark serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

# The whole suite, on the optimised build and again under ASan+UBSan.
test: build build-asan acceptance-deps
	cd $(BUILD) && ctest --output-on-failure --timeout 600
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure --timeout 900

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -L unit

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
