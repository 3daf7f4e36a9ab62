/**
 * The parts of `examples/invoicing-api` the soak uses from this process: its configuration,
 * migrations, seed and clean-up, its Prisma client, the SQL reference queries (the truth the
 * integration tests compare with), the view and document mappings and its Prometheus parser.
 *
 * They are imported by file URL at run time, typed here by the little that is used: the example
 * compiles with `allowImportingTsExtensions` and legacy decorators, which this package does not,
 * so a static import would drag its sources into this package's type-check. Modules that declare
 * Nest providers (parameter decorators) cannot be loaded here at all (esbuild refuses them
 * without `experimentalDecorators`); the application itself runs as its own process
 * (`app-process.ts`) in the example's folder.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

/** The example's folder. */
export const EXAMPLE_DIR = join(import.meta.dirname, '..', '..', '..', 'examples', 'invoicing-api')

/** `ServiceAddresses` of the example (`src/config.ts`). */
export interface ServiceAddresses {
  databaseUrl: string
  redisUrl: string
  searchUrl: string
  kafkaBrokers: string[]
}

/** `ResourceNames` of the example (`src/config.ts`). */
export interface ResourceNames {
  generation: string
  cacheNamespace: string
  dashboardNamespace: string
  topic: string
  groupId: string
  index: string
  outboxTable: string
}

/** `InvoiceView` (`src/invoices/invoice.ts`): what `GET /invoices/:id` serves. */
export interface InvoiceView {
  id: number
  number: string
  status: string
  issuedAt: string
  dueAt: string
  currency: string
  netCents: number
  taxCents: number
  totalCents: number
  description: string
  version: number
  client: { id: number; name: string; taxId: string; city: string }
  lines: unknown[]
}

/** `sqlDashboard`'s figures (`src/cli/reference-queries.ts`). */
export interface DashboardFigures {
  invoices: number
  countByStatus: Record<string, number>
  totalByStatus: Record<string, number>
}

/** The part of the example's Prisma client used here. */
export interface PrismaLike {
  invoice: {
    findMany(args: unknown): Promise<Array<{ id: number; issuedAt: Date }>>
    count(args?: unknown): Promise<number>
  }
  $queryRawUnsafe<T = unknown>(sql: string, ...values: unknown[]): Promise<T>
  $executeRawUnsafe(sql: string, ...values: unknown[]): Promise<number>
}

/** `Database` (`src/database/connection.ts`). */
export interface Database {
  prisma: PrismaLike
  close(): Promise<void>
}

/** `PromSample` (`src/cli/prometheus-text.ts`). */
export interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

/** The example's modules, loaded. */
export interface Example {
  serviceAddresses(env?: NodeJS.ProcessEnv): ServiceAddresses
  migrate(databaseUrl: string): Promise<unknown>
  seed(
    addresses: ServiceAddresses,
    options: { count: number; log: (line: string) => void },
  ): Promise<{ names: ResourceNames; invoices: number; timings: Record<string, number> }>
  dropResources(addresses: ServiceAddresses, names: ResourceNames, log: (line: string) => void): Promise<void>
  openDatabase(databaseUrl: string, connectionLimit?: number): Database
  sqlDashboard(prisma: PrismaLike): Promise<DashboardFigures>
  sqlSearch(prisma: PrismaLike, words: string): Promise<{ total: number; ids: number[] }>
  toInvoiceView(row: unknown): InvoiceView
  toInvoiceDocument(view: InvoiceView): Record<string, unknown>
  INVOICE_INCLUDE: unknown
  INVOICE_STATUSES: readonly string[]
  parsePrometheusText(text: string): PromSample[]
}

async function load<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(join(EXAMPLE_DIR, 'src', path)).href)) as T
}

/**
 * Generate the example's Prisma client (gitignored; what its tests do first), then load its
 * modules.
 */
export async function loadExample(): Promise<Example> {
  await promisify(execFile)('pnpm', ['run', 'generate'], { cwd: EXAMPLE_DIR, timeout: 180_000 })
  const [config, migrate, seed, connection, reference, invoice, index, prometheus] = await Promise.all([
    load<Pick<Example, 'serviceAddresses'>>('config.ts'),
    load<Pick<Example, 'migrate'>>('database/migrate.ts'),
    load<Pick<Example, 'seed' | 'dropResources'>>('seed/seed.ts'),
    load<Pick<Example, 'openDatabase'>>('database/connection.ts'),
    load<Pick<Example, 'sqlDashboard' | 'sqlSearch'>>('cli/reference-queries.ts'),
    load<Pick<Example, 'toInvoiceView' | 'INVOICE_INCLUDE' | 'INVOICE_STATUSES'>>('invoices/invoice.ts'),
    load<Pick<Example, 'toInvoiceDocument'>>('invoices/invoice-index.ts'),
    load<Pick<Example, 'parsePrometheusText'>>('cli/prometheus-text.ts'),
  ])
  return {
    serviceAddresses: config.serviceAddresses,
    migrate: migrate.migrate,
    seed: seed.seed,
    dropResources: seed.dropResources,
    openDatabase: connection.openDatabase,
    sqlDashboard: reference.sqlDashboard,
    sqlSearch: reference.sqlSearch,
    toInvoiceView: invoice.toInvoiceView,
    INVOICE_INCLUDE: invoice.INVOICE_INCLUDE,
    INVOICE_STATUSES: invoice.INVOICE_STATUSES,
    toInvoiceDocument: index.toInvoiceDocument,
    parsePrometheusText: prometheus.parsePrometheusText,
  }
}

/** A seeded private database (`ayala_invoicing_soak_<random>`) and its resources. */
export interface SoakDataset {
  addresses: ServiceAddresses
  names: ResourceNames
  /** Milliseconds per seed phase (database, search, kafka). */
  timings: Record<string, number>
  /** Drop the index, topic, group, Redis keys and the database. Never throws (logs instead). */
  drop(): Promise<void>
}

/** Migrate and seed `count` invoices into a database of the soak's own. */
export async function seedDataset(example: Example, count: number): Promise<SoakDataset> {
  const url = new URL(example.serviceAddresses().databaseUrl)
  url.pathname = `/ayala_invoicing_soak_${randomBytes(4).toString('hex')}`
  const addresses = example.serviceAddresses({ ...process.env, INVOICING_DATABASE_URL: url.toString() })
  const log = (line: string) => console.log(`[soak] ${line}`)
  let names: ResourceNames | undefined
  const drop = async () => {
    if (names !== undefined) await example.dropResources(addresses, names, log)
    const db = example.openDatabase(addresses.databaseUrl, 1)
    try {
      await db.prisma.$executeRawUnsafe(`DROP DATABASE IF EXISTS \`${url.pathname.slice(1)}\``)
    } catch (error) {
      log(`cleanup: could not drop ${url.pathname.slice(1)}: ${(error as Error).message}`)
    } finally {
      await db.close()
    }
  }
  try {
    await example.migrate(addresses.databaseUrl)
    const report = await example.seed(addresses, { count, log })
    names = report.names
    return { addresses, names, timings: report.timings, drop }
  } catch (error) {
    await drop()
    throw error
  }
}
