/**
 * docs/getting-started-nestjs.md, run: its app (fixtures/getting-started, which the page shows
 * file for file, checked by the doc-snippet test) installed with npm from the packed packages
 * (`pnpm pack` of each, as from npm) and from the registry, built by its own `tsc`, started as a
 * process with `node dist/main.js` on the real Redis, OpenSearch and Kafka, and every request of
 * the page's "Run it" step sent over HTTP with what the page says it answers: `/health` 200 with
 * its six checks, two invoices created, the second read of one a cache hit, the search and the
 * autocomplete, the SSE dashboard pushing the figures of a PATCH, the PATCHed invoice read fresh,
 * `/metrics` timing the routes and counting (not timing) the stream, and a clean stop on SIGTERM.
 *
 * The app's resources carry one name (APP_NAME, unique per run) and are removed at the end: its
 * index and index template, its three topics and consumer group, its Redis keys.
 *
 * Needs `pnpm build` first and the services (`node services/cli.mjs up`).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, serviceUrls } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { installFixture, packAll, pinnedVersion, run } from '../helpers/packed.js'

const INSTALL_TIMEOUT = 600_000
const services = serviceUrls()
const name = `gs-${randomUUID().slice(0, 8)}`

let tmp: string
let base: string
let app: ChildProcess
let output = ''
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

/** The third-party packages of the page's `npm install`, at the versions the workspace tests. */
function thirdParty(): Record<string, string> {
  return Object.fromEntries(
    [
      '@nestjs/common',
      '@nestjs/core',
      '@nestjs/platform-express',
      '@nestjs/terminus',
      'reflect-metadata',
      'rxjs',
      'ioredis',
      'kafkajs',
      'prom-client',
      'typescript',
      '@types/node',
    ].map((pkg) => [pkg, pinnedVersion(pkg)]),
  )
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (${String(last)})\n--- app output ---\n${output}`)
}

async function json(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}${path}`, init)
  const text = await response.text()
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) }
}

function send(method: string, path: string, body: unknown) {
  return json(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
}

/** The `figures` events of an SSE stream, as they arrive. */
function openStream(path: string) {
  const controller = new AbortController()
  const figures: any[] = []
  const done = (async () => {
    const response = await fetch(`${base}${path}`, { signal: controller.signal })
    const reader = response.body?.getReader()
    if (reader === undefined) throw new Error('no body')
    const decoder = new TextDecoder()
    let buffer = ''
    for (;;) {
      const { value, done: finished } = await reader.read()
      if (finished) return
      buffer += decoder.decode(value, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const lines = block.split('\n')
        const event = lines.find((line) => line.startsWith('event: '))?.slice(7)
        const data = lines.find((line) => line.startsWith('data: '))?.slice(6)
        if (event === 'figures' && data !== undefined) figures.push(JSON.parse(data))
        end = buffer.indexOf('\n\n')
      }
    }
  })().catch((error: unknown) => {
    if ((error as Error).name !== 'AbortError') throw error
  })
  return { figures, close: () => controller.abort(), done }
}

async function metrics(): Promise<string> {
  return (await fetch(`${base}/metrics`)).text()
}

/** The value of one Prometheus series, by its exact name and labels. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ayala-getting-started-'))
  const packed = packAll(join(tmp, 'tarballs'))
  const dir = installFixture(tmp, 'getting-started', packed, thirdParty())
  run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], dir)
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  app = spawn(process.execPath, ['dist/main.js'], {
    cwd: dir,
    env: {
      ...process.env,
      PORT: String(port),
      APP_NAME: name,
      REDIS_URL: services.redis,
      OPENSEARCH_URL: services.opensearch,
      KAFKA_BROKERS: services.kafkaBrokers.join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  app.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  app.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  exited = new Promise((resolve) => app.once('exit', (code, signal) => resolve({ code, signal })))
}, INSTALL_TIMEOUT)

afterAll(async () => {
  if (app !== undefined && app.exitCode === null && app.signalCode === null) {
    app.kill('SIGKILL')
    await exited
  }
  // The app's resources: its index and template, topics and group, Redis keys.
  await fetch(`${services.opensearch}/${name}-invoices`, { method: 'DELETE' }).catch(() => undefined)
  await fetch(`${services.opensearch}/_index_template/ayala-search-${name}-invoices`, {
    method: 'DELETE',
  }).catch(() => undefined)
  const admin = new Kafka({ brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(name))
  if (topics.length > 0) await admin.deleteTopics({ topics })
  await admin.deleteGroups([`${name}-dashboard`]).catch(() => undefined)
  await admin.disconnect()
  const redis = new Redis(services.redis)
  for await (const keys of redis.scanStream({ match: `*${name}*`, count: 500 }) as AsyncIterable<string[]>) {
    if (keys.length > 0) await redis.del(...keys)
  }
  redis.disconnect()
  if (tmp !== undefined && process.env.AYALA_PACK_KEEP !== '1') rmSync(tmp, { recursive: true, force: true })
}, 60_000)

describe('the getting-started app, installed from the tarballs', () => {
  it('answers /health 200 once every dependency answers, with the six checks up', async () => {
    const health = await waitFor(
      '/health 200',
      async () => {
        const answer = await json('/health')
        return answer.status === 200 ? answer.body : undefined
      },
      90_000,
    )
    expect(health.status).toBe('ok')
    expect(Object.keys(health.info).sort()).toEqual([
      'cache',
      'dashboard',
      'dashboard-lag',
      'kafka',
      'redis',
      'search',
    ])
    for (const check of Object.values(health.info) as { status: string }[]) expect(check.status).toBe('up')
  })

  it('creates two invoices and answers the second read of one from the cache', async () => {
    const first = await send('POST', '/invoices', {
      clientName: 'Ferretería Ruiz',
      description: 'Reparación de climatización urgente',
      totalCents: 24_200,
    })
    const second = await send('POST', '/invoices', {
      clientName: 'Panadería Gómez',
      description: 'Mantenimiento del ascensor',
      totalCents: 12_100,
    })
    expect([first.status, second.status]).toEqual([201, 201])
    expect(first.body).toMatchObject({ id: '1', number: 'FAC-2026-00001', status: 'open', version: 1 })
    const before = sample(
      await metrics(),
      `ayala_cache_hits_total{cache="default",namespace="${name}",tier="l1"}`,
    )
    const reads = [await json('/invoices/1'), await json('/invoices/1')]
    expect(reads.map((r) => r.body)).toEqual([first.body, first.body])
    const after = sample(
      await metrics(),
      `ayala_cache_hits_total{cache="default",namespace="${name}",tier="l1"}`,
    )
    expect((after ?? 0) - (before ?? 0)).toBe(1)
    expect((await json('/invoices/99')).status).toBe(404)
    expect((await send('POST', '/invoices', { clientName: 'x' })).status).toBe(400)
  })

  it('finds "climatización" for climatizacion and completes "ferr"', async () => {
    const search = await json('/search?q=climatizacion')
    expect(search.status).toBe(200)
    expect(search.body.total).toBe(1)
    expect(search.body.hits.map((hit: { id: string }) => hit.id)).toEqual(['1'])
    const complete = await json('/search/autocomplete?q=ferr')
    expect(complete.body).toEqual([{ id: '1', text: 'FAC-2026-00001 Ferretería Ruiz' }])
    expect((await json('/search')).status).toBe(400)
  })

  it('pushes the figures of a PATCH over SSE and reads the invoice fresh', async () => {
    const stream = openStream('/dashboard/stream')
    const created = await waitFor(
      'the figures of the two created invoices',
      async () => stream.figures.find((f) => f.figures.invoices === 2 && f.figures.byStatus.open === 2),
      30_000,
    )
    expect(created.figures.amountByStatus).toEqual({ open: 36_300 })
    const paid = await send('PATCH', '/invoices/2', { status: 'paid' })
    expect(paid.body).toMatchObject({ id: '2', status: 'paid', version: 2 })
    const pushed = await waitFor(
      'the figures after the PATCH',
      async () => stream.figures.find((f) => f.figures.byStatus.paid === 1),
      30_000,
    )
    expect(pushed.figures).toEqual({
      invoices: 2,
      byStatus: { open: 1, paid: 1 },
      amountByStatus: { open: 24_200, paid: 12_100 },
    })
    expect(pushed.version).toBeGreaterThan(created.version)
    stream.close()
    await stream.done
    expect((await json('/invoices/2')).body).toMatchObject({ status: 'paid', version: 2 })
    const read = await json('/dashboard')
    expect(read.body).toMatchObject({ status: 'live', figures: pushed.figures })
    expect((await send('PATCH', '/invoices/2', { status: 'lost' })).status).toBe(400)
  })

  it('exports the routes on /metrics, the SSE stream counted and not timed', async () => {
    const text = await waitFor(
      'the closed stream counted',
      async () => {
        const body = await metrics()
        return sample(body, 'ayala_http_streams_total{method="GET",route="/dashboard/stream"}') === 1
          ? body
          : undefined
      },
      10_000,
    )
    const count = (method: string, route: string, status: number) =>
      sample(
        text,
        `ayala_http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`,
      )
    expect(count('GET', '/invoices/:id', 200)).toBe(3)
    expect(count('POST', '/invoices', 201)).toBe(2)
    expect(count('PATCH', '/invoices/:id', 200)).toBe(1)
    expect(count('GET', '/search', 200)).toBe(1)
    expect(text).not.toContain('route="/dashboard/stream",status_code')
  })

  it('stops on SIGTERM, the consumer and clients closed', async () => {
    app.kill('SIGTERM')
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000).unref())
    const result = await Promise.race([exited, timeout])
    expect(result, output).not.toBe('timeout')
    expect(result === 'timeout' ? undefined : (result.code ?? result.signal)).toSatisfy(
      (end: unknown) => end === 0 || end === 'SIGTERM',
    )
    expect(output).toContain('[Consumer] Stopped')
    expect(output).not.toMatch(/\bERROR\b/)
  })
})
