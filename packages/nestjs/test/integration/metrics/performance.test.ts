import 'reflect-metadata'
import {
  ConsoleLogger,
  Controller,
  Get,
  HttpCode,
  type INestApplication,
  Inject,
  Injectable,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaMetricsModule, PerformanceEvents, type SlowRequestEvent } from '../../../src/metrics/index.js'
import { baseUrl } from '../../helpers/http.js'
import { parsePrometheusText, samples, sampleValue } from '../../helpers/prometheus-parser.js'

@Injectable()
class Clock {
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms))
  }
}

@Controller('invoices')
class InvoicesController {
  constructor(@Inject(Clock) private readonly clock: Clock) {}

  @Get('slow')
  async slow(): Promise<{ ok: true }> {
    await this.clock.sleep(2_300)
    return { ok: true }
  }

  @Get(':id')
  find(@Param('id') id: string): { id: string } {
    if (id === 'missing') throw new NotFoundException()
    return { id }
  }

  @Post()
  @HttpCode(202)
  create(): { accepted: true } {
    return { accepted: true }
  }

  @Get('boom/now')
  boom(): never {
    throw new Error('boom')
  }
}

/** A Nest logger that keeps warnings (and drops the rest). */
class CapturingLogger extends ConsoleLogger {
  constructor(private readonly warnings: Array<{ message: string; context: string | undefined }>) {
    super()
  }
  override log(): void {
    // Start-up chatter is not under test.
  }
  override error(): void {
    // The 500 route's error is expected; its status is asserted through the metrics.
  }
  override warn(message: unknown, context?: string): void {
    this.warnings.push({ message: String(message), context })
  }
}

describe('AyalaMetricsModule: performance interceptor and Prometheus endpoint', () => {
  let app: INestApplication
  let url: string
  const registry = new Registry()
  const callbackEvents: SlowRequestEvent[] = []
  const emittedEvents: SlowRequestEvent[] = []
  const warnings: Array<{ message: string; context: string | undefined }> = []

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaMetricsModule.forRoot({
          registry,
          // Generous, so that no fast request crosses it on a loaded machine.
          slowThreshold: '2s',
          // The in-process summary is off by default now; on here, as an opt-in.
          quantiles: [0.5, 0.95, 0.99],
          onSlowRequest: (event) => callbackEvents.push(event),
        }),
      ],
      controllers: [InvoicesController],
      providers: [Clock],
    }).compile()
    app = moduleRef.createNestApplication({ logger: new CapturingLogger(warnings) })
    app.get(PerformanceEvents).on('slow-request', (event) => emittedEvents.push(event))
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
  })

  afterAll(async () => {
    await app?.close()
  })

  it('records a histogram per route pattern and status, quantiles, and slow requests', async () => {
    for (const id of ['1', '2', '3']) expect((await fetch(`${url}/invoices/${id}`)).status).toBe(200)
    expect((await fetch(`${url}/invoices/missing`)).status).toBe(404)
    expect((await fetch(`${url}/invoices`, { method: 'POST' })).status).toBe(202)
    expect((await fetch(`${url}/invoices/boom/now`)).status).toBe(500)
    expect((await fetch(`${url}/invoices/slow`)).status).toBe(200)

    const response = await fetch(`${url}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/plain')
    const families = parsePrometheusText(await response.text())

    const duration = 'ayala_http_request_duration_seconds'
    expect(families.get(duration)?.type).toBe('histogram')
    const count = (route: string, method: string, status: string) =>
      sampleValue(families, duration, `${duration}_count`, { route, method, status_code: status })
    // The route label is the pattern, never the raw URL.
    expect(count('/invoices/:id', 'GET', '200')).toBe(3)
    expect(count('/invoices/:id', 'GET', '404')).toBe(1)
    expect(count('/invoices', 'POST', '202')).toBe(1)
    expect(count('/invoices/boom/now', 'GET', '500')).toBe(1)
    expect(count('/invoices/slow', 'GET', '200')).toBe(1)
    expect(samples(families, duration, `${duration}_count`, { route: '/invoices/1' })).toEqual([])

    // Buckets are cumulative and end with +Inf equal to the count.
    const buckets = samples(families, duration, `${duration}_bucket`, {
      route: '/invoices/:id',
      method: 'GET',
      status_code: '200',
    })
    expect(buckets.at(-1)?.labels.le).toBe('+Inf')
    expect(buckets.at(-1)?.value).toBe(3)
    for (let i = 1; i < buckets.length; i++) {
      expect(buckets[i]?.value).toBeGreaterThanOrEqual(buckets[i - 1]?.value ?? 0)
    }
    // The slow request (2.3 s) is not in the 1 s bucket.
    const slowBuckets = samples(families, duration, `${duration}_bucket`, { route: '/invoices/slow' })
    expect(slowBuckets.find((b) => b.labels.le === '1')?.value).toBe(0)

    const quantiles = 'ayala_http_request_duration_quantiles_seconds'
    expect(families.get(quantiles)?.type).toBe('summary')
    const q = samples(families, quantiles, quantiles, { route: '/invoices/:id', method: 'GET' })
    expect(q.map((s) => s.labels.quantile).sort()).toEqual(['0.5', '0.95', '0.99'])
    for (const sample of q) expect(sample.value).toBeGreaterThan(0)

    const slow = 'ayala_http_slow_requests_total'
    expect(sampleValue(families, slow, slow, { route: '/invoices/slow', method: 'GET' })).toBe(1)

    // The metrics endpoint itself is not measured.
    expect(samples(families, duration, `${duration}_count`, { route: '/metrics' })).toEqual([])
  })

  it('writes one warning line per slow request through the Nest logger', () => {
    const slow = warnings.filter((w) => w.context === 'AyalaPerformance')
    expect(slow).toHaveLength(1)
    expect(slow[0]?.message).toMatch(
      /^Slow request: GET \/invoices\/slow 200 took \d+(\.\d)? ms \(threshold 2000 ms\); cache: /,
    )
  })

  it('emits the slow-request event and calls the callback once per slow request', () => {
    for (const events of [emittedEvents, callbackEvents]) {
      expect(events.map((e) => `${e.method} ${e.route} ${e.statusCode}`)).toEqual(['GET /invoices/slow 200'])
      expect(events[0]?.thresholdMs).toBe(2_000)
      expect(events[0]?.durationMs).toBeGreaterThanOrEqual(2_000)
      expect(events[0]?.transport).toBe('http')
    }
  })
})

describe('AyalaMetricsModule options', () => {
  it('rejects invalid options by name', () => {
    expect(() => AyalaMetricsModule.forRoot({ slowThreshold: '5 parsecs' as never })).toThrow(
      expect.objectContaining({ code: 'E_NEST_INVALID_DURATION', option: 'slowThreshold' }),
    )
    expect(() => AyalaMetricsModule.forRoot({ buckets: [1, 0.5] })).toThrow(
      expect.objectContaining({ code: 'E_NEST_INVALID_OPTION', option: 'buckets' }),
    )
    expect(() => AyalaMetricsModule.forRoot({ path: 'metrics' })).toThrow(
      expect.objectContaining({ option: 'path' }),
    )
    expect(() => AyalaMetricsModule.forRoot({ nope: 1 } as never)).toThrow(
      expect.objectContaining({ option: 'nope' }),
    )
  })
})
