/**
 * Every module's `forRootAsync` over the clients an application already has, from DI, and who
 * closes what at `app.close()`, on the harness's real Redis, Kafka, MariaDB and Elasticsearch.
 *
 * Borrowed: one ioredis client, one kafkajs `Kafka` (and a producer made from it), one mariadb
 * pool and `@nestjs/elasticsearch`'s `ElasticsearchService`, provided by the application's own
 * global module, feed `AyalaCacheModule`, `AyalaCacheManagerModule`, `AyalaMetricsStreamModule`
 * (dashboard, and the consumer through `kafkaSource({ kafka })`), `AyalaOutboxModule` (relay with
 * `kafkaSink({ producer })`), `AyalaSearchModule` and the health indicators. An event travels
 * through all of them while the application runs (outbox -> injected producer -> Kafka -> consumer
 * of the injected Kafka -> injected Redis -> dashboard). After `app.close()` every injected client
 * still works. With an ioredis `Cluster` (a private one) the same for the cache modules and the
 * Redis health check.
 *
 * Owned: the same modules given URLs open their own connections (named, so `CLIENT LIST` shows
 * them) and close every one of them at `app.close()`; the owned search client refuses requests.
 */
import 'reflect-metadata'
import { type Cache, createCache } from '@ayala/cache'
import { type Dashboard, defineAggregates, defineView, kafkaSource } from '@ayala/metrics-stream'
import { kafkaEffect, kafkaSink, type Outbox } from '@ayala/outbox'
import type { SearchClient } from '@ayala/search'
import { type RedisCluster, serviceUrls, startRedisCluster, uniqueName } from '@ayala/testkit'
import { Global, type INestApplication, Module } from '@nestjs/common'
import { ElasticsearchModule, ElasticsearchService } from '@nestjs/elasticsearch'
import { Test } from '@nestjs/testing'
import { Cluster, Redis } from 'ioredis'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import mariadb, { type Pool } from 'mariadb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AYALA_CACHE, AyalaCacheModule } from '../../../src/cache/index.js'
import {
  type AyalaCacheManager,
  AyalaCacheManagerModule,
  CACHE_MANAGER,
} from '../../../src/cache-manager/index.js'
import { AyalaHealthModule, KafkaHealthIndicator, RedisHealthIndicator } from '../../../src/health/index.js'
import { AYALA_DASHBOARD, AyalaMetricsStreamModule } from '../../../src/metrics-stream/index.js'
import { AYALA_OUTBOX, AyalaOutboxModule } from '../../../src/outbox/index.js'
import { AYALA_SEARCH_CLIENT, AyalaSearchModule } from '../../../src/search/index.js'
import { waitFor } from '../../helpers/http.js'
import { deleteNamespaces } from '../../helpers/redis.js'

const services = serviceUrls()
const REDIS = Symbol('app redis')
const KAFKA = Symbol('app kafka')
const PRODUCER = Symbol('app producer')
const DB = Symbol('app pool')

interface Sale {
  id: string
  cents: number
  at: number
}
const aggregates = defineAggregates<Sale>()((a) => ({
  sales: a.count(),
  cents: a.sum({ value: (r) => r.cents }),
}))
const view = defineView<Sale, Sale, typeof aggregates>({ name: 'sales', eventTime: (e) => e.at, aggregates })

function pool(): Pool {
  const url = new URL(services.database)
  return mariadb.createPool({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1) || 'test',
    connectionLimit: 2,
  })
}

const namespaces: string[] = []
function ns(prefix: string): string {
  const name = uniqueName(prefix).replace(/[^a-z0-9-]/gi, '')
  namespaces.push(name)
  return name
}

afterAll(() => deleteNamespaces(services.redis, namespaces))

describe('borrowed clients: injected from DI, used, and left open by app.close()', () => {
  const topic = uniqueName('nest-borrowed')
  const table = uniqueName('nest_borrowed_outbox').replace(/-/g, '_')
  const redis = new Redis(services.redis)
  const kafka = new Kafka({
    clientId: 'ayala-borrowed',
    brokers: services.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  })
  const db = pool()
  let producer: Producer
  let app: INestApplication

  @Global()
  @Module({
    providers: [
      { provide: REDIS, useValue: redis },
      { provide: KAFKA, useValue: kafka },
      { provide: PRODUCER, useFactory: () => producer },
      { provide: DB, useValue: db },
    ],
    exports: [REDIS, KAFKA, PRODUCER, DB],
  })
  class InfrastructureModule {}

  beforeAll(async () => {
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] })
    await admin.disconnect()
    producer = kafka.producer({ idempotent: true })
    await producer.connect()
    const [cacheNs, managerNs, streamNs] = [ns('borrowed-cache'), ns('borrowed-cm'), ns('borrowed-stream')]
    const moduleRef = await Test.createTestingModule({
      imports: [
        InfrastructureModule,
        AyalaHealthModule,
        AyalaCacheModule.forRootAsync({
          inject: [REDIS],
          useFactory: (client: Redis) => ({ redis: client, namespace: cacheNs }),
        }),
        AyalaCacheManagerModule.registerAsync({
          inject: [REDIS],
          useFactory: (client: Redis) => ({ redis: client, namespace: managerNs, ttl: 60_000 }),
        }),
        AyalaMetricsStreamModule.forRootAsync({
          inject: [REDIS, KAFKA],
          useFactory: (client: Redis, injected: Kafka) => ({
            redis: client,
            namespace: streamNs,
            view,
            onStartFailure: 'fail' as const,
            consumer: {
              source: kafkaSource({
                kafka: injected,
                groupId: `${streamNs}-g`,
                topics: [topic],
                consumer: {
                  sessionTimeout: 6_000,
                  rebalanceTimeout: 6_000,
                  heartbeatInterval: 500,
                  maxWaitTimeInMs: 100,
                },
              }),
            },
          }),
        }),
        AyalaOutboxModule.forRootAsync({
          inject: [DB, PRODUCER],
          useFactory: (pool: Pool, injected: Producer) => ({
            db: pool,
            table,
            onStartFailure: 'fail' as const,
            sinks: { kafka: kafkaSink({ producer: injected }) },
            relay: { pollInterval: '50ms' },
          }),
        }),
        AyalaSearchModule.forRootAsync({
          imports: [ElasticsearchModule.register({ node: services.elasticsearch })],
          inject: [ElasticsearchService],
          useFactory: (client: ElasticsearchService) => ({ client }),
        }),
      ],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.init()
  })

  afterAll(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`)
    await db.end()
    await producer?.disconnect()
    const admin = kafka.admin()
    await admin.connect()
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined)
    await admin.disconnect()
    redis.disconnect()
  })

  it('an effect travels outbox -> injected producer -> Kafka -> consumer of the injected Kafka -> injected Redis', async () => {
    const outbox = app.get<Outbox>(AYALA_OUTBOX)
    const tx = await db.getConnection()
    try {
      await tx.beginTransaction()
      await outbox.enqueue(
        tx,
        kafkaEffect({ topic, key: 's-1', value: { id: 's-1', cents: 250, at: Date.now() } }),
      )
      await tx.commit()
    } finally {
      await tx.release()
    }
    const dashboard = app.get<Dashboard<typeof aggregates>>(AYALA_DASHBOARD)
    await waitFor(async () => (await dashboard.read()).figures.sales === 1, 'the sale aggregated')
    expect((await dashboard.read()).figures.cents).toBe(250)
    const cache = app.get<Cache>(AYALA_CACHE)
    expect(await cache.getOrSet('k', () => 'loaded')).toBe('loaded')
    const manager = app.get<AyalaCacheManager>(CACHE_MANAGER)
    expect(await manager.wrap('k', () => 'wrapped')).toBe('wrapped')
    expect(await (await app.get<SearchClient>(AYALA_SEARCH_CLIENT)).engine()).toBe('elasticsearch')
    const health = await app.get(RedisHealthIndicator).pingCheck('redis', { client: redis })
    expect(health.redis.status).toBe('up')
    expect((await app.get(KafkaHealthIndicator).check('kafka', { kafka })).kafka.status).toBe('up')
  })

  it('after app.close() every injected client still works', async () => {
    const es = await app.get<SearchClient>(AYALA_SEARCH_CLIENT).raw()
    await app.close()
    expect(redis.status).toBe('ready')
    expect(await redis.set(`${namespaces[0]}:after`, '1', 'PX', 5_000)).toBe('OK')
    await producer.send({ topic, messages: [{ key: 'after', value: 'still connected' }] })
    const admin = kafka.admin()
    await admin.connect()
    expect(await admin.listTopics()).toContain(topic)
    await admin.disconnect()
    expect((await db.query('SELECT 1 AS one'))[0].one).toBe(1)
    expect(((await es.info()) as { version: { number: string } }).version.number).toMatch(/^\d/)
  })
})

describe('a borrowed ioredis Cluster (a private one)', () => {
  let cluster: RedisCluster
  let client: Cluster

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 })
    client = new Cluster([...cluster.nodes])
  })

  afterAll(async () => {
    client?.disconnect()
    await cluster?.dispose()
  })

  it('feeds the cache modules and the health check, and is left open by app.close()', async () => {
    @Global()
    @Module({ providers: [{ provide: REDIS, useValue: client }], exports: [REDIS] })
    class ClusterModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        ClusterModule,
        AyalaHealthModule,
        AyalaCacheModule.forRootAsync({
          inject: [REDIS],
          useFactory: (redis: Cluster) => ({ redis, namespace: 'cluster-cache', redisTimeout: '2s' }),
        }),
        AyalaCacheManagerModule.registerAsync({
          inject: [REDIS],
          useFactory: (redis: Cluster) => ({
            redis,
            namespace: 'cluster-cm',
            ttl: 60_000,
            redisTimeout: '2s',
          }),
        }),
      ],
    }).compile()
    const app = moduleRef.createNestApplication({ logger: false })
    await app.init()
    const writer = createCache({ redis: client, namespace: 'cluster-cm', bus: false, redisTimeout: '2s' })
    try {
      const manager = app.get<AyalaCacheManager>(CACHE_MANAGER)
      await manager.mset([
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
      ])
      // Read back from Redis by another instance: the entries are in the cluster, not only L1.
      expect(await writer.getMany(['a', 'b'])).toEqual([1, 2])
      expect(await app.get<Cache>(AYALA_CACHE).getOrSet('x', () => 'loaded')).toBe('loaded')
      expect((await app.get(RedisHealthIndicator).pingCheck('redis', { client })).redis.status).toBe('up')
      await app.close()
      expect(client.status).toBe('ready')
      expect(await writer.getMany(['a', 'b'])).toEqual([1, 2])
    } finally {
      await writer.close()
    }
  })
})

describe('owned clients: opened from URLs, closed by app.close()', () => {
  it('leaves no connection of its own on Redis, and its search client refuses requests', async () => {
    const name = uniqueName('owned').replace(/[^a-z0-9-]/gi, '')
    const connectionName = `ayala-${name}`
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaHealthModule,
        AyalaCacheModule.forRoot({
          redis: services.redis,
          namespace: ns('owned-cache'),
          redisOptions: { connectionName },
        }),
        AyalaCacheManagerModule.register({
          redis: services.redis,
          namespace: ns('owned-cm'),
          redisOptions: { connectionName },
        }),
        AyalaMetricsStreamModule.forRoot({
          redis: services.redis,
          redisOptions: { connectionName },
          namespace: ns('owned-stream'),
          view,
        }),
        AyalaSearchModule.forRoot({ client: { node: services.elasticsearch, engine: 'elasticsearch' } }),
      ],
    }).compile()
    const app = moduleRef.createNestApplication({ logger: false })
    await app.init()
    await app.get<Cache>(AYALA_CACHE).set('k', 1)
    await app.get<AyalaCacheManager>(CACHE_MANAGER).set('k', 1)
    await app.get<Dashboard<typeof aggregates>>(AYALA_DASHBOARD).read()
    expect(
      (
        await app
          .get(RedisHealthIndicator)
          .pingCheck('redis', { url: services.redis, redisOptions: { connectionName } })
      ).redis.status,
    ).toBe('up')
    const search = app.get<SearchClient>(AYALA_SEARCH_CLIENT)
    const raw = await search.raw()
    await raw.info()
    const admin = new Redis(services.redis)
    try {
      const named = async () =>
        ((await admin.client('LIST')) as string)
          .split('\n')
          .filter((line) => line.includes(`name=${connectionName} `)).length
      // Cache and cache manager: command + bus each; the stream's and the health check's: one each.
      expect(await named()).toBeGreaterThanOrEqual(6)
      await app.close()
      await waitFor(async () => (await named()) === 0, 'every owned connection closed', 5_000)
      expect(await named()).toBe(0)
    } finally {
      admin.disconnect()
    }
    await expect(raw.info()).rejects.toThrow()
  })
})
