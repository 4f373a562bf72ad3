# tokend — run `make help` for the targets.
#
# Every tool is pinned in the repository: protoc-gen-go and protoc-gen-go-grpc
# as go.mod tools, buf from npm in tools/package-lock.json. A fresh clone
# needs Go and Node only.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BUF      := tools/node_modules/.bin/buf
BIN      := bin/tokend
GO_TEST_FLAGS ?= -race -count=1
BASELINE := api-baseline.binpb

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(BUF): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: tools
tools: $(BUF) ## Install the pinned build tools (buf).

.PHONY: generate
generate: $(BUF) ## Regenerate gen/ from proto/.
	$(BUF) generate

.PHONY: check-generate
check-generate: generate ## Fail when gen/ is stale.
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		echo "gen/ is stale: run 'make generate' and commit the result"; git status --porcelain -- gen; exit 1; fi

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
test: check-generate lint test-go ## Everything CI runs: generate check, lint, all tests.

.PHONY: test-go
test-go: ## Go tests with the race detector.
	go test $(GO_TEST_FLAGS) ./...

.PHONY: build
build: ## Build bin/tokend.
	go build -o $(BIN) ./cmd/tokend

.PHONY: run
run: build ## Run a dev server on the embedded store in ./data.
	./$(BIN) serve --data-dir ./data

.PHONY: clean
clean: ## Remove build outputs (not ./data).
	rm -rf bin
