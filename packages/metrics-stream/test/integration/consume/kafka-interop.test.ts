/**
 * What a standard Kafka producer writes, read by the consumer: records written by the Kafka Java
 * client (`../../helpers/java-writer.ts`) with every `compression.type`, with headers and null keys, and by
 * transactional producers that commit some transactions and abort others; then batches the
 * source cannot decode (a failing codec), which must never be a silent stall. Figures are
 * compared with the ground truth of the committed events.
 */
import { uniqueName } from '@ayala/testkit'
import { CompressionCodecs, CompressionTypes, Kafka, logLevel } from 'kafkajs'
import { afterEach, describe, expect, it } from 'vitest'
import { zstdCodec } from '../../../src/consume/codecs.js'
import {
  createDashboard,
  createMetricsConsumer,
  kafkaSource,
  type MetricsConsumer,
  MetricsStreamError,
} from '../../../src/index.js'
import { FAST_GROUP, urls, World, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'
import { type JavaWriterOptions, WriterScript, writeWithJava } from '../../helpers/java-writer.js'

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const

/** Invoice number of an event id (`<prefix>-<n>`). */
const invoiceNumber = (event: InvoiceEvent) => Number(event.id.slice(event.id.lastIndexOf('-') + 1))

/**
 * The record a Java service writes for an event: JSON value, two headers; every fifth invoice has
 * null keys, sent to an explicit partition so all of an invoice's events stay in one partition,
 * in order (what a keyed record gets from the partitioner).
 */
function javaRecord(event: InvoiceEvent, partitions: number, partition?: number) {
  const n = invoiceNumber(event)
  const unkeyed = n % 5 === 0
  return {
    key: unkeyed ? null : event.id,
    value: JSON.stringify(event),
    headers: { 'event-type': event.type, 'trace-id': `trace-${n}` },
    partition: partition ?? (unkeyed ? n % partitions : undefined),
  }
}

async function read(world: World) {
  const dashboard = createDashboard({
    redis: world.redis,
    namespace: world.namespace,
    view: invoiceView,
    cache: false,
  })
  return asTruth((await dashboard.read(READ_RANGE)).figures)
}

/** The values of the first `expected` records of `topic`, as bytes. */
async function readValues(world: World, topic: string, expected: number): Promise<Buffer[]> {
  const reader = world.kafka.consumer({ groupId: uniqueName('ms-raw-reader'), ...FAST_GROUP })
  const values: Buffer[] = []
  await reader.connect()
  await reader.subscribe({ topic, fromBeginning: true })
  await reader.run({
    eachMessage: async ({ message }) => {
      if (message.value) values.push(message.value)
    },
  })
  try {
    await waitFor(`${expected} records on ${topic}`, () => values.length >= expected)
  } finally {
    await reader.disconnect()
  }
  return values
}

function java(world: World, options: Omit<JavaWriterOptions, 'brokers' | 'topic'>) {
  return writeWithJava({ brokers: urls.kafkaBrokers, topic: world.topic, ...options })
}

describe('records written by the Kafka Java client', () => {
  const worlds: World[] = []
  afterEach(async () => {
    await Promise.allSettled(worlds.splice(0).map((w) => w.dispose()))
  })

  it('decodes every compression.type (none, gzip, snappy, lz4, zstd), with headers and null keys', async () => {
    const runs = await Promise.all(
      CODECS.map(async (compression, index) => {
        const world = await new World(4).init()
        worlds.push(world)
        const events = generateEvents(1_500, 300 + index)
        const script = new WriterScript()
        for (const event of events) script.send(javaRecord(event, world.partitions))
        // Large batches so snappy (32 KiB xerial blocks) and lz4 (64 KiB frame blocks) span blocks.
        await java(world, { compression, script, batchSize: 256 * 1024 })
        const consumer = world.consumer()
        await consumer.start()
        return { compression, world, events, consumer }
      }),
    )
    for (const { compression, world, events, consumer } of runs) {
      await world.waitCaughtUp()
      expect({ compression, figures: await read(world) }).toEqual({
        compression,
        figures: groundTruth(events),
      })
      const stats = consumer.stats()
      expect({
        compression,
        applied: stats.applied,
        dead: stats.deadLettered,
        errors: stats.sourceErrors,
      }).toEqual({ compression, applied: events.length, dead: 0, errors: 0 })
    }
  })

  it('counts every committed transaction and no aborted one, interleaved producers, no seek per marker', async () => {
    const world = await new World(4).init()
    worlds.push(world)
    // Two transactional producers (as two Flink sink subtasks); invoice n belongs to producer n % 2,
    // and all of an invoice's events are either in committed or in aborted transactions.
    const committed = generateEvents(400, 401, 'c')
    const aborted = generateEvents(400, 402, 'a')
    const queues = [0, 1].map((p) => ({
      commit: committed.filter((e) => invoiceNumber(e) % 2 === p),
      abort: aborted.filter((e) => invoiceNumber(e) % 2 === p),
    }))
    const outcomes: Array<['commit' | 'abort', 'commit' | 'abort']> = [
      ['commit', 'commit'],
      ['abort', 'abort'],
      ['commit', 'abort'],
      ['abort', 'commit'],
    ]
    const script = new WriterScript()
    const sentCommitted: InvoiceEvent[] = []
    let sentAborted = 0
    for (let round = 0; queues.some((q) => q.commit.length + q.abort.length > 0); round++) {
      const outcome = outcomes[round % outcomes.length] as ['commit' | 'abort', 'commit' | 'abort']
      script.begin(0).begin(1)
      // Interleave the two open transactions in every partition: three flushed slices each.
      for (let slice = 0; slice < 3; slice++) {
        for (const p of [0, 1] as const) {
          const queue = queues[p] as { commit: InvoiceEvent[]; abort: InvoiceEvent[] }
          const taken = queue[outcome[p]].splice(0, 12)
          for (const event of taken) script.send(javaRecord(event, world.partitions), p)
          if (outcome[p] === 'commit') sentCommitted.push(...taken)
          else sentAborted += taken.length
          script.flush(p)
        }
      }
      // The producer that began first ends last on odd rounds: markers out of first-offset order.
      const order = round % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)
      for (const p of order) {
        if (outcome[p] === 'commit') script.commit(p)
        else script.abort(p)
      }
    }
    expect(sentAborted).toBe(aborted.length)
    await java(world, {
      compression: 'lz4',
      script,
      producers: 2,
      transactionalId: uniqueName('ms-tx'),
    })
    // Small fetches, so fetch boundaries fall next to markers (one fetch per partition would
    // hide them): the old rule sought back at every such boundary (60 seeks here, lag stuck at 7).
    const consumer = world.consumer(undefined, {
      source: kafkaSource({
        kafka: world.kafka,
        groupId: `${world.namespace}-g`,
        topics: [world.topic],
        consumer: { ...FAST_GROUP, maxBytesPerPartition: 4_096 },
      }),
    })
    await consumer.start()
    await world.waitCaughtUp()
    expect(await read(world)).toEqual(groundTruth(sentCommitted))
    // Then, on a consumer that caught up, a tail of aborted transactions only: those fetches hold
    // filtered records only (kafkajs never hands them over), and lag must still reach 0.
    const tail = new WriterScript()
    const extra = generateEvents(40, 403, 'tail')
    tail.begin(0)
    for (const event of extra) tail.send(javaRecord(event, world.partitions), 0)
    tail.flush(0).abort(0)
    await java(world, { compression: 'zstd', script: tail, transactionalId: uniqueName('ms-tx-tail') })
    await world.waitCaughtUp()
    expect(await read(world)).toEqual(groundTruth(sentCommitted))
    const stats = consumer.stats()
    expect(stats.applied).toBe(committed.length)
    expect(stats.deadLettered).toBe(0)
    // Markers and aborted records are gaps the consumer steps over: no seek, no refetch.
    expect(stats.seeks).toBe(0)
    expect((await consumer.lag()).every((p) => p.lag === 0)).toBe(true)
  })
})

describe('a batch the source cannot decode is never a silent stall', () => {
  const worlds: World[] = []
  const zstdEntry = CompressionCodecs[CompressionTypes.ZSTD]
  afterEach(async () => {
    CompressionCodecs[CompressionTypes.ZSTD] = zstdEntry
    await Promise.allSettled(worlds.splice(0).map((w) => w.dispose()))
  })

  /** zstd records in partition 0, gzip records in partitions 1..3. */
  async function mixedTopic(world: World) {
    const events = generateEvents(600, 501)
    const inZero = events.filter((e) => invoiceNumber(e) % 4 === 0)
    const elsewhere = events.filter((e) => invoiceNumber(e) % 4 !== 0)
    const zstd = new WriterScript()
    for (const event of inZero) zstd.send(javaRecord(event, world.partitions, 0))
    const gzip = new WriterScript()
    for (const event of elsewhere)
      gzip.send(javaRecord(event, world.partitions, 1 + (invoiceNumber(event) % 3)))
    await java(world, { compression: 'zstd', script: zstd })
    await java(world, { compression: 'gzip', script: gzip })
    return { inZero, elsewhere }
  }

  const brokenZstd = () => ({
    compress: () => {
      throw new Error('zstd decoder unavailable')
    },
    decompress: () => {
      throw new Error('zstd decoder unavailable')
    },
  })

  it('pauses only that partition (error event, counter, reason), then heals when it decodes; nothing skipped', async () => {
    const world = await new World(4).init()
    worlds.push(world)
    const { inZero, elsewhere } = await mixedTopic(world)
    // An application codec that fails (registered before the source, which wraps it).
    CompressionCodecs[CompressionTypes.ZSTD] = brokenZstd
    const consumer = world.consumer(undefined, { retryDelay: 100, maxRetryDelay: 1_000 })
    const errors: MetricsStreamError[] = []
    consumer.on('sourceError', (error: MetricsStreamError) => errors.push(error))
    await consumer.start()

    await waitFor('the other partitions applied', () => consumer.stats().applied === elsewhere.length)
    await waitFor('the undecodable batch reported', () => errors.length > 0)
    const [first] = errors
    expect(first).toBeInstanceOf(MetricsStreamError)
    expect(first).toMatchObject({
      code: 'E_STREAM_UNDECODABLE',
      topic: world.topic,
      partition: 0,
      offset: '0',
    })
    expect(first?.message).toContain('zstd decoder unavailable')
    expect(consumer.stats().undecodableBatches).toBeGreaterThan(0)
    const problems = consumer.sourceErrors()
    expect(problems.map((p) => [p.error.code, p.error.partition])).toEqual([['E_STREAM_UNDECODABLE', 0]])
    // Partition 0 waits at offset 0 (nothing skipped); the rest is exact.
    expect(await read(world)).toEqual(groundTruth(elsewhere))
    expect(consumer.stats().deadLettered).toBe(0)
    // It retries with a backoff, not in a loop: a spinning partition would count thousands here.
    await new Promise((done) => setTimeout(done, 2_000))
    expect(consumer.stats().undecodableBatches).toBeLessThan(50)

    // The codec is fixed (the application registers a working one): the partition heals.
    CompressionCodecs[CompressionTypes.ZSTD] = () => zstdCodec
    await world.waitCaughtUp()
    expect(await read(world)).toEqual(groundTruth([...inZero, ...elsewhere]))
    expect(consumer.stats().applied).toBe(inZero.length + elsewhere.length)
    expect(consumer.sourceErrors()).toEqual([])
  })

  it("'dead-letter' sends the batch's bytes to the dead-letter topic and moves on", async () => {
    const world = await new World(4).init()
    worlds.push(world)
    const { inZero, elsewhere } = await mixedTopic(world)
    CompressionCodecs[CompressionTypes.ZSTD] = brokenZstd
    const consumer = world.consumer(undefined, { undecodableBatches: 'dead-letter' })
    const errors: MetricsStreamError[] = []
    consumer.on('sourceError', (error: MetricsStreamError) => errors.push(error))
    await consumer.start()
    await world.waitCaughtUp()
    expect(await read(world)).toEqual(groundTruth(elsewhere))
    expect(consumer.stats().deadLettered).toBe(inZero.length)
    expect(await world.stateCounter('dead')).toBe(inZero.length)
    expect(errors.length).toBe(consumer.stats().undecodableBatches)
    expect(consumer.sourceErrors()).toEqual([])
    // Each letter is a record batch as Kafka stored it: its records decode with a working codec.
    const letters = await world.readTopic(world.dlq, errors.length)
    let records = 0
    for (const letter of letters) {
      expect(letter.headers['x-error-code']).toBe('E_STREAM_UNDECODABLE')
      expect(letter.headers['x-source-partition']).toBe('0')
      records += Number(letter.headers['x-records'])
    }
    expect(records).toBe(inZero.length)
    const raw = await readValues(world, world.dlq, errors.length)
    let decoded = 0
    for (const batch of raw) {
      expect(batch.readInt8(16)).toBe(2) // magic
      expect(batch.readInt16BE(21) & 0x07).toBe(CompressionTypes.ZSTD)
      const count = batch.readInt32BE(57)
      const payload = await zstdCodec.decompress(batch.subarray(61))
      expect(payload.length).toBeGreaterThan(count)
      decoded += count
    }
    expect(decoded).toBe(inZero.length)
  })

  it('reports a crash of the whole kafkajs consumer (a codec not wrapped) and recovers', async () => {
    const world = await new World(2).init()
    worlds.push(world)
    const events = generateEvents(200, 601)
    const script = new WriterScript()
    for (const event of events) script.send(javaRecord(event, world.partitions))
    await java(world, { compression: 'zstd', script })
    // kafkajs retries a failed fetch a few times, then crashes and restarts: keep that short.
    const kafka = new Kafka({
      clientId: uniqueName('ms-crash'),
      brokers: urls.kafkaBrokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
    })
    const consumer: MetricsConsumer<InvoiceEvent> = createMetricsConsumer<InvoiceEvent>({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      source: kafkaSource({
        kafka,
        groupId: `${world.namespace}-g`,
        topics: [world.topic],
        consumer: FAST_GROUP,
      }),
    })
    const errors: MetricsStreamError[] = []
    consumer.on('sourceError', (error: MetricsStreamError) => errors.push(error))
    // Registered after the source was created: not wrapped, so the whole fetch fails in kafkajs.
    CompressionCodecs[CompressionTypes.ZSTD] = brokenZstd
    try {
      await consumer.start()
      await waitFor('the crash reported', () => errors.length > 0)
      expect(errors[0]).toMatchObject({ code: 'E_STREAM_KAFKA', retriable: true })
      expect(consumer.sourceErrors().map((p) => p.error.code)).toEqual(['E_STREAM_KAFKA'])
      expect(consumer.stats().applied).toBe(0)
      CompressionCodecs[CompressionTypes.ZSTD] = () => zstdCodec
      await world.waitCaughtUp()
      expect(await read(world)).toEqual(groundTruth(events))
      expect(consumer.sourceErrors()).toEqual([])
    } finally {
      await consumer.stop()
    }
  })
})
