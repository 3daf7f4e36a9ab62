#!/usr/bin/env node
/**
 * `ayala-outbox`: look at an outbox table and act on its dead letters.
 *
 *   ayala-outbox lag          --url <database url> [--table ayala_outbox]
 *   ayala-outbox dead-letters --url <database url> [--sink name] [--limit 100]
 *   ayala-outbox replay       --url <database url> [--sink name] [--seq 12 --seq 13]
 *   ayala-outbox purge        --url <database url> [--sink name] [--seq 12]
 *
 * `--url` is `mysql://` / `mariadb://` (through the `mariadb` driver) or `postgres://` (through
 * `pg`); the driver must be installed next to this package. The password may come from
 * `OUTBOX_DATABASE_PASSWORD` instead of the URL. Output is JSON on stdout.
 */
import { parseArgs } from 'node:util'
import { redactText } from './errors.js'
import { createOutbox } from './outbox.js'
import type { SqlRunner } from './sql/runner.js'
import { toRunner } from './sql/runner.js'

const USAGE = `usage: ayala-outbox <lag|dead-letters|replay|purge> --url <database url> [--table name] [--sink name] [--seq n]... [--limit n]`

interface Connection {
  runner: SqlRunner
  close(): Promise<void>
}

async function connect(url: URL, dialect: 'mysql' | 'postgres'): Promise<Connection> {
  const password = process.env.OUTBOX_DATABASE_PASSWORD ?? decodeURIComponent(url.password)
  if (dialect === 'postgres') {
    const pg = (await import('pg')) as unknown as {
      default?: { Client: new (c: object) => PgClient }
      Client?: new (c: object) => PgClient
    }
    const Client = (pg.default?.Client ?? pg.Client) as new (c: object) => PgClient
    const client = new Client({
      host: url.hostname,
      port: Number(url.port || 5432),
      user: decodeURIComponent(url.username || 'postgres'),
      password,
      database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    })
    await client.connect()
    return { runner: toRunner(client, dialect), close: () => client.end() }
  }
  const mariadb = (await import('mariadb')) as unknown as {
    createConnection(c: object): Promise<MariaConnection>
  }
  const connection = await mariadb.createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password,
    database: decodeURIComponent(url.pathname.slice(1)),
  })
  return { runner: toRunner(connection, dialect), close: () => connection.end() }
}

interface PgClient {
  connect(): Promise<void>
  end(): Promise<void>
  query(sql: string, params: unknown[]): Promise<unknown>
}
interface MariaConnection {
  end(): Promise<void>
  query(sql: string, params: unknown[]): Promise<unknown>
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      table: { type: 'string' },
      sink: { type: 'string' },
      seq: { type: 'string', multiple: true },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const command = positionals[0]
  if (values.help || command === undefined || values.url === undefined) {
    process.stderr.write(`${USAGE}\n`)
    return values.help ? 0 : 2
  }
  const url = new URL(values.url)
  const dialect = url.protocol === 'postgres:' || url.protocol === 'postgresql:' ? 'postgres' : 'mysql'
  const outbox = createOutbox({ dialect, table: values.table })
  const seqs = (values.seq ?? []).map(Number)
  const connection = await connect(url, dialect)
  try {
    let result: unknown
    if (command === 'lag') result = await outbox.lag(connection.runner)
    else if (command === 'dead-letters')
      result = await outbox.deadLetters(connection.runner, {
        sink: values.sink,
        limit: values.limit === undefined ? undefined : Number(values.limit),
      })
    else if (command === 'replay')
      result = { replayed: await outbox.replayDeadLetters(connection.runner, { sink: values.sink, seqs }) }
    else if (command === 'purge')
      result = { purged: await outbox.purgeDeadLetters(connection.runner, { sink: values.sink, seqs }) }
    else {
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`)
      return 2
    }
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    return 0
  } finally {
    await connection.close()
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    // Never echo the URL: it may carry a password.
    process.stderr.write(
      `ayala-outbox: ${redactText(error instanceof Error ? error.message : String(error))}\n`,
    )
    process.exitCode = 1
  },
)
