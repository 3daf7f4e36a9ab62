/**
 * Streams are not timed as requests: an SSE route the client leaves after a while, a response
 * written as `text/event-stream` by hand and a long poll named in `streamRoutes` add no latency
 * sample and raise no slow-request alert (they are counted in `http_streams_total`), unless
 * `measureStreams` is on. Each stream lasts longer than the slow-request threshold: the SSE
 * client leaves after the sixth event of a 100 ms interval, the long poll answers after 600 ms.
 */
import 'reflect-metadata'
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  ConsoleLogger,
  Controller,
  Get,
  type INestApplication,
  type MessageEvent,
  Req,
  Res,
  Sse,
} from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { Registry } from 'prom-client'
import { interval, type Observable } from 'rxjs'
import { finalize, map } from 'rxjs/operators'
import { afterEach, describe, expect, it } from 'vitest'
import {
  AyalaMetricsModule,
  PerformanceEvents,
  type PerformanceOptions,
  type RequestEvent,
  type SlowRequestEvent,
} from '../../../src/metrics/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'
import { parsePrometheusText, samples, sampleValue } from '../../helpers/prometheus-parser.js'

/** How many streams have ended on the server side (the handlers' own teardown). */
const ended = { sse: 0, raw: 0 }

@Controller('dashboard')
class DashboardController {
  @Sse('stream')
  stream(): Observable<MessageEvent> {
    return interval(100).pipe(
      map((i) => ({ data: { i } })),
      finalize(() => {
        ended.sse++
      }),
    )
  }

  /** An event stream written by hand: answers when the client goes away. */
  @Get('raw')
  async raw(@Req() request: IncomingMessage, @Res() response: ServerResponse): Promise<void> {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    let i = 0
    const timer = setInterval(() => response.write(`data: {"i":${i++}}\n\n`), 100)
    await new Promise<void>((resolve) => request.once('close', resolve))
    clearInterval(timer)
    response.end()
    ended.raw++
  }

  @Get('jobs/:id/wait')
  async wait(): Promise<{ done: true }> {
    await new Promise((resolve) => setTimeout(resolve, 600))
    return { done: true }
  }

  @Get('figures')
  figures(): { ok: true } {
    return { ok: true }
  }
}

class CapturingLogger extends ConsoleLogger {
  constructor(private readonly warnings: string[]) {
    super()
  }
  override log(): void {
    // Start-up chatter is not under test.
  }
  override warn(message: unknown): void {
    this.warnings.push(String(message))
  }
}

interface Started {
  app: INestApplication
  url: string
  warnings: string[]
  slow: SlowRequestEvent[]
  requests: RequestEvent[]
}

async function start(options: PerformanceOptions): Promise<Started> {
  const warnings: string[] = []
  const slow: SlowRequestEvent[] = []
  const requests: RequestEvent[] = []
  const moduleRef = await Test.createTestingModule({
    imports: [
      AyalaMetricsModule.forRoot({
        registry: new Registry(),
        slowThreshold: '300ms',
        streamRoutes: ['/dashboard/jobs/:id/wait'],
        onSlowRequest: (event) => slow.push(event),
        ...options,
      }),
    ],
    controllers: [DashboardController],
  }).compile()
  const app = moduleRef.createNestApplication({ logger: new CapturingLogger(warnings) })
  app.get(PerformanceEvents).on('request', (event) => requests.push(event))
  await app.listen(0, '127.0.0.1')
  return { app, url: baseUrl(app), warnings, slow, requests }
}

/** Open `path`, read events until one with `i >= lastIndex`, then disconnect. */
async function watchThenLeave(url: string, path: string, lastIndex: number): Promise<void> {
  const controller = new AbortController()
  const response = await fetch(`${url}${path}`, { signal: controller.signal })
  expect(response.headers.get('content-type')).toContain('text/event-stream')
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  const last = () =>
    Math.max(-1, ...[...text.matchAll(/data: ?\{"i":(\d+)\}/g)].map((match) => Number(match[1])))
  while (last() < lastIndex) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`the stream ${path} ended before event ${lastIndex}`)
    text += decoder.decode(value, { stream: true })
  }
  controller.abort()
}

async function metrics(url: string) {
  return parsePrometheusText(await (await fetch(`${url}/metrics`)).text())
}

const duration = 'ayala_http_request_duration_seconds'
const streams = 'ayala_http_streams_total'
const slowTotal = 'ayala_http_slow_requests_total'

describe('performance interceptor: streaming routes', () => {
  let started: Started | undefined

  afterEach(async () => {
    await started?.app.close()
    started = undefined
  })

  it('leaves SSE, hand-written event streams and long polls out of latency and slow-request alerts by default', async () => {
    started = await start({})
    const { url } = started
    const before = { ...ended }
    await watchThenLeave(url, '/dashboard/stream', 5)
    await watchThenLeave(url, '/dashboard/raw', 5)
    expect((await fetch(`${url}/dashboard/jobs/7/wait`)).status).toBe(200)
    expect((await fetch(`${url}/dashboard/figures`)).status).toBe(200)
    await waitFor(
      () => ended.sse === before.sse + 1 && ended.raw === before.raw + 1,
      'both streams torn down on the server',
    )
    await waitFor(async () => {
      const families = await metrics(url)
      return (
        sampleValue(families, streams, streams, { route: '/dashboard/stream' }) === 1 &&
        sampleValue(families, streams, streams, { route: '/dashboard/raw' }) === 1
      )
    }, 'the two event streams counted as ended streams')

    const families = await metrics(url)
    for (const route of ['/dashboard/stream', '/dashboard/raw', '/dashboard/jobs/:id/wait']) {
      expect(samples(families, duration, `${duration}_count`, { route }), route).toEqual([])
      expect(samples(families, slowTotal, slowTotal, { route }), route).toEqual([])
      expect(sampleValue(families, streams, streams, { route, method: 'GET' }), route).toBe(1)
    }
    // An ordinary route next to them is measured as before.
    expect(
      sampleValue(families, duration, `${duration}_count`, {
        route: '/dashboard/figures',
        method: 'GET',
        status_code: '200',
      }),
    ).toBe(1)
    expect(started.warnings.filter((line) => line.startsWith('Slow request'))).toEqual([])
    expect(started.slow).toEqual([])
    expect(started.requests.map((event) => event.route)).toEqual(['/dashboard/figures'])
    // No in-process quantile summary by default: latency is the histogram only.
    expect(families.get('ayala_http_request_duration_quantiles_seconds')).toBeUndefined()
  })

  it('measures streams like any request with measureStreams: true', async () => {
    started = await start({ measureStreams: true })
    const { url } = started
    await watchThenLeave(url, '/dashboard/stream', 5)
    expect((await fetch(`${url}/dashboard/jobs/7/wait`)).status).toBe(200)
    await waitFor(async () => {
      const families = await metrics(url)
      return (
        sampleValue(families, duration, `${duration}_count`, {
          route: '/dashboard/stream',
          method: 'GET',
          status_code: '200',
        }) === 1
      )
    }, 'the SSE route measured once it ended')
    const families = await metrics(url)
    for (const route of ['/dashboard/stream', '/dashboard/jobs/:id/wait']) {
      expect(sampleValue(families, slowTotal, slowTotal, { route, method: 'GET' }), route).toBe(1)
    }
    expect(samples(families, streams, streams, {})).toEqual([])
    expect(started.slow.map((event) => event.route).sort()).toEqual([
      '/dashboard/jobs/:id/wait',
      '/dashboard/stream',
    ])
    expect(
      started.warnings.filter((line) => line.startsWith('Slow request: GET /dashboard/stream 200')),
    ).toHaveLength(1)
  })
})
