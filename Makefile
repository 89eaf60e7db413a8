# civicflow developer tasks. `make help` lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

TEMPORAL_CLI_VERSION := v1.5.1

# Stamped into the binary (`civicflow version`) and the image. Override for
# a release: make image VERSION=1.0.0. BUILD_DATE=$$(git log -1 --format=%cI)
# makes the image's digests depend on the commit alone.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)
# The repository the manifests in deploy/ run (TestDeployManifests checks it).
IMAGE_REPO ?= registry.example.gov.cn/civicflow
# sudo only when not already root
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help deps chromium build image image-test run test lint tidy-check histories clean cluster-test chaos fuzz bench bench-campaign

help: ## List the targets
	@echo "civicflow make targets:"
	@grep -E '^[a-zA-Z0-9_./$$() -]+&?:.*## ' $(MAKEFILE_LIST) | \
		sed -e 's/^$$(TEMPORAL_SERVER_BINS) &/bin\/temporal-server bin\/temporal-sql-tool/' | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

bin/temporal: ## Build the Temporal CLI (dev server) into bin/ (only when missing)
	GOBIN=$(CURDIR)/bin go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

deps: bin/temporal ## Install PostgreSQL (apt) if missing, and build bin/temporal
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "PostgreSQL found: $$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"; \
	else \
		echo "PostgreSQL not found; installing it with apt-get (no system cluster is created)"; \
		$(SUDO) mkdir -p /etc/postgresql-common; \
		[ -e /etc/postgresql-common/createcluster.conf ] || \
			echo "create_main_cluster = false" | $(SUDO) tee /etc/postgresql-common/createcluster.conf >/dev/null; \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			-o Dpkg::Options::=--force-confold postgresql; \
	fi

# Chinese fonts too, or the screenshots show boxes instead of characters.
chromium: ## Install Debian's chromium and a Chinese font (apt) if missing, for the web console's browser test
	@if command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "chromium found: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-wqy-microhei; \
	else \
		echo "chromium is missing: run sudo apt-get install -y chromium fonts-wqy-microhei (the console's browser test needs it)"; exit 1; \
	fi

build: ## Build bin/civicflow (version, commit and build date stamped in)
	go build -ldflags "$(LDFLAGS)" -o bin/civicflow ./cmd/civicflow

# tools/image is a module of its own (go-containerregistry), so that the
# image builder's dependencies stay out of civicflow's go.mod.
image: ## Build the multi-arch (amd64, arm64) non-root OCI image as bin/civicflow-image.tar, without Docker
	@if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates; fi
	cd tools/image && go run . -src $(CURDIR) -out $(CURDIR)/bin/civicflow-image.tar -bin-dir $(CURDIR)/bin/image \
		-repo $(IMAGE_REPO) -version $(VERSION) -commit $(COMMIT) -date $(BUILD_DATE)

image-test: image ## Check the image's tarball: non-root user, entrypoint, platforms, stamped version
	cd tools/image && CIVICFLOW_IMAGE_TAR=$(CURDIR)/bin/civicflow-image.tar CIVICFLOW_IMAGE_VERSION=$(VERSION) \
		go test -count=1 -run TestImage .

run: deps build ## Run `civicflow dev` (local Postgres + Temporal + app); Ctrl-C stops everything
	exec ./bin/civicflow dev

# golangci-lint is pinned as a tool in a module of its own (tools/lint):
# its few hundred dependencies stay out of civicflow's go.mod, where they
# would raise shared modules to the linter's versions.
bin/golangci-lint: tools/lint/go.mod tools/lint/go.sum ## Build the pinned golangci-lint into bin/
	cd tools/lint && go build -o $(CURDIR)/bin/golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint

lint: bin/golangci-lint ## golangci-lint with .golangci.yml, on civicflow and tools/image
	bin/golangci-lint run ./...
	cd tools/image && $(CURDIR)/bin/golangci-lint run --config $(CURDIR)/.golangci.yml ./...

# The modules whose go.mod/go.sum must be what `go mod tidy` writes.
TIDY_MODULES := . tools/image tools/lint

tidy-check: ## Fail when go mod tidy would change go.mod or go.sum
	@for m in $(TIDY_MODULES); do \
		if ! (cd $$m && go mod tidy -diff >/dev/null); then \
			echo "tidy-check: go mod tidy would change $$m/go.mod or go.sum; run it there and commit:"; \
			(cd $$m && go mod tidy -diff); exit 1; \
		fi; \
	done; echo "tidy-check: $(TIDY_MODULES) tidy"

test: deps chromium tidy-check lint ## tidy check, lint, go vet, then all tests with real Postgres and Temporal
	go vet ./...
	CIVICFLOW_TEMPORAL_BIN=$(CURDIR)/bin/temporal CIVICFLOW_REQUIRE_SERVICES=1 go test -count=1 -timeout 30m ./...

# The real Temporal server and its SQL schema tool, pinned (v1.32.1) in
# tools/temporal-server/go.mod and built from Go modules, for cluster-test.
TEMPORAL_SERVER_BINS := bin/temporal-server bin/temporal-sql-tool

$(TEMPORAL_SERVER_BINS) &: tools/temporal-server/go.mod tools/temporal-server/go.sum ## Build the Temporal server and temporal-sql-tool into bin/ (several minutes the first time)
	@start=$$(date +%s); \
	cd tools/temporal-server && \
	go build -o $(CURDIR)/bin/temporal-server go.temporal.io/server/cmd/server && \
	go build -o $(CURDIR)/bin/temporal-sql-tool go.temporal.io/server/cmd/tools/sql && \
	echo "built bin/temporal-server and bin/temporal-sql-tool in $$(( $$(date +%s) - start ))s"

cluster-test: deps $(TEMPORAL_SERVER_BINS) ## End-to-end tests on the production topology: real Temporal server on PostgreSQL, 2 APIs, 2 workers, restarts
	@start=$$(date +%s); \
	$(CURDIR)/bin/temporal-server validate-dynamic-config deploy/temporal/dynamicconfig.yaml && \
	CIVICFLOW_CLUSTER_TEST=1 CIVICFLOW_REQUIRE_SERVICES=1 \
		CIVICFLOW_TEMPORAL_SERVER_BIN=$(CURDIR)/bin/temporal-server \
		CIVICFLOW_TEMPORAL_SQL_TOOL=$(CURDIR)/bin/temporal-sql-tool \
		go test -count=1 -timeout 30m -run 'TestE2E|TestCluster' -v ./cmd/civicflow/; \
	status=$$?; \
	echo "cluster-test: make cluster-test took $$(( $$(date +%s) - start ))s (exit $$status)"; exit $$status

chaos: deps ## Fault tests: cases driven through api/worker processes while each part is killed or restarted
	@start=$$(date +%s); \
	CIVICFLOW_CHAOS=1 CIVICFLOW_TEMPORAL_BIN=$(CURDIR)/bin/temporal CIVICFLOW_REQUIRE_SERVICES=1 \
		go test -count=1 -timeout 20m -run TestChaos -v ./chaos/; \
	status=$$?; \
	echo "chaos: make chaos took $$(( $$(date +%s) - start ))s (exit $$status)"; exit $$status

# Fuzz targets, their packages and execution budgets (about 10 s each on the
# team's 2-core VM; seeds committed as f.Add calls and under testdata/fuzz
# run in every `go test`). Budgets are counts, not durations: a duration
# -fuzztime can fail with a bare "context deadline exceeded" when it expires
# while a worker is busy (go.dev/issue/75804, fixed only in Go 1.27), and a
# count has no deadline to race. FUZZTIME=1m (or 500000x) overrides them all.
FUZZTIME ?=
FUZZ_TARGETS := .:FuzzParseIDNumber:250000x .:FuzzNameReason:200000x .:FuzzWorkingDays:70000x ./api:FuzzBind:25000x

fuzz: ## Run each fuzz target for its execution budget (about 10 s each) or FUZZTIME
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest#*:}; \
		if [ -n "$(FUZZTIME)" ]; then budget="$(FUZZTIME)"; fi; \
		echo "fuzz: $$name in $$pkg for $$budget"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget -fuzzminimizetime 100x $$pkg || exit 1; \
	done

# The campaign board over 10,000 registered persons (docs/campaigns.md):
# a go test benchmark of the whole stack, about 20 s; it reports p50/p95/p99.
bench-campaign: deps ## Time the campaign progress board over 10,000 persons (~20 s; docs/performance.md)
	CIVICFLOW_TEMPORAL_BIN=$(CURDIR)/bin/temporal CIVICFLOW_REQUIRE_SERVICES=1 \
		go test -count=1 -run '^$$' -bench '^BenchmarkCampaignBoard$$' -benchtime 300x ./cmd/civicflow

# BENCH_FLAGS passes flags to civicflow-bench, e.g. BENCH_FLAGS="-cases 1000 -in-flight 64"
bench: deps build bench-campaign ## Measure civicflow against the bare engine (~14 min), after bench-campaign; writes results/ (docs/performance.md)
	CIVICFLOW_TEMPORAL_BIN=$(CURDIR)/bin/temporal go run ./cmd/civicflow-bench -civicflow bin/civicflow -out results $(BENCH_FLAGS)

histories: deps ## Re-record the workflow histories replayed by the tests (after an intended workflow change; TestE2ERehab* records the community-rehab ones)
	CIVICFLOW_TEMPORAL_BIN=$(CURDIR)/bin/temporal CIVICFLOW_REQUIRE_SERVICES=1 CIVICFLOW_SAVE_HISTORIES=1 \
		go test -count=1 -run 'TestE2E|TestNotificationsFollowACase' ./cmd/civicflow/

clean: ## Remove bin/ and .data/ (local service data included)
	@for d in bin .data; do \
		if [ -e "$$d" ]; then echo "removing $(CURDIR)/$$d"; rm -rf "$$d"; fi; \
	done
