/**
 * Start the application: read which dataset generation the database holds (the names of its
 * Redis namespace, topic and index follow from it), then create and start the Nest app.
 */
import 'reflect-metadata'
import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { INestApplication, LogLevel } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { createConnection } from 'mariadb'
import { AppModule } from './app.module.ts'
import { type DashboardSource, dashboardSource, resourceNames, type ServiceAddresses } from './config.ts'
import { poolConfig } from './database/connection.ts'
import type { AppSettings } from './infrastructure.ts'

/**
 * The generation recorded by the last seed; throws when the database was never seeded, or with
 * one line naming the server and the user (never the password) when it cannot be read.
 */
export async function readGeneration(databaseUrl: string): Promise<string> {
  const { connectionLimit: _, ...config } = poolConfig(databaseUrl)
  let db: Awaited<ReturnType<typeof createConnection>>
  try {
    db = await createConnection(config)
  } catch (error) {
    throw new Error(
      `cannot read the dataset generation from MariaDB at ${config.host}:${config.port} as user "${config.user}" (${(error as Error).message}); set INVOICING_GENERATION to start without the database`,
    )
  }
  try {
    const [row] = (await db.query('SELECT generation FROM dataset WHERE id = 1')) as Array<{
      generation: string
    }>
    if (row === undefined) throw new Error('the database holds no dataset: run `pnpm run seed` first')
    return row.generation
  } finally {
    await db.end()
  }
}

/** `INVOICING_AGGREGATOR`: `on` (or unset) or `off`; anything else stops the start. */
function aggregatorFromEnv(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'on') return true
  if (value === 'off') return false
  throw new Error(`INVOICING_AGGREGATOR must be on or off, got "${value}"`)
}

/** Options of {@link startApp}. */
export interface StartOptions {
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number | undefined
  /** Nest log levels; false: silent. @default ['error', 'warn', 'log'] */
  logger?: LogLevel[] | false | undefined
  /** Slow-request threshold in ms. */
  slowThresholdMs?: number | undefined
  /** This instance's stable name (see `AppSettings.instanceId`). @default `INSTANCE_ID` or random */
  instanceId?: string | undefined
  /**
   * Run the dashboard's aggregator here (see `AppSettings.aggregator`).
   * @default true, unless `INVOICING_AGGREGATOR=off`
   */
  aggregator?: boolean | undefined
  /**
   * Where the dashboard's figures come from (see `AppSettings.dashboardSource`).
   * @default `INVOICING_DASHBOARD_SOURCE`, else 'embedded'
   */
  dashboardSource?: DashboardSource | undefined
}

/** A started application and its base URL. */
export interface StartedApp {
  app: INestApplication
  url: string
  settings: AppSettings
}

/** Create the app for the database's current dataset and listen on 127.0.0.1. */
export async function startApp(addresses: ServiceAddresses, options: StartOptions = {}): Promise<StartedApp> {
  const settings: AppSettings = {
    addresses,
    // Given (INVOICING_GENERATION), the database is not needed to start: down or refusing the
    // credentials, the application starts and /health says so.
    names: resourceNames(addresses.generation ?? (await readGeneration(addresses.databaseUrl))),
    slowThresholdMs: options.slowThresholdMs,
    instanceId: options.instanceId ?? (process.env.INSTANCE_ID || undefined),
    aggregator: options.aggregator ?? aggregatorFromEnv(process.env.INVOICING_AGGREGATOR),
    dashboardSource: options.dashboardSource ?? dashboardSource(process.env),
  }
  const app = await NestFactory.create(AppModule.forRoot(settings), {
    logger: options.logger ?? ['error', 'warn', 'log'],
    // Keep each JSON body's bytes (`req.rawBody`): the input checks refuse invalid UTF-8, which
    // the parser would have turned into U+FFFD (see validation/input.ts).
    rawBody: true,
  })
  app.enableShutdownHooks()
  await app.listen(options.port ?? 0, '127.0.0.1')
  const server = app.getHttpServer() as Server
  // Node drops a CONNECT without a word when nothing listens for it: this API is no proxy, say so.
  // The socket is the handler's from here on: drain what the client still sends (a paused socket
  // would never see the client's FIN and would hold `app.close()` forever), close it after 5 s
  // at the latest, and treat a reset as the client leaving.
  server.on('connect', (_request: unknown, socket: Duplex) => {
    const timer = setTimeout(() => socket.destroy(), 5_000).unref()
    socket.once('close', () => clearTimeout(timer))
    socket.once('error', () => socket.destroy())
    socket.resume()
    socket.end(
      'HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, POST, PATCH, DELETE\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    )
  })
  const address = server.address() as { port: number }
  return { app, url: `http://127.0.0.1:${address.port}`, settings }
}
