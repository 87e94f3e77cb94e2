# AutoCache: `make run` starts a standalone node on 127.0.0.1:6379; `make test` runs every
# check CI runs. Both install what they need first (Debian packages, Python tools).

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/autocache-target
CARGO ?= cargo
APT_BUILD := clang libclang-dev protobuf-compiler
APT_TEST := redis-tools redis-server

.PHONY: all build release run test deps test-deps fmt clippy bench-node clean

all: build

# Debian packages the build needs, installed only when missing.
deps:
	@missing=""; for p in $(APT_BUILD); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

test-deps: deps
	@missing=""; for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# Debian's redis-server starts a system instance on 6379; tests never need it.
	@-systemctl stop redis-server >/dev/null 2>&1 || true
	@# Offline Kubernetes schema validation of deploy/ (control/tests/operator_manifests.rs).
	@kubernetes-validate --version >/dev/null 2>&1 || pip install --quiet kubernetes-validate
	@# A local S3-compatible server for the cold-tier tests (node/tests/it/cold.rs).
	@command -v moto_server >/dev/null 2>&1 || pip install --quiet 'moto[server]'

build: deps
	$(CARGO) build --workspace

release: deps
	$(CARGO) build --release -p autocache-node

run: release
	mkdir -p data
	$(CARGO_TARGET_DIR)/release/autocache-node --bind 127.0.0.1 --port 6379 --data-dir ./data --storage tiered

fmt:
	$(CARGO) fmt --all -- --check

clippy: deps
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: test-deps fmt clippy
	@if command -v cargo-nextest >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

# The whole benchmark suite of BENCHMARKS.md: node vs redis-server with redis-benchmark and
# autocache-loadtest, bytes per key, the chart, proxy vs direct, tiered vs memory (and an S3
# cold tier on moto_server), slot migration; rewrites BENCHMARKS.md's results section and
# bench/throughput.svg. BENCH_QUICK=1 make bench: a short smoke run, written to a scratch dir.
.PHONY: bench
bench: deps test-deps
	$(CARGO) build --release -p autocache-node -p autocache-proxy -p autocache-control -p autocache-loadtest
	python3 scripts/bench.py --write

# Node vs redis-server with redis-benchmark only, and bytes per key; prints, writes nothing.
bench-node: release test-deps
	python3 scripts/bench.py --sections redis-benchmark,memory

clean:
	$(CARGO) clean
