# civicflow developer tasks. `make help` lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

TEMPORAL_CLI_VERSION := v1.5.1
# sudo only when not already root
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help deps build run test histories clean

help: ## List the targets
	@echo "civicflow make targets:"
	@grep -E '^[a-zA-Z0-9_./-]+:.*## ' $(MAKEFILE_LIST) | \
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

build: ## Build bin/civicflow
	go build -o bin/civicflow ./cmd/civicflow

run: deps build ## Run `civicflow dev` (local Postgres + Temporal + app); Ctrl-C stops everything
	exec ./bin/civicflow dev

test: deps ## go vet, then all tests with real Postgres and Temporal
	go vet ./...
	CIVICFLOW_TEMPORAL_BIN=$(CURDIR)/bin/temporal CIVICFLOW_REQUIRE_SERVICES=1 go test -count=1 -timeout 30m ./...

histories: deps ## Re-record the workflow histories replayed by the tests (after an intended workflow change)
	CIVICFLOW_TEMPORAL_BIN=$(CURDIR)/bin/temporal CIVICFLOW_REQUIRE_SERVICES=1 CIVICFLOW_SAVE_HISTORIES=1 \
		go test -count=1 -run 'TestE2E' ./cmd/civicflow/

clean: ## Remove bin/ and .data/ (local service data included)
	@for d in bin .data; do \
		if [ -e "$$d" ]; then echo "removing $(CURDIR)/$$d"; rm -rf "$$d"; fi; \
	done
