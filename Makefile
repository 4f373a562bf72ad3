# tokend — run `make help` for the targets.
#
# Every tool is pinned in the repository: protoc-gen-go and protoc-gen-go-grpc
# as go.mod tools, buf from npm in tools/package-lock.json, grpcurl (and ghz)
# in tools/go.mod, the TypeScript client's tools in clients/ts/package-lock.json,
# the Python client's in clients/python/requirements.txt (installed into
# clients/python/.venv). A fresh clone needs Go, Node and Python 3 only.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BUF      := tools/node_modules/.bin/buf
BIN      := bin/tokend
ADV_BIN  := bin/adversarial-server
GO_TEST_FLAGS ?= -race -count=1
BASELINE := api-baseline.binpb
GRPCURL  := bin/grpcurl
TS_DIR   := clients/ts
TS_DEPS  := $(TS_DIR)/node_modules/.package-lock.json
PY_DIR   := clients/python
PY_VENV  := $(PY_DIR)/.venv
PY_DEPS  := $(PY_VENV)/.installed
PYTHON   ?= python3
GENERATED := gen $(TS_DIR)/src/gen $(PY_DIR)/tokend_client/v1

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(BUF): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: tools
tools: $(BUF) ## Install the pinned build tools (buf).

$(TS_DEPS): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(PY_DEPS): $(PY_DIR)/requirements.txt
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --disable-pip-version-check --no-input -q -r $<
	@touch $@

$(GRPCURL): tools/go.mod tools/go.sum
	go build -modfile=tools/go.mod -o $@ github.com/fullstorydev/grpcurl/cmd/grpcurl

.PHONY: grpcurl
grpcurl: $(GRPCURL) ## Build the pinned grpcurl into bin/.

.PHONY: deps
deps: $(BUF) $(TS_DEPS) $(PY_DEPS) $(GRPCURL) ## Install every pinned tool and client dependency (CI's first step).

.PHONY: generate
generate: $(BUF) $(TS_DEPS) $(PY_DEPS) ## Regenerate gen/ and the TypeScript and Python clients from proto/.
	$(BUF) generate
	scripts/generate-python.sh $(PY_VENV)/bin/python

.PHONY: check-generate
check-generate: generate ## Fail when generated code is stale.
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "generated code is stale: run 'make generate' and commit the result"; git status --porcelain -- $(GENERATED); exit 1; fi

.PHONY: lint
lint: $(BUF) ## go vet, gofmt, staticcheck, govulncheck (skipped offline), buf lint, buf format, buf breaking.
	go vet ./...
	@out="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go tool -modfile=tools/go.mod staticcheck ./...
	scripts/govulncheck.sh
	$(BUF) lint
	$(BUF) format -d --exit-code
	$(BUF) breaking --against $(BASELINE)

.PHONY: baseline
baseline: $(BUF) ## Record the current API as the buf breaking baseline (deliberately).
	$(BUF) build --exclude-source-info -o $(BASELINE)

.PHONY: test
test: check-generate lint test-go test-fuzz test-soak test-ts test-python test-grpcurl ## Everything CI runs: generate check, lint, all tests.

.PHONY: test-go
test-go: ## Go tests with the race detector, on a throwaway PostgreSQL when its binaries are installed.
	scripts/pg-test.sh run go test $(GO_TEST_FLAGS) ./...

FUZZTIME    ?= 1m
FUZZTIME_CI ?= 8s
SOAK_DURATION ?= 10m

.PHONY: fuzz
fuzz: ## Run every Go fuzz target for FUZZTIME each (default 1m); failing inputs land in testdata/fuzz.
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

.PHONY: test-fuzz
test-fuzz: ## Every fuzz target for FUZZTIME_CI (8s) each: CI's regression run of the fuzzers.
	FUZZTIME=$(FUZZTIME_CI) scripts/fuzz.sh

.PHONY: soak
soak: ## Mixed load on the real binary for SOAK_DURATION (10m): RPS, p99, RSS, goroutines over time; fails on growth.
	mkdir -p bin
	TOKEND_SOAK_DURATION=$(SOAK_DURATION) TOKEND_SOAK_REPORT=$(CURDIR)/bin/soak-report.md \
		go test -count=1 -timeout 0 -run '^TestSoak$$' -v ./cmd/tokend/

.PHONY: test-soak
test-soak: ## The soak for 20 s (CI).
	$(MAKE) --no-print-directory soak SOAK_DURATION=20s

.PHONY: test-ts
test-ts: build adversarial-server $(TS_DEPS) ## TypeScript client interop and adversarial-corpus tests against bin/tokend.
	cd $(TS_DIR) && TOKEND_BIN=$(CURDIR)/$(BIN) ADVERSARIAL_SERVER_BIN=$(CURDIR)/$(ADV_BIN) npm test --silent

.PHONY: test-python
test-python: build adversarial-server $(PY_DEPS) ## Python client interop and adversarial-corpus tests against bin/tokend.
	cd $(PY_DIR) && TOKEND_BIN=$(CURDIR)/$(BIN) ADVERSARIAL_SERVER_BIN=$(CURDIR)/$(ADV_BIN) .venv/bin/python -m pytest

.PHONY: test-grpcurl
test-grpcurl: build $(GRPCURL) ## Run README's grpcurl calls against bin/tokend.
	scripts/test-grpcurl.sh

.PHONY: build
build: ## Build bin/tokend.
	go build -o $(BIN) ./cmd/tokend

.PHONY: adversarial-server
adversarial-server: ## Build bin/adversarial-server: the real server on the adversarial fixture (TEST ONLY).
	go build -o $(ADV_BIN) ./server/servertest/adversarial/cmd/adversarial-server

GHZ        := bin/ghz
BENCH_BARE := bin/bench-bare
# Settings of make bench (see bench/main.go); unset means the default.
export BENCH_DURATION BENCH_WARMUP BENCH_CONCURRENCY BENCH_CONNECTIONS BENCH_RUNS BENCH_FIRST_SEEN BENCH_MEMORY BENCH_PROFILE BENCH_OUT

$(GHZ): tools/go.mod tools/go.sum
	go build -modfile=tools/go.mod -o $@ github.com/bojand/ghz/cmd/ghz

.PHONY: bench
bench: build $(GHZ) ## Load-test tokend with ghz against the gRPC floor; rewrites docs/benchmarks.md (BENCH_DURATION=10s BENCH_RUNS=3 ...).
	go build -o $(BENCH_BARE) ./bench/bare
	go run ./bench -tokend $(BIN) -ghz $(GHZ) -bare $(BENCH_BARE) -doc docs/benchmarks.md -svg docs/benchmarks.svg

.PHONY: bench-micro
bench-micro: ## Micro-benchmarks of validating, issuing, the interceptor chain and the metrics link (allocs), benchstat against bench/micro-*before.txt.
	go test -run '^$$' -bench . -benchmem -count 8 ./server/token/ | tee bench/micro-after.txt
	go tool -modfile=tools/go.mod benchstat bench/micro-before.txt bench/micro-after.txt
	go test -run '^$$' -bench 'AccessLog|Chaining' -benchmem -count 6 ./server/interceptor/ | tee bench/micro-chain-after.txt
	go tool -modfile=tools/go.mod benchstat bench/micro-chain-before.txt bench/micro-chain-after.txt
	go test -run '^$$' -bench GRPCMetrics -benchmem -count 6 ./server/metrics/ | tee bench/micro-metrics.txt
	go tool -modfile=tools/go.mod benchstat -col /impl bench/micro-metrics.txt

.PHONY: run
run: build ## Run a dev server on the embedded store in ./data.
	./$(BIN) serve --data-dir ./data

.PHONY: clean
clean: ## Remove build outputs (not ./data).
	rm -rf bin $(TS_DIR)/dist
