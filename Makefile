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
lint: $(BUF) ## go vet, gofmt, buf lint, buf format, buf breaking.
	go vet ./...
	@out="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(BUF) lint
	$(BUF) format -d --exit-code
	$(BUF) breaking --against $(BASELINE)

.PHONY: baseline
baseline: $(BUF) ## Record the current API as the buf breaking baseline (deliberately).
	$(BUF) build --exclude-source-info -o $(BASELINE)

.PHONY: test
test: check-generate lint test-go test-ts test-python test-grpcurl ## Everything CI runs: generate check, lint, all tests.

.PHONY: test-go
test-go: ## Go tests with the race detector.
	go test $(GO_TEST_FLAGS) ./...

.PHONY: test-ts
test-ts: build $(TS_DEPS) ## TypeScript client interop test against bin/tokend.
	cd $(TS_DIR) && TOKEND_BIN=$(CURDIR)/$(BIN) npm test --silent

.PHONY: test-python
test-python: build $(PY_DEPS) ## Python client interop test against bin/tokend.
	cd $(PY_DIR) && TOKEND_BIN=$(CURDIR)/$(BIN) .venv/bin/python -m pytest

.PHONY: test-grpcurl
test-grpcurl: build $(GRPCURL) ## Run README's grpcurl calls against bin/tokend.
	scripts/test-grpcurl.sh

.PHONY: build
build: ## Build bin/tokend.
	go build -o $(BIN) ./cmd/tokend

.PHONY: run
run: build ## Run a dev server on the embedded store in ./data.
	./$(BIN) serve --data-dir ./data

.PHONY: clean
clean: ## Remove build outputs (not ./data).
	rm -rf bin $(TS_DIR)/dist
