/**
 * The demo's second half: the `e2e` benchmark's table at the demo's size. The API as its own
 * process (what `pnpm start` runs) and the SQL reference server as another, then every endpoint's
 * served path and SQL path under autocannon with 1 and 32 connections (`load/`). The benchmark
 * (`pnpm bench e2e`) prints the same table at 1,000,000 invoices.
 *
 * The API process is handed back running: in a terminal the demo leaves it up with the dashboard
 * page, and stops it on Ctrl-C; run by a test or CI (no TTY) it is stopped at once.
 */

import { createSearchClient } from '@ayala/search'
import type { ResourceNames } from '../config.ts'
import { type ServiceAddresses, searchClientOptions } from '../config.ts'
import { indexSearchStats, markdownTable, measureTargets } from '../load/measure.ts'
import { type ServiceProcess, startService } from '../load/processes.ts'
import { buildTargets } from '../load/targets.ts'

/** What {@link loadTable} measured, and the API it leaves running. */
export interface LoadTable {
  markdown: string
  app: ServiceProcess
}

/** Measure the table on the seeded dataset of `addresses` (`count` invoices). */
export async function loadTable(options: {
  addresses: ServiceAddresses
  names: ResourceNames
  count: number
  /** Seconds per run. @default 2 */
  durationS?: number | undefined
  /** The API's port. @default a free one */
  port?: number | undefined
}): Promise<LoadTable> {
  const env = { INVOICING_DATABASE_URL: options.addresses.databaseUrl }
  const sql = await startService('src/cli/sql-server.ts', { env, readyPath: '/invoices/1' })
  let app: ServiceProcess | undefined
  const search = createSearchClient(searchClientOptions(options.addresses))
  try {
    app = await startService('src/main.ts', { env, readyPath: '/invoices/1', port: options.port })
    const appUrl = app.url
    // The aggregator in this process reads the figures the demo's instance already applied
    // (same Redis state): wait until they are SQL's, as the checks above did.
    const deadline = Date.now() + 60_000
    for (;;) {
      const [served, truth] = await Promise.all(
        [appUrl, sql.url].map(async (url) => {
          const body = (await (await fetch(`${url}/dashboard`)).json()) as {
            figures?: Record<string, unknown>
          }
          return body.figures ?? {}
        }),
      )
      if (served !== undefined && served.invoices === truth?.invoices) break
      if (Date.now() > deadline)
        throw new Error('the API process did not catch up with the dashboard in 60 s')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const targets = await buildTargets({ appUrl, sqlUrl: sql.url, invoices: options.count })
    const results = await measureTargets(targets, {
      appUrl,
      connections: [1, 32],
      durationS: options.durationS ?? 2,
      minSamples: 10,
      slowSamples: 3,
      engineStats: () => indexSearchStats(search, options.names.index),
    })
    return { markdown: markdownTable(results), app }
  } catch (error) {
    await app?.stop()
    throw error
  } finally {
    await sql.stop()
    await search.close()
  }
}
