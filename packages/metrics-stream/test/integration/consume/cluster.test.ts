import { startPrivateRedis } from '@ayala/testkit'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDashboard, createMetricsConsumer, kafkaSource } from '../../../src/index.js'
import { FAST_GROUP, World, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

describe('Redis Cluster (one private node owning every slot)', () => {
  let server: Awaited<ReturnType<typeof startPrivateRedis>>
  let cluster: Cluster
  let world: World

  beforeAll(async () => {
    server = await startPrivateRedis({
      args: [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-announce-ip',
        '127.0.0.1',
      ],
    })
    const admin = new Redis(server.url)
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383')
    await waitFor('the cluster to be ok', async () =>
      String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'),
    )
    admin.disconnect()
    cluster = new Cluster([{ host: '127.0.0.1', port: server.port }], {
      redisOptions: { maxRetriesPerRequest: null },
    })
    world = await new World(3, server.url).init()
  })

  afterAll(async () => {
    await world?.dispose()
    cluster?.disconnect()
    await server?.dispose()
  })

  it('applies chunks and reads dashboards through a Cluster client (every key of a script in one slot)', async () => {
    const events = generateEvents(400, 97)
    const consumer = createMetricsConsumer<InvoiceEvent>({
      redis: cluster,
      namespace: world.namespace,
      view: invoiceView,
      chunkSize: 50,
      source: kafkaSource({
        kafka: world.kafka,
        groupId: `${world.namespace}-g`,
        topics: [world.topic],
        consumer: FAST_GROUP,
      }),
    })
    await consumer.start()
    try {
      await world.produce(events)
      await world.waitCaughtUp()
      const dashboard = createDashboard({ redis: cluster, namespace: world.namespace, view: invoiceView })
      await dashboard.ready()
      const snapshot = await dashboard.read(READ_RANGE)
      expect(asTruth(snapshot.figures)).toEqual(groundTruth(events))
      expect(await dashboard.read(READ_RANGE)).toBe(snapshot)
      expect((await consumer.lag()).every((partition) => partition.lag === 0)).toBe(true)
      await dashboard.close()
    } finally {
      await consumer.stop()
    }
  })
})
