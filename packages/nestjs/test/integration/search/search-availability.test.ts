/**
 * The Nest side of issue 14 for search, on the real OpenSearch node:
 *
 * - a hung engine (a proxy that accepts and never answers) answers `/find` with 503 (typed code,
 *   `Retry-After`) within the search budget, and `/find-or-sql` from its fallback marked degraded;
 *   once healed, the answers equal the engine's again;
 * - credentials and TLS: an authenticating HTTPS proxy of our own (certificate made by openssl)
 *   in front of the node; the health indicator checks through it with basic auth, an API key or
 *   credentials in the URL plus the custom CA, by URL or through the module's client; wrong
 *   credentials are one clear `down` naming the user; no secret appears in any HTTP body or log.
 */
import 'reflect-metadata'
import { createSearchClient, defineIndex, field, type SearchClient } from '@ayala/search'
import {
  type AuthProxy,
  serviceUrls,
  startAuthProxy,
  startTcpProxy,
  type TcpProxy,
  uniqueName,
} from '@ayala/testkit'
import {
  Controller,
  Get,
  type INestApplication,
  Inject,
  type LoggerService,
  Param,
  Query,
  UseFilters,
} from '@nestjs/common'
import { HealthCheck, HealthCheckService } from '@nestjs/terminus'
import { Test } from '@nestjs/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaHealthModule, SearchHealthIndicator } from '../../../src/health/index.js'
import {
  AYALA_SEARCH_CLIENT,
  AyalaSearchModule,
  InjectSearchRepository,
  SearchErrorFilter,
  type SearchRepositoryOf,
} from '../../../src/search/index.js'
import { baseUrl } from '../../helpers/http.js'

const services = serviceUrls()
const PASSWORD = 'S3cret-pw-for-14'
const API_KEY = Buffer.from('key-14:K3y-secret-14').toString('base64')
const SECRETS = [
  PASSWORD,
  encodeURIComponent(PASSWORD),
  Buffer.from(`alice:${PASSWORD}`).toString('base64'),
  Buffer.from('alice:wrong-password-x').toString('base64'),
  'wrong-password-x',
  API_KEY,
  'K3y-secret-14',
]
const BUDGET_MS = 500

const docs = defineIndex({
  name: uniqueName('nest-availability'),
  id: 'id',
  fields: { id: field.keyword(), description: field.text({ analyzer: 'standard' }) },
})

/** Every line the application logs. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = []
  private add(level: string, message: unknown, rest: unknown[]) {
    this.lines.push(
      `${level} ${[message, ...rest].map((m) => (m instanceof Error ? `${m.message} ${m.stack}` : String(m))).join(' ')}`,
    )
  }
  log(message: unknown, ...rest: unknown[]) {
    this.add('log', message, rest)
  }
  error(message: unknown, ...rest: unknown[]) {
    this.add('error', message, rest)
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.add('warn', message, rest)
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.add('debug', message, rest)
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.add('verbose', message, rest)
  }
}

describe('search availability, credentials and TLS through Nest (OpenSearch)', () => {
  let tcp: TcpProxy
  let auth: AuthProxy
  let app: INestApplication
  let url: string
  let authed: SearchClient
  let wrongClient: SearchClient
  const logger = new CapturingLogger()
  const bodies: string[] = []

  beforeAll(async () => {
    tcp = await startTcpProxy({ targetPort: Number(new URL(services.opensearch).port) })
    auth = await startAuthProxy({
      target: services.opensearch,
      users: { alice: PASSWORD },
      apiKeys: [API_KEY],
    })
    const proxied = `https://127.0.0.1:${auth.port}`
    const ca = auth.certificates?.caPem as string
    // Clients through the authenticating proxy: right and wrong credentials.
    authed = createSearchClient({
      node: proxied,
      auth: { username: 'alice', password: PASSWORD },
      tls: { ca },
    })
    wrongClient = createSearchClient({
      node: `https://alice:wrong-password-x@127.0.0.1:${auth.port}`,
      engine: 'opensearch',
      tls: { ca },
    })
    const clients = { authed, wrongClient }

    @Controller()
    @UseFilters(SearchErrorFilter)
    class FindController {
      constructor(@InjectSearchRepository(docs) private readonly repo: SearchRepositoryOf<typeof docs>) {}

      @Get('find')
      async find(@Query('q') q: string) {
        const result = await this.repo.search({ query: this.repo.q.match('description', q) })
        return { ids: result.hits.map((h) => h.id), degraded: result.degraded ?? null }
      }

      @Get('find-or-sql')
      async findOrSql(@Query('q') q: string) {
        const result = await this.repo.search({
          query: this.repo.q.match('description', q),
          fallback: () => ({ hits: [], total: { value: 0, relation: 'eq' } }),
        })
        return { ids: result.hits.map((h) => h.id), degraded: result.degraded ?? null }
      }

      @Get('doc/:id')
      async doc(@Param('id') id: string) {
        return (await this.repo.get(id)) ?? { missing: id }
      }

      @Get('through/:which')
      async through(@Param('which') which: 'authed' | 'wrongClient', @Query('q') q: string) {
        const result = await clients[which].search(docs, { query: docs.q.match('description', q) })
        return { ids: result.hits.map((h) => h.id) }
      }
    }

    @Controller('health')
    class HealthController {
      constructor(
        @Inject(HealthCheckService) private readonly health: HealthCheckService,
        @Inject(SearchHealthIndicator) private readonly search: SearchHealthIndicator,
        @Inject(AYALA_SEARCH_CLIENT) private readonly client: SearchClient,
      ) {}

      @Get('basic')
      @HealthCheck()
      basic() {
        return this.health.check([
          () =>
            this.search.check('search', {
              url: proxied,
              auth: { username: 'alice', password: PASSWORD },
              tls: { ca },
            }),
        ])
      }

      @Get('url-credentials')
      @HealthCheck()
      urlCredentials() {
        const withCredentials = `https://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${auth.port}`
        return this.health.check([() => this.search.check('search', { url: withCredentials, tls: { ca } })])
      }

      @Get('api-key')
      @HealthCheck()
      apiKey() {
        return this.health.check([
          () => this.search.check('search', { url: proxied, auth: { apiKey: API_KEY }, tls: { ca } }),
        ])
      }

      @Get('wrong')
      @HealthCheck()
      wrong() {
        return this.health.check([
          () =>
            this.search.check('search', {
              url: proxied,
              auth: { username: 'alice', password: 'wrong-password-x' },
              tls: { ca },
            }),
        ])
      }

      @Get('no-ca')
      @HealthCheck()
      noCa() {
        return this.health.check([
          () =>
            this.search.check('search', { url: proxied, auth: { username: 'alice', password: PASSWORD } }),
        ])
      }

      @Get('client')
      @HealthCheck()
      viaClient() {
        return this.health.check([() => this.search.check('search', { client: this.client, timeout: '2s' })])
      }

      @Get('client-authed')
      @HealthCheck()
      viaAuthed() {
        return this.health.check([() => this.search.check('search', { client: authed, timeout: '2s' })])
      }

      @Get('client-wrong')
      @HealthCheck()
      viaWrong() {
        return this.health.check([() => this.search.check('search', { client: wrongClient, timeout: '2s' })])
      }
    }

    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaHealthModule,
        AyalaSearchModule.forRoot({
          client: {
            node: `http://127.0.0.1:${tcp.port}`,
            engine: 'opensearch',
            searchTimeout: BUDGET_MS,
            breakerCooldown: '1s',
          },
          indexes: [docs],
          ensureIndexes: true,
        }),
      ],
      controllers: [FindController, HealthController],
    }).compile()
    app = moduleRef.createNestApplication({ logger })
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
    const repoClient = app.get<SearchClient>(AYALA_SEARCH_CLIENT)
    await repoClient.bulk(docs, [
      { id: '1', description: 'reparación del ascensor' },
      { id: '2', description: 'revisión de climatización' },
    ])
  })

  afterAll(async () => {
    await app?.get<SearchClient>(AYALA_SEARCH_CLIENT).deleteIndex(docs.name)
    await app?.close()
    await authed?.close()
    await wrongClient?.close()
    await tcp?.close()
    await auth?.close()
  })

  async function get(path: string, budgetMs?: number) {
    let watchdog: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<'late'>((resolve) => {
      if (budgetMs !== undefined) watchdog = setTimeout(() => resolve('late'), budgetMs)
    })
    const call = fetch(`${url}${path}`).then(async (response) => {
      const text = await response.text()
      bodies.push(text)
      return {
        status: response.status,
        headers: response.headers,
        body: JSON.parse(text) as Record<string, any>,
      }
    })
    const first = await Promise.race([call, late])
    clearTimeout(watchdog)
    return first === 'late' ? { late: true as const, ...(await call) } : { late: false as const, ...first }
  }

  it('answers 503 within the budget while the engine hangs, the fallback marked degraded, then heals', async () => {
    expect((await get('/find?q=ascensor')).body).toEqual({ ids: ['1'], degraded: null })
    tcp.blackhole()
    const answers = []
    // Budget + 500 ms for the HTTP hop: a correct server always answers first.
    for (let i = 0; i < 10; i++)
      answers.push(await get(i % 2 ? '/find?q=ascensor' : '/doc/1', BUDGET_MS + 500))
    expect(answers.filter((a) => a.late)).toHaveLength(0)
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(503))
    expect(answers.every((a) => a.body.code === 'E_SEARCH_UNAVAILABLE' && a.headers.get('retry-after'))).toBe(
      true,
    )
    const degraded = await get('/find-or-sql?q=ascensor', BUDGET_MS + 500)
    expect(degraded.late).toBe(false)
    expect(degraded.status).toBe(200)
    expect(degraded.body.degraded).toMatchObject({ code: 'E_SEARCH_UNAVAILABLE', reason: 'circuit-open' })
    tcp.restore()
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    expect((await get('/find?q=ascensor')).body).toEqual({ ids: ['1'], degraded: null })
    expect((await get('/doc/2')).body).toMatchObject({
      id: '2',
      source: { description: 'revisión de climatización' },
    })
    expect((await get(`/find?q=${'y'.repeat(300)}`)).status).toBe(400)
  }, 60_000)

  it('checks health through an authenticating TLS proxy with basic auth, an API key or URL credentials', async () => {
    for (const path of [
      '/health/basic',
      '/health/api-key',
      '/health/url-credentials',
      '/health/client',
      '/health/client-authed',
    ]) {
      const { status, body } = await get(path)
      expect({ path, status }).toEqual({ path, status: 200 })
      expect(['green', 'yellow']).toContain(body.details.search.clusterStatus)
    }
    expect((await get('/health/client')).body.details.search.breaker).toBe('closed')
  })

  it('reports wrong credentials or a missing CA as one clear down, naming the user', async () => {
    const rejectedBefore = auth.rejected
    const wrong = await get('/health/wrong')
    expect(wrong.status).toBe(503)
    expect(wrong.body.details.search.status).toBe('down')
    expect(wrong.body.details.search.message).toBe(
      `search: https://127.0.0.1:${auth.port} rejected the credentials of user "alice" (HTTP 401)`,
    )
    expect(auth.rejected - rejectedBefore).toBe(1) // one request, no retry loop
    const viaClient = await get('/health/client-wrong')
    expect(viaClient.body.details.search.message).toMatch(
      new RegExp(
        `^search: unauthorized: Search engine at https://127\\.0\\.0\\.1:${auth.port} rejected the credentials of user "alice" \\(HTTP 401`,
      ),
    )
    // Searches through the clients: the right credentials find, the wrong ones are a 503 with E_SEARCH_AUTH.
    expect((await get('/through/authed?q=ascensor')).body).toEqual({ ids: ['1'] })
    const before = auth.rejected
    const refused = []
    for (let i = 0; i < 8; i++) refused.push(await get('/through/wrongClient?q=ascensor'))
    expect(refused.map((r) => [r.status, r.body.code])).toEqual(Array(8).fill([503, 'E_SEARCH_AUTH']))
    expect(auth.rejected - before).toBe(8) // one request per call: no retry loop, and no breaker opened
    expect(wrongClient.readStats().breaker).toBe('closed')
    const noCa = await get('/health/no-ca')
    expect(noCa.status).toBe(503)
    expect(noCa.body.details.search.message).toMatch(
      /^search: unreachable at https:\/\/127\.0\.0\.1:\d+: .*certificate/,
    )
  })

  it('leaves no secret in any body or log line', () => {
    const everything = [...bodies, ...logger.lines].join('\n')
    expect(bodies.length).toBeGreaterThan(25)
    // The filter logged the 503s with the engine's message (redacted), naming the user.
    expect(logger.lines.some((line) => line.includes('E_SEARCH_AUTH') && line.includes('user "alice"'))).toBe(
      true,
    )
    for (const secret of SECRETS)
      expect({ secret, found: everything.includes(secret) }).toEqual({ secret, found: false })
  })
})
