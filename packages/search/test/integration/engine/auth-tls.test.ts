/**
 * Credentials and TLS on both engines, through an authenticating HTTPS proxy of our own in front
 * of each harness node (they run without a security plugin): basic auth, an API key, a bearer
 * token and URL credentials with a custom CA, for the interactive reads, bulk, the admin calls
 * made through `raw()` (ensureIndex) and health; wrong credentials are one clear `E_SEARCH_AUTH`
 * naming the engine and the user, one request per call (no retry loop, no breaker); a missing CA
 * is a connection failure. Every output (messages, inspected errors with their causes, health
 * reports, events) is searched for the secrets. The bulk CLI takes --username/--password (or the
 * environment), --api-key and --ca.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect, promisify } from 'node:util'
import { type AuthProxy, startAuthProxy, uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSearchClient,
  ensureIndex,
  type SearchClient,
  type SearchClientOptions,
  SearchError,
} from '../../../src/index.js'
import { clientFor, ENGINES } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

const run = promisify(execFile)
const cli = join(import.meta.dirname, '..', '..', '..', 'dist', 'cli.js')
const PASSWORD = 'Pw-for-issue-14!'
const API_KEY = Buffer.from('key-14:apikey-secret-14').toString('base64')
const BEARER = 'bearer-token-secret-14'
const WRONG = 'wrong-pass-14'
const SECRETS = [
  PASSWORD,
  encodeURIComponent(PASSWORD),
  Buffer.from(`alice:${PASSWORD}`).toString('base64'),
  WRONG,
  Buffer.from(`alice:${WRONG}`).toString('base64'),
  API_KEY,
  'apikey-secret-14',
  BEARER,
]

/** Everything a user could print of `value`: inspected deeply (causes, meta) and as JSON. */
function outputs(value: unknown): string {
  let json = ''
  try {
    json = JSON.stringify(value)
  } catch {
    json = '(circular)'
  }
  return `${inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: false })}\n${json}\n${value instanceof Error ? value.message : ''}`
}

function leaked(text: string): string[] {
  return SECRETS.filter((secret) => text.includes(secret))
}

describe.each(ENGINES)('credentials and TLS on $engine', ({ engine, node }) => {
  const invoices = basicInvoices(uniqueName('auth'))
  let proxy: AuthProxy
  let ca: string
  let direct: SearchClient
  const printed: string[] = []
  const clients: SearchClient[] = []

  const client = (options: Partial<SearchClientOptions>) => {
    const c = createSearchClient({ node: proxy.url, tls: { ca }, ...options } as SearchClientOptions)
    c.on('slow-query', (event) => printed.push(outputs(event)))
    c.on('breaker', (state) => printed.push(outputs(state)))
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    proxy = await startAuthProxy({
      target: node,
      users: { alice: PASSWORD, reader: PASSWORD },
      forbidden: ['reader'],
      apiKeys: [API_KEY],
      bearers: [BEARER],
    })
    ca = proxy.certificates?.caPem as string
    direct = clientFor(engine)
  })

  afterAll(async () => {
    for (const c of clients) await c.close()
    await direct.deleteIndex(invoices.name)
    await direct.close()
    await proxy.close()
  })

  it('works with basic auth, an API key, a bearer token and URL credentials over TLS with a custom CA', async () => {
    const basic = client({ auth: { username: 'alice', password: PASSWORD }, slowQueryThreshold: 0 })
    expect(await basic.engine()).toBe(engine) // detection through the proxy
    const created = await ensureIndex(basic, invoices) // admin calls through raw()
    expect(created.created).toBe(true)
    const report = await basic.bulk(
      invoices,
      Array.from({ length: 50 }, (_, i) => basicInvoice(i)),
    )
    expect(report).toMatchObject({ indexed: 50, failed: 0 })
    const variants = [
      basic,
      client({ auth: { apiKey: API_KEY }, engine }),
      client({ auth: { bearer: BEARER }, engine }),
      client({
        node: proxy.url.replace('https://', `https://alice:${encodeURIComponent(PASSWORD)}@`),
        engine,
      }),
    ]
    for (const c of variants) {
      const result = await c.search(invoices, { size: 0, trackTotalHits: true })
      expect(result.total?.value).toBe(50)
      expect((await c.get(invoices, basicInvoice(3).id))?.source).toEqual(basicInvoice(3))
      const health = await c.health()
      expect(health.ok).toBe(true)
      printed.push(outputs(health), outputs(c.options), outputs(c))
    }
  })

  it('wrong credentials: one clear E_SEARCH_AUTH naming the engine and user, one request per call', async () => {
    const wrong = client({ auth: { username: 'alice', password: WRONG }, engine })
    const before = proxy.rejected
    const errors: unknown[] = []
    for (let i = 0; i < 10; i++) errors.push(await wrong.search(invoices, {}).catch((e: unknown) => e))
    errors.push(await wrong.bulk(invoices, [basicInvoice(1)]).catch((e: unknown) => e))
    errors.push(await ensureIndex(wrong, invoices).catch((e: unknown) => e))
    expect(proxy.rejected - before).toBe(12)
    for (const error of errors) {
      expect(error).toBeInstanceOf(SearchError)
      expect(error).toMatchObject({ code: 'E_SEARCH_AUTH', status: 401, retriable: false })
      expect((error as Error).message).toMatch(
        new RegExp(
          `^Search engine at https://127\\.0\\.0\\.1:${proxy.port} rejected the credentials of user "alice" \\(HTTP 401`,
        ),
      )
      printed.push(outputs(error))
    }
    expect(wrong.readStats()).toMatchObject({ breaker: 'closed', unavailable: 0 })
    const health = await wrong.health()
    expect(health).toMatchObject({ ok: false, status: 'unauthorized', error: { code: 'E_SEARCH_AUTH' } })
    printed.push(outputs(health))
    // Auto-detection with wrong credentials fails the same way, and so does a forbidden user (403).
    const auto = client({ node: proxy.url.replace('https://', `https://alice:${WRONG}@`) })
    const detected = await auto.search(invoices, {}).catch((e: unknown) => e)
    expect(detected).toMatchObject({ code: 'E_SEARCH_AUTH' })
    printed.push(outputs(detected))
    const forbidden = client({ auth: { username: 'reader', password: PASSWORD }, engine })
    const denied = await forbidden.search(invoices, {}).catch((e: unknown) => e)
    expect(denied).toMatchObject({ code: 'E_SEARCH_AUTH', status: 403 })
    expect((denied as Error).message).toContain('denied the request of user "reader"')
    printed.push(outputs(denied))
    // A fallback answers a search whose credentials are refused, marked degraded.
    const degraded = await wrong.search(invoices, { fallback: () => ({ hits: [] }) })
    expect(degraded.degraded).toMatchObject({ reason: 'auth', code: 'E_SEARCH_AUTH' })
    printed.push(outputs(degraded))
  })

  it('without the CA: a connection failure, typed, with no secret', async () => {
    const noCa = createSearchClient({
      node: proxy.url,
      auth: { username: 'alice', password: PASSWORD },
      engine,
    })
    clients.push(noCa)
    const error = await noCa.search(invoices, {}).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'E_SEARCH_UNAVAILABLE', reason: 'connection' })
    expect((error as Error).message).toMatch(/certificate/)
    printed.push(outputs(error), outputs(await noCa.health()))
  })

  it('the bulk CLI takes --username and AYALA_SEARCH_PASSWORD, --api-key, --ca; wrong ones end in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ayala-cli-auth-'))
    try {
      const file = join(dir, 'docs.ndjson')
      const caFile = join(dir, 'ca.pem')
      writeFileSync(caFile, ca)
      writeFileSync(
        file,
        `${Array.from({ length: 30 }, (_, i) => JSON.stringify(basicInvoice(100 + i))).join('\n')}\n`,
      )
      const base = [cli, '--node', proxy.url, '--index', invoices.name, '--ca', caFile, '--quiet']
      const env = { ...process.env, AYALA_SEARCH_PASSWORD: PASSWORD }
      const ok = await run(process.execPath, [...base, '--username', 'alice', file], { env })
      expect(JSON.parse(ok.stdout)).toMatchObject({ read: 30, indexed: 30, failed: 0 })
      const keyed = await run(process.execPath, [...base, file], {
        env: { ...process.env, AYALA_SEARCH_API_KEY: API_KEY },
      })
      expect(JSON.parse(keyed.stdout)).toMatchObject({ indexed: 30 })
      const failures = []
      for (const [args, extra] of [
        [[...base, '--username', 'alice', file], { AYALA_SEARCH_PASSWORD: WRONG }],
        [[...base, '--username', 'alice', '--password', WRONG, file], {}],
        [
          [
            cli,
            '--node',
            proxy.url.replace('https://', `https://alice:${WRONG}@`),
            '--index',
            invoices.name,
            '--ca',
            caFile,
            file,
          ],
          {},
        ],
      ] as const) {
        const failed = await run(process.execPath, [...args], { env: { ...process.env, ...extra } }).then(
          () => {
            throw new Error('expected exit code 2')
          },
          (error: { code: number; stdout: string; stderr: string }) => error,
        )
        expect(failed.code).toBe(2)
        expect(failed.stderr.trim().split('\n')).toHaveLength(1)
        expect(failed.stderr).toMatch(
          /^ayala-search-bulk: E_SEARCH_AUTH: Search engine at https:\/\/127\.0\.0\.1:\d+ rejected the credentials of user "alice"/,
        )
        failures.push(failed.stdout, failed.stderr)
      }
      printed.push(ok.stdout, ok.stderr, keyed.stdout, keyed.stderr, ...failures)
      await direct.refresh(invoices.name)
      expect((await direct.search(invoices, { size: 0, trackTotalHits: true })).total?.value).toBe(80)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it('no secret appears in any output', () => {
    expect(printed.length).toBeGreaterThan(25)
    expect(leaked(printed.join('\n'))).toEqual([])
  })
})
