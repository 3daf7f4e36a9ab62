/**
 * `RedisHealthIndicator.pingCheck` through Sentinel (`redisOptions: { sentinels, name }`), on a
 * private topology of testkit's `startRedisSentinel()`: up on the primary the Sentinels name, down
 * once it is SIGKILLed, up again on the promoted replica without a restart of the app. A direct
 * check given the same URL keeps a connection of its own (one per URL and Sentinel group): it
 * stays up on the shared server throughout. Every wait is bounded.
 */
import 'reflect-metadata'
import { type RedisSentinel, serviceUrls, startRedisSentinel } from '@ayala/testkit'
import { Controller, Get, type INestApplication, Inject } from '@nestjs/common'
import { HealthCheck, HealthCheckService } from '@nestjs/terminus'
import { Test } from '@nestjs/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaHealthModule, RedisHealthIndicator } from '../../../src/health/index.js'
import { baseUrl } from '../../helpers/http.js'

interface HealthBody {
  status: string
  details: Record<string, { status: string; message?: string }>
}

describe('Redis health check through Sentinel', () => {
  let topology: RedisSentinel
  let app: INestApplication
  let url: string

  beforeAll(async () => {
    topology = await startRedisSentinel()
    const direct = serviceUrls().redis
    const redisOptions = { sentinels: [...topology.sentinels], name: topology.masterName }

    @Controller('health')
    class HealthController {
      constructor(
        @Inject(HealthCheckService) private readonly health: HealthCheckService,
        @Inject(RedisHealthIndicator) private readonly redis: RedisHealthIndicator,
      ) {}

      @Get()
      @HealthCheck()
      check() {
        return this.health.check([
          // The same URL for both: through Sentinel its host is not used.
          () => this.redis.pingCheck('sentinel', { url: direct, redisOptions, timeout: '1s' }),
          () => this.redis.pingCheck('direct', { url: direct, timeout: '1s' }),
        ])
      }
    }

    const moduleRef = await Test.createTestingModule({
      imports: [AyalaHealthModule],
      controllers: [HealthController],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
  }, 120_000)

  afterAll(async () => {
    await app?.close()
    await topology?.dispose()
  })

  async function health(): Promise<{ status: number; body: HealthBody }> {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })
    return { status: response.status, body: (await response.json()) as HealthBody }
  }

  /** Poll until `done` or `timeoutMs`; the last answer. */
  async function until(done: (answer: { status: number; body: HealthBody }) => boolean, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs
    let answer = await health()
    while (!done(answer) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      answer = await health()
    }
    return answer
  }

  it('is up on the primary, down once it is killed, up again on the promoted replica', async () => {
    const first = await until((a) => a.status === 200, 20_000)
    expect(first.body.details).toMatchObject({ sentinel: { status: 'up' }, direct: { status: 'up' } })

    const killed = await topology.killPrimary()
    // Sentinel waits down-after-milliseconds (1 s) before promoting: the check sees the gap.
    const down = await until((a) => a.body.details.sentinel?.status === 'down', 10_000)
    expect(down.status).toBe(503)
    expect(down.body.details.sentinel?.status).toBe('down')
    expect(down.body.details.direct?.status).toBe('up')

    await topology.waitForPromotion(killed, 60_000)
    const again = await until((a) => a.status === 200, 30_000)
    expect(again.body.details).toMatchObject({ sentinel: { status: 'up' }, direct: { status: 'up' } })
  }, 120_000)
})
