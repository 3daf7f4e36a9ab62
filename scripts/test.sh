#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set-up (toolchain, install, build), lint, type-check,
# package checks (publint --strict, attw), the services the integration tests need, then every
# unit and integration test in one vitest run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh

log "lint (biome)"
pnpm run --silent lint
log "type-check"
pnpm run --silent typecheck
log "package checks (publint --strict, attw --pack)"
pnpm run --silent check:packages
log "services"
node services/cli.mjs up
log "tests (vitest: unit + integration)"
pnpm exec vitest run "$@"
