/**
 * The example with credentials on its search engine (issue 14): `OPENSEARCH_URL`-style
 * `http://alice:<password>@host` pointing at an authenticating proxy of our own in front of
 * OpenSearch (the harness node has no security plugin). The app starts (index ensured through the
 * proxy), `/health` reports the engine up (the indicator used to fetch the URL bare, fail, and
 * print the password in the public body), searches and the outbox's index writes go through, and
 * no HTTP body (`/health`, `/search`, `/autocomplete`, `/metrics`) nor any log line carries the
 * password in any form.
 */
import { type AuthProxy, startAuthProxy } from '@ayala/testkit'
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceAddresses } from '../../src/config.ts'
import type { Database } from '../../src/database/connection.ts'
import type { SearchAnswer } from '../../src/search/search.controller.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const PASSWORD = 'Example-pw-14!'
const SECRETS = [PASSWORD, encodeURIComponent(PASSWORD), Buffer.from(`alice:${PASSWORD}`).toString('base64')]

describe('invoicing API with credentials on the search engine', () => {
  let addresses: ServiceAddresses
  let app: INestApplication | undefined
  let url: string
  let db: Database
  let proxy: AuthProxy
  let sql: typeof import('../../src/cli/reference-queries.ts')
  let dispose: (() => Promise<void>) | undefined
  const outputs: string[] = []
  const writes = { out: process.stdout.write, err: process.stderr.write }

  async function get(path: string) {
    const response = await fetch(`${url}${path}`)
    const text = await response.text()
    outputs.push(text)
    return { status: response.status, text }
  }

  beforeAll(async () => {
    ;({ addresses, db, sql, dispose } = await provisionDataset('credentials', 200))
    const { startApp } = await import('../../src/bootstrap.ts')
    proxy = await startAuthProxy({ target: addresses.searchUrl, tls: false, users: { alice: PASSWORD } })
    // Every line the application writes (Nest's logger prints to stdout/stderr).
    const capture =
      (original: typeof process.stdout.write) =>
      (chunk: unknown, ...rest: unknown[]): boolean => {
        outputs.push(String(chunk))
        return (original as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest)
      }
    process.stdout.write = capture(writes.out) as typeof process.stdout.write
    process.stderr.write = capture(writes.err) as typeof process.stderr.write
    const credentialed = `http://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${proxy.port}`
    const started = await startApp(
      { ...addresses, searchUrl: credentialed },
      { logger: ['error', 'warn', 'log'] },
    )
    app = started.app
    url = started.url
  })

  afterAll(async () => {
    await app?.close()
    process.stdout.write = writes.out
    process.stderr.write = writes.err
    await proxy?.close()
    await dispose?.()
  })

  it('reports the engine up on /health and searches through the credentials', async () => {
    const health = await get('/health')
    const search = JSON.parse(health.text).details?.search
    expect(search).toMatchObject({ status: 'up' })
    const answer = await get('/search?q=climatizacion')
    expect(answer.status).toBe(200)
    expect((JSON.parse(answer.text) as SearchAnswer).total).toBe(
      (await sql.sqlSearch(db.prisma, 'climatizacion')).total,
    )
    expect((await get('/autocomplete?q=consultoria')).status).toBe(200)
    expect(proxy.forwarded).toBeGreaterThan(0)
    expect(proxy.rejected).toBe(0)
  })

  it('indexes writes through the credentials (the outbox relay)', async () => {
    const response = await fetch(`${url}/invoices/3`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'Sustitución del montacargas de Teruel' }),
    })
    expect(response.status).toBe(200)
    const deadline = Date.now() + 90_000
    let found: SearchAnswer | undefined
    while (Date.now() < deadline) {
      found = JSON.parse((await get('/search?q=montacargas%20teruel')).text) as SearchAnswer
      if (found.total > 0) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(found?.hits.map((hit) => hit.id)).toEqual([3])
  }, 120_000)

  it('leaves the password in no body, /metrics or log line', async () => {
    await get('/metrics')
    expect(outputs.length).toBeGreaterThan(5)
    const everything = outputs.join('\n')
    for (const secret of SECRETS)
      expect({ secret, found: everything.includes(secret) }).toEqual({ secret, found: false })
  })
})
