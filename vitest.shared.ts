import type { TestProjectInlineConfiguration } from 'vitest/config'

/**
 * The test tiers every workspace package has, as vitest projects.
 *
 * - `<name>:unit`: `test/unit/**` - no network, fast, fake timers where time matters.
 * - `<name>:integration`: `test/integration/**` - real Redis, Kafka, search engines, MariaDB.
 * - `<name>:cluster`: `test/cluster/**` - failover on the multi-node clusters of
 *   `node services/cli.mjs up --cluster` (KAFKA_CLUSTER_BROKERS, OPENSEARCH_CLUSTER_NODES,
 *   REDIS_CLUSTER_SENTINELS; each file skips with a message when its variable is absent). Run on its own:
 *   `pnpm exec vitest run --project '*:cluster' --maxWorkers=1`.
 *
 * Used by each package's own `vitest.config.ts` (run from the package folder) and by the root
 * config (one vitest process, one summary for the whole repository).
 */
export function tierProjects(name: string, root: string): TestProjectInlineConfiguration[] {
  return [
    {
      extends: false,
      test: {
        name: `${name}:unit`,
        root,
        include: ['test/unit/**/*.test.ts'],
        typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
      },
    },
    {
      extends: false,
      test: {
        name: `${name}:integration`,
        root,
        include: ['test/integration/**/*.test.ts'],
        testTimeout: 60_000,
        hookTimeout: 120_000,
        // Integration files share real servers; run them one file at a time so a test that
        // stops a private Redis or floods Kafka does not disturb another file's timing.
        fileParallelism: false,
      },
    },
    {
      extends: false,
      test: {
        name: `${name}:cluster`,
        root,
        include: ['test/cluster/**/*.test.ts'],
        testTimeout: 300_000,
        hookTimeout: 240_000,
        // The files kill and restart the clusters' nodes: never two at once.
        fileParallelism: false,
      },
    },
  ]
}
