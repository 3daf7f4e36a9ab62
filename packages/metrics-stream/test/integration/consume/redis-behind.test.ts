/**
 * Redis going back to an older copy of the view's state (what a failover to a replica that had
 * not received the last apply scripts does), driven deterministically through the public `Source`
 * interface on real Redis: the older copy is a DUMP of every key of the namespace, RESTOREd after
 * more chunks were applied. The member must go back to the offset Redis holds and apply the rest
 * again: figures equal to the ground truth, nothing skipped, nothing counted twice. The same hole
 * on a real Sentinel failover is `redis-failover.test.ts`.
 */
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type AppliedEvent,
  createDashboard,
  createMetricsConsumer,
  type Duration,
  type OutgoingMessage,
  type RedisBehindEvent,
  type Source,
  type SourceBatch,
  type SourceBatchContext,
  type SourceMessage,
  viewKeys,
} from '../../../src/index.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

const TOPIC = 'scripted'

/** A source that delivers the batches a test asks for, and records commits and seeks. */
class ScriptedSource implements Source {
  readonly topics = [TOPIC]
  readonly seeks: string[] = []
  private handle: ((batch: SourceBatch, context: SourceBatchContext) => Promise<void>) | undefined

  async start(handle: (batch: SourceBatch, context: SourceBatchContext) => Promise<void>): Promise<void> {
    this.handle = handle
  }
  isAssigned(): boolean {
    return true
  }
  async send(_topic: string, _messages: OutgoingMessage[]): Promise<void> {
    // Nothing is dead-lettered in these tests: the events are all valid.
  }
  async highWatermarks() {
    return [{ partition: 0, high: '0', low: '0' }]
  }
  /** Outside a batch (the state check): recorded like a seek inside one. */
  seek(_topic: string, _partition: number, offset: string): void {
    this.seeks.push(offset)
  }
  async stop(): Promise<void> {
    this.handle = undefined
  }
  /** Deliver records `from`..`to` (inclusive) of `log` as one batch of partition 0. */
  async deliver(log: readonly SourceMessage[], from: number, to: number, assignment = 1): Promise<void> {
    if (!this.handle) throw new Error('not started')
    let active = true
    await this.handle(
      { topic: TOPIC, partition: 0, messages: log.slice(from, to + 1) },
      {
        assignment,
        isActive: () => active,
        commit: async () => undefined,
        heartbeat: async () => undefined,
        seek: (offset) => {
          active = false
          this.seeks.push(offset)
        },
      },
    )
  }
}

function asLog(events: readonly InvoiceEvent[]): SourceMessage[] {
  return events.map((event, offset) => ({
    offset: String(offset),
    key: Buffer.from(event.id),
    value: Buffer.from(JSON.stringify(event)),
    timestamp: String(Date.now()),
  }))
}

async function waitFor(what: string, probe: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`)
    await new Promise((done) => setTimeout(done, 20))
  }
}

describe('Redis behind the consumer (an older copy of the state, as after a failover)', () => {
  const redis = new Redis(serviceUrls().redis)
  const namespaces: string[] = []

  afterAll(async () => {
    for (const namespace of namespaces) {
      const keys = await redis.keys(`{${namespace}*`)
      if (keys.length > 0) await redis.del(...keys)
    }
    redis.disconnect()
  })

  /** Every key of the namespace, dumped: restoring it puts Redis back where it was. */
  async function snapshot(namespace: string): Promise<() => Promise<void>> {
    const keys = await redis.keys(`{${namespace}*`)
    const dumps = await Promise.all(
      keys.map(async (key) => ({ key, dump: await redis.dumpBuffer(key), ttl: await redis.pttl(key) })),
    )
    // One MULTI: the consumer's state check never sees the namespace half restored (an empty
    // namespace would read as Redis having lost the view, another path than the one under test).
    return async () => {
      const now = await redis.keys(`{${namespace}*`)
      const tx = redis.multi()
      if (now.length > 0) tx.del(...now)
      for (const { key, dump, ttl } of dumps) {
        if (dump !== null) tx.restore(key, Math.max(ttl, 0), dump, 'REPLACE')
      }
      await tx.exec()
    }
  }

  function setup() {
    const namespace = uniqueName('ms')
    namespaces.push(namespace)
    const events = generateEvents(30, 131)
    const log = asLog(events)
    // Three stretches of the log: applied and copied, applied after the copy, not applied yet.
    const a = 10
    const b = 20
    const end = log.length - 1
    // The state check runs every 50 ms only where it is the path under test: elsewhere it would
    // race the delivery after restore() and notice Redis behind first (cause 'check').
    const make = (stateCheckInterval: Duration = '1h') => {
      const source = new ScriptedSource()
      const consumer = createMetricsConsumer<InvoiceEvent>({
        redis,
        namespace,
        view: invoiceView,
        source,
        batchSize: 4,
        stateCheckInterval,
      })
      const behind: RedisBehindEvent[] = []
      const versions: number[] = []
      consumer.on('redisBehind', (event: RedisBehindEvent) => behind.push(event))
      consumer.on('applied', (event: AppliedEvent) => versions.push(event.version))
      return { source, consumer, behind, versions }
    }
    const figures = async () =>
      (await createDashboard({ redis, namespace, view: invoiceView, cache: false }).read(READ_RANGE)).figures
    const applied = async () =>
      Number(await redis.hget(viewKeys(namespace, invoiceView.name, 1).partition(TOPIC, 0), 'applied'))
    return { namespace, events, log, a, b, end, make, figures, applied }
  }

  it('a chunk on top of an older copy is refused: back to its offset, the rest applied again', async () => {
    const { namespace, events, log, a, b, end, make, figures, applied } = setup()
    const { source, consumer, behind, versions } = make()
    await consumer.start()
    await source.deliver(log, 0, a - 1)
    const restore = await snapshot(namespace)
    await source.deliver(log, a, b - 1)
    await restore()

    // Kafka hands the next records (b..) while Redis holds 0..a-1 only.
    await source.deliver(log, b, end)
    expect(source.seeks).toEqual([String(a)])
    expect(consumer.stats().redisBehind).toBe(1)
    expect(behind).toEqual([
      { topic: TOPIC, partition: 0, stored: String(a - 1), applied: String(b - 1), cause: 'apply' },
    ])
    const during = await consumer.health()
    expect(during.state).toBe('degraded')
    expect(during.reasons.map((r) => [r.code, r.topic, r.partition])).toEqual([
      ['E_STREAM_REDIS_BEHIND', TOPIC, 0],
    ])

    await source.deliver(log, a, end)
    expect(asTruth(await figures())).toEqual(groundTruth(events))
    expect(await applied()).toBe(events.length)
    expect((await consumer.health()).state).toBe('up')
    // The view version never repeats for readers: raised past the highest seen before the loss.
    expect(versions).toEqual([...versions].sort((a, b) => a - b))
    expect(new Set(versions).size).toBe(versions.length)
    await consumer.stop()
  })

  it('a claim Redis lost is not a fence: the member claims again and applies the rest again', async () => {
    const { namespace, events, log, a, b, end, make, figures, applied } = setup()
    const first = make()
    await first.consumer.start()
    await first.source.deliver(log, 0, a - 1)
    const restore = await snapshot(namespace)
    // Another member takes the partition over (a newer claim), applies more, then Redis goes
    // back to the copy holding the first member's claim.
    await first.consumer.stop()
    const second = make()
    await second.consumer.start()
    await second.source.deliver(log, a, b - 1)
    await restore()

    await second.source.deliver(log, b, end)
    expect(second.consumer.stats().fenced).toBe(0)
    expect(second.consumer.stats().redisBehind).toBe(1)
    expect(second.behind).toEqual([
      { topic: TOPIC, partition: 0, stored: String(a - 1), applied: String(b - 1), cause: 'claim' },
    ])
    expect(second.source.seeks).toEqual([String(a)])
    await second.source.deliver(log, a, end)
    expect(asTruth(await figures())).toEqual(groundTruth(events))
    expect(await applied()).toBe(events.length)
    await second.consumer.stop()
  })

  it('an idle partition: the state check notices Redis behind and seeks back', async () => {
    const { namespace, events, log, a, end, make, figures, applied } = setup()
    const { source, consumer, behind } = make('50ms')
    await consumer.start()
    await source.deliver(log, 0, a - 1)
    const restore = await snapshot(namespace)
    await source.deliver(log, a, end)
    await restore()

    // No record arrives: only the state check (every 50 ms here) can notice.
    await waitFor('the state check to seek back', () => source.seeks.length > 0)
    expect(source.seeks).toEqual([String(a)])
    expect(behind.map((e) => [e.stored, e.applied, e.cause])).toEqual([[String(a - 1), String(end), 'check']])
    await source.deliver(log, a, end)
    expect(asTruth(await figures())).toEqual(groundTruth(events))
    expect(await applied()).toBe(events.length)
    expect(consumer.stats().redisBehind).toBe(1)
    expect((await consumer.health()).state).toBe('up')
    await consumer.stop()
  })
})
