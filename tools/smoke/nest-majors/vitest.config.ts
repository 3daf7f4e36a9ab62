/**
 * The Nest suite's core on each older Nest major @ayala/nestjs peers on. The workspace itself runs
 * the whole suite on Nest 12 (`nestjs:integration`); here the same test files of
 * packages/nestjs run again, unchanged, with every `@nestjs/*` import (and `rxjs`,
 * `reflect-metadata`) resolved to a fixture installed with that major (`<major>/node_modules`,
 * installed by `run.mjs`). The aliases apply to the source under test and to the test files
 * alike, and the fixture's packages resolve each other inside the fixture, so one copy of Nest
 * runs per project; `nest-version.setup.ts` checks that before every file. One project per major, one file
 * at a time (the files share the harness's servers).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { defineConfig } from 'vitest/config'

const here = import.meta.dirname
const nestjs = join(here, '..', '..', '..', 'packages', 'nestjs')

/** The majors tested here (12 is the workspace's own). */
export const MAJORS = ['10', '11'] as const

/** What each fixture provides in place of the workspace's copies. */
const ALIASED = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/testing',
  '@nestjs/terminus',
  '@nestjs/config',
  '@nestjs/microservices',
  '@nestjs/platform-express',
  'rxjs',
  'reflect-metadata',
]

/**
 * The core: the cache module and its decorators, the search module, the metrics-stream module
 * (and its topics), health, the HTTP metrics interceptor (streams included) and the HTTP edge
 * under dependency faults. Left out: GraphQL, microservice transports, OpenTelemetry, the outbox
 * module, and the long fault tests that do not depend on Nest's version (Redis restarted under
 * the app, Sentinel failover).
 */
const CORE = [
  'test/integration/cache/cache-module.test.ts',
  'test/integration/cache/decorators.test.ts',
  'test/integration/search/search-module.test.ts',
  'test/integration/metrics-stream/metrics-stream-module.test.ts',
  'test/integration/metrics-stream/ensure-topics.test.ts',
  'test/integration/health/health.test.ts',
  'test/integration/metrics/performance.test.ts',
  'test/integration/metrics/streaming.test.ts',
  'test/integration/http/bounded-edge.test.ts',
]

function escapeRegExp(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

function project(major: string) {
  const modules = join(here, major, 'node_modules')
  if (!existsSync(join(modules, '@nestjs', 'core'))) {
    throw new Error(`Nest ${major} fixture not installed: run node tools/smoke/nest-majors/run.mjs`)
  }
  return {
    extends: false as const,
    resolve: {
      alias: ALIASED.map((name) => ({
        find: new RegExp(`^${escapeRegExp(name)}(/.*)?$`),
        replacement: `${join(modules, name)}$1`,
      })),
    },
    test: {
      name: `nestjs:nest-${major}`,
      root: nestjs,
      include: CORE,
      setupFiles: [join(here, 'nest-version.setup.ts')],
      env: { NEST_MAJOR: major, NEST_FIXTURE: join(here, major) },
      testTimeout: 60_000,
      hookTimeout: 120_000,
      fileParallelism: false,
    },
  }
}

export default defineConfig({ test: { projects: MAJORS.map(project) } })
