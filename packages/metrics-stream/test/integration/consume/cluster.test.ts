import { startPrivateRedis } from '@ayala/testkit'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createDashboard,
  createMetricsConsumer,
  defineChangelogView,
  kafkaSource,
} from '../../../src/index.js'
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

  it('applies a changelog view (upserts and tombstones) and reads it through a Cluster client', async () => {
    // A second world on the same node: a topic of its own for the changelog.
    const changelogWorld = await new World(2, server.url).init()
    try {
      const view = defineChangelogView({
        name: 'flink_invoices',
        topic: changelogWorld.topic,
        key: ['status'],
        figures: { byStatus: { column: 'invoices' }, amountByStatus: { column: 'amount_cents' } },
      })
      const row = (status: string, invoices: number | null) => ({
        key: JSON.stringify({ status }),
        value: invoices === null ? null : JSON.stringify({ status, invoices, amount_cents: invoices * 100 }),
      })
      await changelogWorld.producer.send({
        topic: changelogWorld.topic,
        messages: [row('open', 3), row('paid', 5), row('draft', 1), row('open', 4), row('draft', null)],
      })
      const consumer = changelogWorld.consumerOf(view, `${changelogWorld.namespace}-g`, {
        redis: cluster,
      })
      await consumer.start()
      await waitFor('the changelog consumer to catch up', async () => {
        const lag = await consumer.lag()
        return lag.length === changelogWorld.partitions && lag.every((p) => p.lag === 0)
      })
      const dashboard = createDashboard({
        redis: cluster,
        namespace: changelogWorld.namespace,
        view,
        cache: false,
      })
      expect((await dashboard.read()).figures).toEqual({
        byStatus: { open: 4, paid: 5 },
        amountByStatus: { open: 400, paid: 500 },
      })
      expect(consumer.stats().deadLettered).toBe(0)
      await consumer.stop()
      await dashboard.close()
    } finally {
      await changelogWorld.dispose()
    }
  })
})
