import { defineConfig } from 'vitest/config'

/**
 * The harness's own integration tests, as one vitest project. The root config lists this file as
 * a project; `pnpm --filter @ayala/services test` runs it alone. The servers must be up first
 * (`node services/cli.mjs up`); the tests read their addresses from the same environment
 * variables as the harness, with the harness's defaults.
 */
export default defineConfig({
  test: {
    name: 'services:integration',
    root: import.meta.dirname,
    include: ['test/integration/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
