/**
 * The consumer's exactly-once rules driven through the public `Source` interface by a scripted
 * source (real Redis, no Kafka), so that fencing and resume-from-Redis happen deterministically.
 */
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createDashboard,
  createMetricsConsumer,
  day,
  defineAggregates,
  defineView,
  MetricsStreamError,
  type OutgoingMessage,
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

class ScriptedSource implements Source {
  readonly topics = [TOPIC]
  assignment = 1
  readonly commits: string[] = []
  readonly seeks: string[] = []
  readonly sent: Array<{ topic: string; messages: OutgoingMessage[] }> = []
  private handle: ((batch: SourceBatch, context: SourceBatchContext) => Promise<void>) | undefined

  async start(handle: (batch: SourceBatch, context: SourceBatchContext) => Promise<void>): Promise<void> {
    this.handle = handle
  }
  isAssigned(): boolean {
    return true
  }
  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    this.sent.push({ topic, messages })
  }
  async highWatermarks() {
    return [{ partition: 0, high: '0', low: '0' }]
  }
  async stop(): Promise<void> {
    this.handle = undefined
  }
  /** Deliver records `from`..`to` (inclusive) of `log` as one batch of `partition`. */
  async deliver(log: readonly SourceMessage[], from: number, to: number, partition = 0): Promise<void> {
    if (!this.handle) throw new Error('not started')
    let active = true
    await this.handle(
      { topic: TOPIC, partition, messages: log.slice(from, to + 1) },
      {
        assignment: this.assignment,
        isActive: () => active,
        commit: async (offset) => {
          this.commits.push(offset)
        },
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

describe('exactly-once rules through the Source interface (real Redis)', () => {
  const redis = new Redis(serviceUrls().redis)
  const namespaces: string[] = []

  afterAll(async () => {
    for (const namespace of namespaces) {
      const keys = await redis.keys(`{${namespace}:*`)
      if (keys.length > 0) await redis.del(...keys)
    }
    redis.disconnect()
  })

  function setup() {
    const namespace = uniqueName('ms')
    namespaces.push(namespace)
    const make = (options: { redis?: Redis; maxScriptsInFlight?: number } = {}) => {
      const source = new ScriptedSource()
      const consumer = createMetricsConsumer<InvoiceEvent>({
        redis: options.redis ?? redis,
        namespace,
        view: invoiceView,
        source,
        batchSize: 4,
        ...(options.maxScriptsInFlight === undefined
          ? {}
          : { maxScriptsInFlight: options.maxScriptsInFlight }),
      })
      return { source, consumer }
    }
    const read = async () =>
      (await createDashboard({ redis, namespace, view: invoiceView, cache: false }).read(READ_RANGE)).figures
    return { namespace, make, read }
  }

  it('fences a member whose partition was claimed by another, with no event counted twice', async () => {
    const events = generateEvents(12, 101)
    const log = asLog(events)
    const { make, read } = setup()
    const a = make()
    const b = make()
    await a.consumer.start()
    await b.consumer.start()

    await a.source.deliver(log, 0, 9)
    expect(a.consumer.stats().applied).toBe(10)
    // B is assigned the partition: it claims it (new owner token) and resumes after offset 9.
    expect(log.length).toBeGreaterThan(15)
    await b.source.deliver(log, 0, 14)
    expect(b.consumer.stats().duplicates).toBe(10)
    // A is still inside a batch of the partition it lost: its next chunk is refused.
    const commitsBefore = a.source.commits.length
    await a.source.deliver(log, 10, log.length - 1)
    expect(a.consumer.stats().fenced).toBe(1)
    expect(a.consumer.stats().applied).toBe(10)
    expect(a.source.commits.length).toBe(commitsBefore)
    // Until its next assignment, A leaves the partition alone.
    await a.source.deliver(log, 10, log.length - 1)
    expect(a.consumer.stats().fenced).toBe(1)
    await b.source.deliver(log, 15, log.length - 1)

    expect(asTruth(await read())).toEqual(groundTruth(events))
    expect(a.consumer.stats().applied + b.consumer.stats().applied).toBe(events.length)
  })

  it('resumes from Redis: seeks back when Kafka is ahead, accepts a gap that remains after the seek', async () => {
    const events = generateEvents(30, 103)
    const log = asLog(events)
    const { make } = setup()
    const { source, consumer } = make()
    await consumer.start()
    await source.deliver(log, 0, 9)
    // Kafka hands offsets from 20 while Redis applied up to 9: go back to 10.
    await source.deliver(log, 20, 29)
    expect(source.seeks).toEqual(['10'])
    expect(consumer.stats().applied).toBe(10)
    // After the seek the batch still starts at 20 (Kafka no longer has 10..19): accepted.
    await source.deliver(log, 20, 29)
    expect(source.seeks).toEqual(['10'])
    expect(consumer.stats().applied).toBe(20)
    expect(source.commits[source.commits.length - 1]).toBe('29')
  })

  it('seeks forward when a whole batch lies below the offset Redis applied', async () => {
    const events = generateEvents(30, 109)
    const log = asLog(events)
    const { make } = setup()
    const first = make()
    await first.consumer.start()
    await first.source.deliver(log, 0, 29)
    const second = make()
    await second.consumer.start()
    await second.source.deliver(log, 0, 9)
    expect(second.source.seeks).toEqual(['30'])
    expect(second.consumer.stats().duplicates).toBe(10)
    expect(second.consumer.stats().applied).toBe(0)
  })

  it('commits each chunk only after its script, dead-letters bad records and keeps going', async () => {
    const events = generateEvents(8, 107)
    const log = asLog(events)
    log.splice(2, 0, { offset: '', key: null, value: Buffer.from('{oops'), timestamp: '0' })
    log.forEach((message, offset) => {
      ;(message as { offset: string }).offset = String(offset)
    })
    const { make, read } = setup()
    const { source, consumer } = make()
    await consumer.start()
    await source.deliver(log, 0, log.length - 1)
    // One commit per chunk of 4, each after its script returned.
    expect(source.commits).toEqual(['3', '7', '11', String(log.length - 1)])
    expect(source.sent).toHaveLength(1)
    expect(source.sent[0]?.topic).toBe(`${TOPIC}.dlq`)
    expect(source.sent[0]?.messages[0]?.headers['x-source-offset']).toBe('2')
    expect(asTruth(await read())).toEqual(groundTruth(events))
  })

  it('gives time buckets a TTL: bucket end + retention (PEXPIREAT), expired buckets vanish', async () => {
    interface Tick {
      id: string
      at: number
    }
    const aggregates = defineAggregates<Tick>()((a) => ({
      perDay: a.count({ bucket: day((t) => t.at), retention: '1d' }),
    }))
    const view = defineView<Tick, Tick, typeof aggregates>({
      name: 'ticks',
      eventTime: (t) => t.at,
      aggregates,
    })
    const namespace = uniqueName('ms')
    namespaces.push(namespace)
    const source = new ScriptedSource()
    const consumer = createMetricsConsumer<Tick>({ redis, namespace, view, source })
    await consumer.start()
    const now = Date.now()
    const old = now - 10 * 86_400_000
    const ticks: Tick[] = [
      { id: 'a', at: old },
      { id: 'b', at: now },
      { id: 'c', at: now },
    ]
    const log = ticks.map((tick, offset) => ({
      offset: String(offset),
      key: null,
      value: Buffer.from(JSON.stringify(tick)),
      timestamp: String(now),
    }))
    await source.deliver(log, 0, 2)
    expect(consumer.stats().applied).toBe(3)
    const keys = viewKeys(namespace, 'ticks', 1)
    const today = new Date(now).toISOString().slice(0, 10)
    const ttl = await redis.pttl(keys.aggregate('perDay', today))
    expect(ttl).toBeGreaterThan(86_400_000)
    expect(ttl).toBeLessThanOrEqual(2 * 86_400_000)
    expect(await redis.exists(keys.aggregate('perDay', new Date(old).toISOString().slice(0, 10)))).toBe(0)
    const snapshot = await createDashboard({ redis, namespace, view, cache: false }).read({
      from: old,
      to: now,
    })
    expect(snapshot.figures.perDay).toEqual({ [today]: 2 })
  })

  it('fails loudly, without retrying, when Redis answers the script with an error (WRONGTYPE)', async () => {
    const events = generateEvents(4, 113)
    const log = asLog(events)
    const { namespace, make } = setup()
    const keys = viewKeys(namespace, invoiceView.name, 1)
    await redis.set(keys.aggregate('invoices'), 'not a hash')
    const { source, consumer } = make()
    await consumer.start()
    await expect(source.deliver(log, 0, 3)).rejects.toSatisfy(
      (error) => error instanceof MetricsStreamError && error.code === 'E_STREAM_REDIS' && !error.retriable,
    )
    expect(consumer.stats().retries).toBe(0)
    expect(source.commits).toEqual([])
    expect(await redis.hget(keys.partition(TOPIC, 0), 'offset')).toBeNull()
  })

  it('maxScriptsInFlight bounds the apply scripts awaiting Redis across partitions; figures stay exact', async () => {
    const events = generateEvents(120, 127)
    // Four partitions keyed by invoice, each with its own offsets (an invoice's events stay in order).
    const byPartition: InvoiceEvent[][] = [[], [], [], []]
    for (const event of events)
      (byPartition[Number(event.id.split('-')[1]) % 4] as InvoiceEvent[]).push(event)
    const logs = byPartition.map(asLog)
    const peak = async (limit: number | undefined) => {
      const { make, read } = setup()
      // A client of its own that counts the scripts sent and not yet answered.
      const client = new Redis(serviceUrls().redis)
      let inFlight = 0
      let max = 0
      const send = client.sendCommand.bind(client)
      client.sendCommand = ((command: { name: string; promise: Promise<unknown> }, stream?: unknown) => {
        if (command.name === 'evalsha' || command.name === 'eval') {
          inFlight++
          max = Math.max(max, inFlight)
          command.promise.then(
            () => inFlight--,
            () => inFlight--,
          )
        }
        return send(command as never, stream as never)
      }) as typeof client.sendCommand
      const { source, consumer } = make({
        redis: client,
        ...(limit === undefined ? {} : { maxScriptsInFlight: limit }),
      })
      await consumer.start()
      // Claims first, one partition at a time; then every partition's backlog at once.
      for (let p = 0; p < 4; p++) await source.deliver(logs[p] as SourceMessage[], 0, 0, p)
      max = 0
      await Promise.all(logs.map((log, p) => source.deliver(log, 1, log.length - 1, p)))
      expect(consumer.stats().applied).toBe(events.length)
      expect(asTruth(await read())).toEqual(groundTruth(events))
      await consumer.stop()
      client.disconnect()
      return max
    }
    expect(await peak(1)).toBe(1)
    // The same load without the bound keeps several partitions' scripts in flight at once.
    expect(await peak(undefined)).toBeGreaterThan(1)
  })

  it('refuses a maxScriptsInFlight that is not a positive integer', () => {
    const { make } = setup()
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => make({ maxScriptsInFlight: bad })).toThrow(
        expect.objectContaining({ code: 'E_STREAM_INVALID_OPTION' }),
      )
    }
  })
})
