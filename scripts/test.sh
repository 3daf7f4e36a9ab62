#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set-up (toolchain, install, build), lint, type-check,
# the architecture rules (scripts/check-architecture.mjs), package checks (publint --strict,
# attw), the services the integration tests need, then every unit test, every integration test,
# the quick benchmarks and the cluster suite. Arguments, if any, go to a single `vitest run`
# instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh

log "lint (biome)"
pnpm run --silent lint
log "architecture (no source file over 500 lines, no import circle)"
node scripts/check-architecture.mjs
log "type-check"
pnpm run --silent typecheck
log "package checks (publint --strict, attw --pack)"
pnpm run --silent check:packages
log "services"
node services/cli.mjs up
if [ "$#" -gt 0 ]; then
  log "tests (vitest $*)"
  pnpm exec vitest run "$@"
else
  log "unit tests (vitest, in parallel)"
  pnpm exec vitest run --project '*:unit'
  # One file at a time across all packages: integration tests share the servers and a 2-core
  # machine, and some of them freeze, stop or fail over servers they started themselves.
  log "integration tests (vitest, real services, one file at a time)"
  pnpm exec vitest run --project '*:integration' --maxWorkers=1
  # The Nest suite's core (tools/smoke/nest-majors) once more on Nest 10 and on Nest 11: the
  # workspace's @nestjs/* imports aliased to a fixture of each major (about 2.5 minutes).
  log "Nest majors (the Nest suite's core on Nest 10 and 11)"
  node tools/smoke/nest-majors/run.mjs
  # The benchmark suite runs in CI too, every scenario in its quick mode (the cache against its
  # peers, search bulk and queries on 2,000 documents, the stream consumer against the naive one,
  # a 25 s soak of the invoicing example on 2,000 invoices, the Nest cache-manager route over
  # HTTP, ~45 s; the e2e table of the example on 20,000 invoices, ~2 min with its seed): it fails
  # only when a scenario crashes (the soak: the app crashed, answered a 5xx or a copy differs
  # from SQL; e2e: served != SQL, or a served non-2xx other than 503), never on a timing.
  # Memory (~45 s): the L1 against lru-cache, bulk heap against helpers.bulk, the consumer's RSS.
  # The run ends with the regression report: ratios that moved beyond their margin against
  # benchmarks/baselines/quick (printed, never failing; docs/benchmarks.md).
  log "benchmarks (quick)"
  pnpm bench --quick codec cache-l1-hit cache-tagged-l1-hit cache-l2-hit cache-get-many cache-miss-set \
    search-bulk search-query metrics-stream invoicing-soak nest-cache-manager e2e \
    memory-l1 memory-bulk memory-consumer
  # The cluster suite, its own step (docs/operations.md): 3 KRaft brokers, 3 OpenSearch nodes
  # and a Redis primary, replica and 3 Sentinels started next to the single-node services
  # (30-90 s, the JVMs' boot), then the failover tests that kill and restart their nodes (the
  # example's three instances among them), one file at a time; the clusters are stopped
  # afterwards to give the machine its memory back, whether the tests passed or not: a cluster
  # left running holds its ports, and the next checkout's `up --cluster` cannot take them over.
  log "cluster tests (3-node Kafka, 3-node OpenSearch, Redis Sentinel: nodes killed and restarted)"
  trap 'node services/cli.mjs down --cluster >/dev/null 2>&1 || true' EXIT
  node services/cli.mjs up --cluster
  (. .services/env && pnpm exec vitest run --project '*:cluster' --maxWorkers=1)
  trap - EXIT
  node services/cli.mjs down --cluster
fi
