# Trellis — developer entry points. `make help` lists them.
SHELL := /bin/bash
GO    ?= go
BIN   ?= bin/trellis
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/trellis-mesh/trellis/internal/cli.Version=$(VERSION)
TRELLIS_HOME ?= .trellis
ADDR ?= 127.0.0.1:8080

.PHONY: help build run test bench bench-proxy generate verify-generated lint fmt ui clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## Build bin/trellis.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/trellis

run: build ## Start Trellis with embedded SQLite in ./.trellis and the example designs.
	$(BIN) validate examples/designs/
	$(BIN) serve --home $(TRELLIS_HOME) --addr $(ADDR) --load-examples examples/designs

test: ## Run every test: unit, golden, Rego, and integration against real kube-apiserver, Consul, PostgreSQL.
	hack/test.sh

bench: ## Run the Go benchmarks (spec, adapters, policies, control plane, server), ratios against same-run baselines.
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./spec/... ./adapters/... ./policies/... ./controlplane/...
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2000x ./server/...

bench-proxy: ## Benchmark trellis proxy against direct, nginx and haproxy on 127.0.0.1.
	hack/bench-proxy.sh

generate: ## Regenerate generated code and files: GraphQL, JSON Schema, docs, the dashboard build (goldens: UPDATE_GOLDEN=1 go test ./...).
	$(GO) run github.com/99designs/gqlgen generate --config server/gqlgen.yml
	$(GO) generate ./...
	UPDATE_GOLDEN=1 $(GO) test -count=1 -run 'TestSchemaUpToDate|TestDocsUpToDate|TestCapabilitiesDocIsFresh' ./spec/ ./adapters/all/ >/dev/null
	$(MAKE) ui

ui: ## Build the dashboard (ui/dist, embedded in the binary).
	cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build

verify-generated: generate ## Fail when generated files are stale.
	@git diff --exit-code -- . ':(exclude)go.sum' || { echo "generated files are stale: run 'make generate' and commit" >&2; exit 1; }

lint: ## gofmt, go vet and staticcheck.
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '/testdata/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

STATICCHECK_VERSION ?= v0.8.2

clean: ## Remove build output.
	rm -rf bin
