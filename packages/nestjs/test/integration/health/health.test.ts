import 'reflect-metadata'
import { type PrivateRedis, serviceUrls, startPrivateRedis } from '@ayala/testkit'
import { Controller, Get, type INestApplication, Inject } from '@nestjs/common'
import { HealthCheck, HealthCheckService } from '@nestjs/terminus'
import { Test } from '@nestjs/testing'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AyalaHealthModule,
  KafkaHealthIndicator,
  RedisHealthIndicator,
  SearchHealthIndicator,
} from '../../../src/health/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'

const services = serviceUrls()

interface HealthBody {
  status: string
  info?: Record<string, { status: string }>
  error?: Record<string, { status: string; message?: string }>
  details: Record<string, { status: string; message?: string; [k: string]: unknown }>
}

describe('health indicators for @nestjs/terminus (real Redis, OpenSearch, Elasticsearch, Kafka)', () => {
  let redis: PrivateRedis
  let kafka: Kafka
  let app: INestApplication
  let url: string

  beforeAll(async () => {
    redis = await startPrivateRedis()
    kafka = new Kafka({
      clientId: 'ayala-nest-health',
      brokers: services.kafkaBrokers,
      logLevel: logLevel.NOTHING,
    })
    const redisUrl = redis.url

    @Controller('health')
    class HealthController {
      constructor(
        @Inject(HealthCheckService) private readonly health: HealthCheckService,
        @Inject(RedisHealthIndicator) private readonly redis: RedisHealthIndicator,
        @Inject(SearchHealthIndicator) private readonly search: SearchHealthIndicator,
        @Inject(KafkaHealthIndicator) private readonly kafka: KafkaHealthIndicator,
      ) {}

      @Get()
      @HealthCheck()
      check() {
        return this.health.check([
          () => this.redis.pingCheck('redis', { url: redisUrl, timeout: '2s' }),
          () => this.search.check('opensearch', { url: services.opensearch, timeout: '5s' }),
          () => this.search.check('elasticsearch', { url: services.elasticsearch, timeout: '5s' }),
          () => this.kafka.check('kafka', { kafka, timeout: '10s' }),
        ])
      }

      @Get('unreachable-search')
      @HealthCheck()
      unreachable() {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        return this.health.check([
          () => this.search.check('search', { url: 'http://127.0.0.1:9', timeout: '2s' }),
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
  })

  afterAll(async () => {
    await app?.close()
    await redis?.dispose()
  })

  async function health(path = '/health'): Promise<{ status: number; body: HealthBody }> {
    const response = await fetch(`${url}${path}`)
    return { status: response.status, body: (await response.json()) as HealthBody }
  }

  it('is up with every service running', async () => {
    const { status, body } = await health()
    expect(body.details).toMatchObject({
      redis: { status: 'up' },
      opensearch: { status: 'up' },
      elasticsearch: { status: 'up' },
      kafka: { status: 'up' },
    })
    expect(status).toBe(200)
    expect(body.status).toBe('ok')
    expect(body.details.kafka?.brokers).toBeGreaterThanOrEqual(1)
    expect(['green', 'yellow']).toContain(body.details.opensearch?.clusterStatus)
  })

  it('answers 503 naming Redis when Redis is stopped, the others still up; recovers after restart', async () => {
    await redis.stop()
    const down = await health()
    expect(down.status).toBe(503)
    expect(down.body.status).toBe('error')
    expect(down.body.details.redis?.status).toBe('down')
    expect(down.body.error?.redis?.status).toBe('down')
    expect(down.body.details.opensearch?.status).toBe('up')
    expect(down.body.details.elasticsearch?.status).toBe('up')
    expect(down.body.details.kafka?.status).toBe('up')

    await redis.start()
    await waitFor(
      async () => (await health()).status === 200,
      'health back to 200 after Redis restarted',
      30_000,
    )
    expect((await health()).body.details.redis?.status).toBe('up')
  })

  it('reports an unreachable search engine as down with a message', async () => {
    const { status, body } = await health('/health/unreachable-search')
    expect(status).toBe(503)
    expect(body.details.search?.status).toBe('down')
    expect(body.details.search?.message).toEqual(expect.any(String))
  })
})
