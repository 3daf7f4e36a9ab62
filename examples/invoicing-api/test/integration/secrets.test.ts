/**
 * Secrets never leave, end to end (issue 14). The example runs with credentials on every service,
 * all read from the environment by `serviceAddresses(env)`:
 *
 * - Redis: a private `redis-server` serving TLS only (certificates made with openssl at test
 *   time) with an ACL user (`REDIS_URL=rediss://user:password@...`, `REDIS_CA_FILE`);
 * - Kafka: the harness's SASL_SSL listener, SCRAM-SHA-256 (`KAFKA_SASL_*`, `KAFKA_SSL_CA`);
 * - the search engine: OpenSearch behind an authenticating TLS proxy of our own
 *   (`SEARCH_USERNAME`, `SEARCH_PASSWORD`, `SEARCH_CA_FILE`);
 * - MariaDB: a user with a password created for the test (`INVOICING_DATABASE_URL`).
 *
 * The seed and the app go through all of it; a write reaches the search index and the dashboard;
 * then every HTTP body (every endpoint, `/health` and `/metrics` included), every line the
 * process writes and every error event is searched for every secret (raw, URL-encoded, base64):
 * 0 occurrences. Then a wrong password per service, one at a time: the app starts and answers,
 * `/health` names that service down, and no secret, right or wrong, is printed.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import {
  type AuthProxy,
  makeTestCertificates,
  type PrivateRedis,
  serviceUrls,
  startAuthProxy,
  startPrivateRedis,
  type TestCertificates,
} from '@ayala/testkit'
import type { INestApplication } from '@nestjs/common'
import { createConnection } from 'mariadb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ResourceNames, ServiceAddresses } from '../../src/config.ts'
import { dropDatabase, EXAMPLE_ROOT } from '../helpers/dataset.ts'

const INVOICES = 150
const tag = randomBytes(3).toString('hex')
const REDIS_USER = 'invoicing'
const SEARCH_USER = 'searcher'
const DB_USER = `inv_${tag}`
const secret = (name: string) => `${name}-${randomBytes(9).toString('base64url')}!`
const PASSWORDS = {
  redis: secret('redis'),
  search: secret('search'),
  database: secret('db'),
}
const WRONG = {
  redis: secret('wrong-redis'),
  kafka: secret('wrong-kafka'),
  search: secret('wrong-search'),
  database: secret('wrong-db'),
}

const urls = serviceUrls()
const kafka = (() => {
  const listener = urls.kafkaSaslSsl
  if (listener === undefined)
    throw new Error(
      "the harness's Kafka SASL_SSL listener is not known: run node services/cli.mjs up (restart kafka if it predates it)",
    )
  return listener
})()

/** Every form a secret takes in output: raw, URL-encoded, in a basic `Authorization` value. */
function forms(): Array<[string, string]> {
  const out: Array<[string, string]> = []
  const add = (name: string, value: string, user?: string) => {
    out.push([name, value], [`${name} (url-encoded)`, encodeURIComponent(value)])
    if (user !== undefined) out.push([`${name} (basic)`, Buffer.from(`${user}:${value}`).toString('base64')])
  }
  add('redis password', PASSWORDS.redis, REDIS_USER)
  add('search password', PASSWORDS.search, SEARCH_USER)
  add('database password', PASSWORDS.database, DB_USER)
  add('kafka password', kafka.password, kafka.username)
  for (const [service, value] of Object.entries(WRONG)) add(`wrong ${service} password`, value)
  return out
}

/** What a run printed and answered. */
class Capture {
  readonly chunks: string[] = []
  readonly errors: unknown[] = []
  private readonly writes = { out: process.stdout.write, err: process.stderr.write }
  private readonly onError = (error: unknown) => this.errors.push(error)

  start(): void {
    const tee =
      (stream: NodeJS.WriteStream, original: typeof process.stdout.write) =>
      (chunk: unknown, ...rest: unknown[]): boolean => {
        this.chunks.push(String(chunk))
        return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest)
      }
    process.stdout.write = tee(process.stdout, this.writes.out) as typeof process.stdout.write
    process.stderr.write = tee(process.stderr, this.writes.err) as typeof process.stderr.write
    process.on('uncaughtException', this.onError)
    process.on('unhandledRejection', this.onError)
    process.on('warning', this.onError)
  }

  stop(): void {
    process.stdout.write = this.writes.out
    process.stderr.write = this.writes.err
    process.off('uncaughtException', this.onError)
    process.off('unhandledRejection', this.onError)
    process.off('warning', this.onError)
  }

  /** The secrets (by name) found in the captured output, bodies and errors. */
  leaks(bodies: readonly string[]): string[] {
    const everything = [
      ...this.chunks,
      ...bodies,
      ...this.errors.map((e) => (e instanceof Error ? `${e.stack} ${JSON.stringify(e)}` : String(e))),
    ].join('\n')
    return forms()
      .filter(([, value]) => everything.includes(value))
      .map(([name]) => name)
  }
}

/** The app's environment: every credential of the test, one of them wrong if asked. */
function environment(
  certs: { redisCa: string; searchCa: string; redisPort: number; searchUrl: string; database: string },
  wrong?: keyof typeof WRONG,
): NodeJS.ProcessEnv {
  const pw = (service: keyof typeof WRONG, right: string) =>
    encodeURIComponent(wrong === service ? WRONG[service] : right)
  return {
    INVOICING_DATABASE_URL: `mysql://${DB_USER}:${pw('database', PASSWORDS.database)}@127.0.0.1:3306/${certs.database}`,
    REDIS_URL: `rediss://${REDIS_USER}:${pw('redis', PASSWORDS.redis)}@127.0.0.1:${certs.redisPort}`,
    REDIS_CA_FILE: certs.redisCa,
    OPENSEARCH_URL: certs.searchUrl,
    SEARCH_USERNAME: SEARCH_USER,
    SEARCH_PASSWORD: wrong === 'search' ? WRONG.search : PASSWORDS.search,
    SEARCH_CA_FILE: certs.searchCa,
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_SASL_MECHANISM: kafka.mechanism,
    KAFKA_SASL_USERNAME: kafka.username,
    KAFKA_SASL_PASSWORD: wrong === 'kafka' ? WRONG.kafka : kafka.password,
    KAFKA_SSL_CA: kafka.caFile,
  }
}

/** What `/health` says of the service whose password is wrong. */
const REASONS = {
  redis: `rejected the credentials of user "${REDIS_USER}"`,
  kafka: 'Kafka refused the SASL credentials (SASL SCRAM SHA256 authentication failed',
  search: `rejected the credentials of user "${SEARCH_USER}"`,
  database: `refused user "${DB_USER}"`,
}

interface Answer {
  path: string
  status: number
  text: string
}

describe('the example with credentials on every service', () => {
  let certs: TestCertificates
  let redis: PrivateRedis
  let proxy: AuthProxy
  let database: string
  let env: Parameters<typeof environment>[0]
  let addresses: ServiceAddresses
  let names: ResourceNames
  let bootstrap: typeof import('../../src/bootstrap.ts')
  let config: typeof import('../../src/config.ts')
  let seedModule: typeof import('../../src/seed/seed.ts')
  const rootUrl = new URL(serviceUrls().database)

  async function root() {
    return createConnection({
      host: rootUrl.hostname,
      port: Number(rootUrl.port || 3306),
      user: decodeURIComponent(rootUrl.username || 'root'),
      password: decodeURIComponent(rootUrl.password),
    })
  }

  beforeAll(async () => {
    await promisify(execFile)('pnpm', ['run', 'generate'], { cwd: EXAMPLE_ROOT, timeout: 120_000 })
    bootstrap = await import('../../src/bootstrap.ts')
    config = await import('../../src/config.ts')
    seedModule = await import('../../src/seed/seed.ts')
    const { migrate } = await import('../../src/database/migrate.ts')
    certs = makeTestCertificates()
    redis = await startPrivateRedis({ tls: certs, users: { [REDIS_USER]: PASSWORDS.redis } })
    proxy = await startAuthProxy({ target: urls.opensearch, users: { [SEARCH_USER]: PASSWORDS.search } })
    // The database and its user: the schema by the administrator, the rest as the application.
    database = `ayala_invoicing_secrets_${tag}`
    const rootDatabaseUrl = new URL(rootUrl)
    rootDatabaseUrl.pathname = `/${database}`
    await migrate(rootDatabaseUrl.toString())
    const admin = await root()
    try {
      for (const host of ['127.0.0.1', 'localhost', '%']) {
        await admin.query(`CREATE USER '${DB_USER}'@'${host}' IDENTIFIED BY ?`, [PASSWORDS.database])
        await admin.query(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO '${DB_USER}'@'${host}'`)
      }
    } finally {
      await admin.end()
    }
    const caFile = proxy.certificates?.caFile
    if (caFile === undefined) throw new Error('the proxy serves TLS: it has certificates')
    env = { redisCa: certs.caFile, searchCa: caFile, redisPort: redis.port, searchUrl: proxy.url, database }
    addresses = config.serviceAddresses(environment(env))
    // The seed goes through every credential too.
    names = (await seedModule.seed(addresses, { count: INVOICES, log: () => undefined })).names
  })

  afterAll(async () => {
    if (names !== undefined) await seedModule.dropResources(addresses, names, () => undefined)
    await proxy?.close()
    await redis?.dispose()
    certs?.remove()
    const admin = await root()
    try {
      for (const host of ['127.0.0.1', 'localhost', '%'])
        await admin.query(`DROP USER IF EXISTS '${DB_USER}'@'${host}'`).catch(() => undefined)
    } finally {
      await admin.end()
    }
    if (database !== undefined) {
      const url = new URL(rootUrl)
      url.pathname = `/${database}`
      await dropDatabase(url.toString())
    }
  })

  /** Start the app on `env`, run `body` against it, stop it; everything captured. */
  async function run(
    runEnv: NodeJS.ProcessEnv,
    body: (get: (path: string, init?: RequestInit) => Promise<Answer>) => Promise<void>,
    options: { generation?: string } = {},
  ): Promise<{ answers: Answer[]; capture: Capture }> {
    const capture = new Capture()
    const answers: Answer[] = []
    capture.start()
    let app: INestApplication | undefined
    try {
      const runAddresses = config.serviceAddresses({ ...runEnv, INVOICING_GENERATION: options.generation })
      const started = await bootstrap.startApp(runAddresses, { logger: ['error', 'warn', 'log'] })
      app = started.app
      const get = async (path: string, init?: RequestInit): Promise<Answer> => {
        const response = await fetch(`${started.url}${path}`, {
          ...init,
          signal: AbortSignal.timeout(20_000),
        })
        const answer = { path, status: response.status, text: await response.text() }
        answers.push(answer)
        return answer
      }
      await body(get)
    } finally {
      await app?.close()
      capture.stop()
    }
    return { answers, capture }
  }

  /** Every endpoint once (the SSE stream's first event only). */
  async function everyEndpoint(get: (path: string, init?: RequestInit) => Promise<Answer>): Promise<void> {
    for (const path of [
      '/health',
      '/metrics',
      '/invoices/1',
      `/invoices/${INVOICES + 1}`,
      '/search?q=climatizacion',
      '/autocomplete?q=consultoria',
      '/dashboard',
      '/reports/monthly',
    ])
      await get(path)
    await get('/invoices/2', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'lost' }),
    })
  }

  it('serves every endpoint through every credential, and prints none of them', async () => {
    const { answers, capture } = await run(environment(env), async (get) => {
      const health = await get('/health')
      const details = JSON.parse(health.text).details as Record<string, { status: string }>
      expect(
        Object.fromEntries(['database', 'redis', 'search', 'kafka'].map((k) => [k, details[k]?.status])),
      ).toEqual({ database: 'up', redis: 'up', search: 'up', kafka: 'up' })
      // A write through every copy: the outbox indexes it (search proxy) and publishes it
      // (Kafka SASL_SSL); the aggregator applies it into Redis (TLS, ACL user).
      const patched = await get('/invoices/3', {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ description: 'Revisión anual del montacargas de Soria' }),
      })
      expect(patched.status).toBe(200)
      const deadline = Date.now() + 90_000
      let found = 0
      while (Date.now() < deadline && found === 0) {
        found = (JSON.parse((await get('/search?q=montacargas%20soria')).text) as { total: number }).total
        if (found === 0) await new Promise((resolve) => setTimeout(resolve, 250))
      }
      expect(found).toBe(1)
      let invoices = 0
      while (Date.now() < deadline && invoices !== INVOICES) {
        invoices = (JSON.parse((await get('/dashboard')).text) as { figures: { invoices: number } }).figures
          .invoices
        if (invoices !== INVOICES) await new Promise((resolve) => setTimeout(resolve, 250))
      }
      expect(invoices).toBe(INVOICES)
      await everyEndpoint(get)
      expect((await get('/health')).status).toBe(200)
    })
    expect(answers.filter((a) => a.status >= 500).map((a) => `${a.path} ${a.status}`)).toEqual([])
    expect(proxy.rejected).toBe(0)
    expect(capture.leaks(answers.map((a) => a.text))).toEqual([])
    console.log(
      `all credentials: ${answers.length} answers, ${capture.chunks.length} output chunks, ${capture.errors.length} error events, 0 secrets`,
    )
  }, 240_000)

  for (const service of ['redis', 'kafka', 'search', 'database'] as const) {
    it(`a wrong ${service} password: the app answers, /health names ${service} down, no secret printed`, async () => {
      const { answers, capture } = await run(
        environment(env, service),
        async (get) => {
          const health = await get('/health')
          expect(health.status).toBe(503)
          const details = JSON.parse(health.text).details as Record<
            string,
            { status: string; message?: string }
          >
          expect(details[service]?.status).toBe('down')
          // One clear reason, naming the user (Kafka's names the mechanism), never the password.
          expect(details[service]?.message).toContain(REASONS[service])
          for (const other of ['database', 'redis', 'search', 'kafka'].filter((s) => s !== service))
            expect({ other, status: details[other]?.status }).toEqual({ other, status: 'up' })
          await everyEndpoint(get)
          console.log(`wrong ${service}: /health ${service}: ${details[service]?.message}`)
        },
        // The database refusing the login cannot tell the app which dataset it serves.
        service === 'database' ? { generation: names.generation } : {},
      )
      console.log(
        `wrong ${service}: ${answers.map((a) => `${a.path.split('?')[0]} ${a.status}`).join(', ')}; ${capture.errors.length} error events`,
      )
      expect(capture.leaks(answers.map((a) => a.text))).toEqual([])
      // A dependency refusing the credentials is never a 500 (the database too: 503 from the
      // example's DatabaseErrorFilter).
      expect(answers.filter((a) => a.status >= 500 && a.status !== 503).map((a) => a.path)).toEqual([])
      expect(
        capture.errors.filter((e) => !(e instanceof Error && e.name === 'TimeoutNegativeWarning')),
      ).toEqual([])
    }, 120_000)
  }
})
