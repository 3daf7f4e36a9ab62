/**
 * The parts of `examples/invoicing-api` the `e2e` scenario uses from this process: its
 * configuration, migrations and seed (with its progress callback and the reuse check), the
 * process starter, and the load table (`src/load/`: targets, autocannon runs, interceptor and
 * engine deltas, markdown). They are loaded by file URL at run time and typed here by the little
 * that is used, as `../soak/example.ts` does and for the same reason (the example compiles with
 * other TypeScript settings than this package); the table's figures are the example's own types,
 * from `src/load/figures.ts`, which imports nothing.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
// Type-only, from the example's import-free leaf module: the one file of the example this
// package's type-check reads.
import type {
  MeasureOptions,
  RunFigures,
  TargetFigures,
} from '../../../examples/invoicing-api/src/load/figures.js'
import { EXAMPLE_DIR, type ResourceNames, type ServiceAddresses } from '../soak/example.js'

export type { MeasureOptions, RunFigures, TargetFigures }
export { EXAMPLE_DIR, type ResourceNames, type ServiceAddresses }

/** `ServiceProcess` of the example's `src/load/processes.ts`. */
export interface ServiceProcess {
  url: string
  pid: number
  output(): string
  stop(graceMs?: number): Promise<void>
}

/** The example's modules the scenario uses. */
export interface E2eExample {
  serviceAddresses(env?: NodeJS.ProcessEnv): ServiceAddresses & { redisOptions?: unknown }
  resourceNames(generation: string): ResourceNames
  searchClientOptions(addresses: ServiceAddresses): unknown
  migrate(databaseUrl: string): Promise<unknown>
  seed(
    addresses: ServiceAddresses,
    options: {
      count: number
      log: (line: string) => void
      progress: (phase: 'database' | 'search' | 'kafka', done: number, total: number) => void
    },
  ): Promise<{ names: ResourceNames; invoices: number; timings: Record<string, number> }>
  reusableDataset(addresses: ServiceAddresses, count: number): Promise<ResourceNames | undefined>
  startService(
    script: string,
    options: { env: NodeJS.ProcessEnv; readyPath: string; startTimeoutMs?: number },
  ): Promise<ServiceProcess>
  buildTargets(options: { appUrl: string; sqlUrl: string; invoices: number }): Promise<unknown[]>
  measureTargets(targets: readonly unknown[], options: MeasureOptions): Promise<TargetFigures[]>
  markdownTable(results: readonly TargetFigures[]): string
  indexSearchStats(search: unknown, index: string): Promise<{ queries: number; ms: number }>
}

async function load<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(join(EXAMPLE_DIR, 'src', path)).href)) as T
}

/** Generate the example's Prisma client (gitignored), then load its modules. */
export async function loadE2eExample(): Promise<E2eExample> {
  await promisify(execFile)('pnpm', ['run', 'generate'], { cwd: EXAMPLE_DIR, timeout: 180_000 })
  const [config, migrate, seed, processes, targets, measure] = await Promise.all([
    load<Pick<E2eExample, 'serviceAddresses' | 'resourceNames' | 'searchClientOptions'>>('config.ts'),
    load<Pick<E2eExample, 'migrate'>>('database/migrate.ts'),
    load<Pick<E2eExample, 'seed' | 'reusableDataset'>>('seed/seed.ts'),
    load<Pick<E2eExample, 'startService'>>('load/processes.ts'),
    load<Pick<E2eExample, 'buildTargets'>>('load/targets.ts'),
    load<Pick<E2eExample, 'measureTargets' | 'markdownTable' | 'indexSearchStats'>>('load/measure.ts'),
  ])
  return {
    serviceAddresses: config.serviceAddresses,
    resourceNames: config.resourceNames,
    searchClientOptions: config.searchClientOptions,
    migrate: migrate.migrate,
    seed: seed.seed,
    reusableDataset: seed.reusableDataset,
    startService: processes.startService,
    buildTargets: targets.buildTargets,
    measureTargets: measure.measureTargets,
    markdownTable: measure.markdownTable,
    indexSearchStats: measure.indexSearchStats,
  }
}
