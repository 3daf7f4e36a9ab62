import { startPrivateRedis } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { type ChangeNotice, createDashboard, readDashboard } from '../../../src/index.js'
import { World, waitFor } from '../../helpers/harness.js'
import { asTruth, generateEvents, groundTruth, invoiceView, READ_RANGE } from '../../helpers/invoices.js'

/**
 * The consumer applies to a primary; the dashboard reads a replica of it (`--replicaof`), the
 * deployment docs/metrics-push.md describes for keeping reads off a write-heavy primary. Redis 7
 * replicates each apply script as its effects in one MULTI/EXEC, the change notice included, so a
 * replica reader sees whole batches, in order, and is told of each one after it is applied there.
 */
describe('dashboard read from a Redis replica while the consumer applies to the primary', () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step()
    cleanup.length = 0
  })

  it('sees whole batches in version order, is told of every applied batch, ends at the ground truth', async () => {
    const primary = await startPrivateRedis()
    cleanup.push(() => primary.dispose())
    const replica = await startPrivateRedis({ replicaOf: primary.port })
    cleanup.push(() => replica.dispose())
    const replicaClient = new Redis(replica.url)
    cleanup.push(() => replicaClient.disconnect())
    const world = await new World(3, primary.url).init()
    cleanup.push(() => world.dispose())

    const dashboard = createDashboard({ redis: replicaClient, namespace: world.namespace, view: invoiceView })
    cleanup.push(() => dashboard.close())
    const notices: ChangeNotice[] = []
    await dashboard.onChange((notice) => notices.push(notice))

    const events = generateEvents(1_500, 71)
    const consumer = world.consumer(undefined, { batchSize: 50 })
    await consumer.start()
    // Read the replica while the stream flows: versions never go back, and every snapshot is
    // one the primary had (a whole number of applied batches: the invoice count equals the
    // sum of the per-status counts, which one batch updates together).
    const versions: number[] = []
    const reading = (async () => {
      while (consumer.stats().applied < events.length) {
        const snapshot = await dashboard.read(READ_RANGE)
        versions.push(snapshot.version)
        const byStatus = Object.values(snapshot.figures.byStatus as Record<string, number>)
        expect(byStatus.reduce((sum, n) => sum + n, 0)).toBe(snapshot.figures.invoices)
        await new Promise((done) => setTimeout(done, 5))
      }
    })()
    // Awaited below; a failed expectation must not be an unhandled rejection meanwhile.
    const readError = reading.then(
      () => undefined,
      (error: unknown) => error,
    )
    for (let i = 0; i < events.length; i += 300) await world.produce(events.slice(i, i + 300))
    await world.waitCaughtUp()
    const failed = await readError
    if (failed) throw failed
    expect(versions.length).toBeGreaterThan(1)
    expect(versions.every((v, i) => i === 0 || v >= (versions[i - 1] as number))).toBe(true)

    // Caught up: the primary's last version reaches the replica and its subscribers.
    expect(await world.redis.call('WAIT', '1', '5000')).toBe(1)
    const onPrimary = await readDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
    })
    await waitFor('the last change notice on the replica', () =>
      notices.some((notice) => notice.version === onPrimary.version),
    )
    // One notice per applied script, in version order, none lost on the way: 1, 2, ... last
    // (besides the status notice of the state's creation, topic '-').
    expect(onPrimary.version).toBe(consumer.stats().chunks)
    const chunkNotices = notices.filter((n) => n.topic !== '-')
    expect(chunkNotices.map((n) => n.version)).toEqual(
      Array.from({ length: onPrimary.version }, (_, i) => i + 1),
    )

    const fromReplica = await dashboard.read(READ_RANGE)
    expect(fromReplica.version).toBe(onPrimary.version)
    expect(asTruth(fromReplica.figures)).toEqual(groundTruth(events))
    // The in-process copy serves the next read (the last notice emptied it once, no more).
    expect(await dashboard.read(READ_RANGE)).toBe(fromReplica)
  })
})
