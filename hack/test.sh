#!/usr/bin/env bash
# The project's test command (`make test`): builds or reuses the real components the integration
# tests need (kube-apiserver + etcd + kubectl, a Consul agent, PostgreSQL), then runs every Go test
# (with -race for the server and the bundled mesh) and the Rego policy tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "Go modules"
go mod download

step "kube-apiserver, etcd, kubectl (cached by inputs)"
KUBEBUILDER_ASSETS=$(hack/kubeenv/build.sh)
export KUBEBUILDER_ASSETS

step "Consul agent (cached by inputs)"
CONSUL_BIN=$(hack/consul/build.sh)
export CONSUL_BIN

step "PostgreSQL on 127.0.0.1"
pgdir=$(mktemp -d /tmp/trellis-pg.XXXXXX)
TRELLIS_TEST_POSTGRES_DSN=$(hack/postgres.sh start "$pgdir")
export TRELLIS_TEST_POSTGRES_DSN
trap 'hack/postgres.sh stop "$pgdir" || true; rm -rf "$pgdir"' EXIT

# Integration tests fail instead of skipping when a component is missing.
export TRELLIS_REQUIRE_INTEGRATION=1

race_pkgs=$(go list ./server/... ./proxy/... ./controlplane/... ./test/e2e/... 2>/dev/null || true)
all_pkgs=$(go list ./...)
other_pkgs=$(comm -23 <(echo "$all_pkgs" | sort) <(echo "$race_pkgs" | sort))

# Every step runs even when an earlier one fails, so one run shows every failure.
failed=()

step "go test (unit and integration)"
# shellcheck disable=SC2086
go test -count=1 -timeout 30m $other_pkgs || failed+=("go test")

if [ -n "$race_pkgs" ]; then
  step "go test -race (server and bundled mesh)"
  # shellcheck disable=SC2086
  go test -count=1 -race -timeout 30m $race_pkgs || failed+=("go test -race")
fi

if [ -x test/e2e/ui/run.sh ]; then
  step "dashboard: unit tests and browser tests in Chromium"
  # In CI, also fail when the committed dashboard build (ui/dist) is stale.
  CHECK_UI_DIST=${CHECK_UI_DIST:-${CI:+1}} test/e2e/ui/run.sh || failed+=("dashboard tests")
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failed[*]}" >&2
  exit 1
fi
printf '\nall tests passed\n' >&2
