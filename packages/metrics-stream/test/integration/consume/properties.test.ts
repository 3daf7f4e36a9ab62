/**
 * Property-based: malformed and oversized records interleaved with a real event stream, on real
 * Kafka and Redis. `fast-check` generates the bad records (random bytes, invalid UTF-8, any JSON,
 * events with one field broken, null values, records of hundreds of KB, odd keys and headers);
 * they are produced between the valid events of one seeded stream. Whatever they are, the consumer
 * must never stall (lag reaches 0), dead-letter exactly the bad ones (the `.dlq` topic holds each,
 * with its error code), and apply the valid ones exactly (figures equal the truth computed from the
 * valid events alone). `FUZZ_RUNS` scales the number of bad records (default 300).
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { createDashboard } from '../../../src/index.js'
import { World } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 300)
const SEED = Number(process.env.FUZZ_SEED ?? 20261202)

/** A record to produce: its key (null: none), value (null: a tombstone) and headers. */
interface RawRecord {
  key: string | null
  value: Buffer | null
  headers?: Record<string, string> | undefined
  kind: string
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value))

/** One broken field of a valid event; every one of them fails the view's validator or its plan. */
const brokenField: fc.Arbitrary<[string, (e: InvoiceEvent) => unknown]> = fc.oneof(
  fc
    .string()
    .map(
      (s) =>
        ['status', (e: InvoiceEvent) => ({ ...e, status: `x${s}` })] as [
          string,
          (e: InvoiceEvent) => unknown,
        ],
    ),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter((d) => !Number.isSafeInteger(d))
    .map(
      (d) =>
        ['amountCents', (e: InvoiceEvent) => ({ ...e, amountCents: d })] as [
          string,
          (e: InvoiceEvent) => unknown,
        ],
    ),
  fc
    .string()
    .map(
      (s) =>
        ['amountCents', (e: InvoiceEvent) => ({ ...e, amountCents: s })] as [
          string,
          (e: InvoiceEvent) => unknown,
        ],
    ),
  fc
    .string()
    .map((s) => ['at', (e: InvoiceEvent) => ({ ...e, at: s })] as [string, (e: InvoiceEvent) => unknown]),
  fc
    .integer()
    .map(
      (n) =>
        ['clientId', (e: InvoiceEvent) => ({ ...e, clientId: n })] as [string, (e: InvoiceEvent) => unknown],
    ),
  fc.constant(['previous', (e: InvoiceEvent) => ({ ...e, previous: {} })] as [
    string,
    (e: InvoiceEvent) => unknown,
  ]),
  fc.constant(['id', (e: InvoiceEvent) => ({ ...e, id: 42 })] as [string, (e: InvoiceEvent) => unknown]),
)

function badRecord(template: InvoiceEvent): fc.Arbitrary<RawRecord> {
  const key = fc.option(fc.string({ maxLength: 40 }), { nil: null })
  const headers = fc.option(
    fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    {
      nil: undefined,
    },
  )
  return fc.oneof(
    fc
      .record({ key, headers, bytes: fc.uint8Array({ maxLength: 2_000 }) })
      .map(({ key, headers, bytes }) => ({
        key,
        headers,
        value: Buffer.from(bytes),
        kind: 'random bytes',
      })),
    // Lone continuation bytes and overlong forms: not UTF-8 at all.
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({
      key: 'utf8',
      value: Buffer.concat([
        Buffer.from('{"id":"'),
        Buffer.from(bytes.map((b) => 0x80 | (b & 0x3f))),
        Buffer.from('"}'),
      ]),
      kind: 'invalid UTF-8',
    })),
    fc.jsonValue().map((value) => ({ key: null, value: json(value), kind: 'any JSON' })),
    brokenField.map(([field, broken]) => ({
      key: template.id,
      value: json(broken(template)),
      kind: `event with a broken ${field}`,
    })),
    fc.constant({ key: 'tombstone', value: null, kind: 'null value' }),
    fc.integer({ min: 200_000, max: 700_000 }).map((size) => ({
      key: 'big',
      value: Buffer.alloc(size, 0x7b), // '{{{{...': large and not JSON
      kind: 'oversized garbage',
    })),
  )
}

describe('malformed and oversized records interleaved with real events', () => {
  let world: World | undefined
  afterEach(async () => {
    await world?.dispose()
    world = undefined
  })

  it(`dead-letters exactly the bad ones, applies the rest exactly, never stalls (${RUNS} bad records)`, async () => {
    world = await new World(4).init()
    const events = generateEvents(400, SEED)
    const template = events[0] as InvoiceEvent
    const sampled = fc.sample(badRecord(template), { numRuns: RUNS, seed: SEED })
    const bad: RawRecord[] = []
    // Valid events of a few hundred KB (an extra field): applied like any other.
    const padded = new Set([3, 77, 150])
    // Interleave: after every valid event, the next bad records (same partition or any).
    const records: RawRecord[] = []
    const perEvent = Math.ceil(sampled.length / events.length)
    let next = 0
    for (const [i, event] of events.entries()) {
      const value = padded.has(i) ? { ...event, padding: 'p'.repeat(300_000) } : event
      records.push({ key: event.id, value: json(value), kind: 'valid' })
      for (let j = 0; j < perEvent && next < sampled.length; j++) {
        const record = sampled[next++] as RawRecord
        bad.push(record)
        records.push(record)
      }
      // Mid-stream, a burst of large garbage on one key: one chunk's dead letters are then several
      // MB, more than one produce request to the dead-letter topic may carry.
      if (i === 200) {
        for (let k = 0; k < 6; k++) {
          const burst: RawRecord = {
            key: 'burst',
            value: Buffer.alloc(600_000, 0x5b),
            kind: 'oversized burst',
          }
          bad.push(burst)
          records.push(burst)
        }
      }
    }
    // One record per produce request when large (the broker takes at most 1 MB per batch).
    let batch: RawRecord[] = []
    const flush = async () => {
      if (batch.length === 0) return
      await world?.producer.send({
        topic: world.topic,
        messages: batch.map((r) =>
          r.headers ? { key: r.key, value: r.value, headers: r.headers } : { key: r.key, value: r.value },
        ),
      })
      batch = []
    }
    for (const record of records) {
      if ((record.value?.length ?? 0) > 100_000) {
        await flush()
        batch.push(record)
        await flush()
      } else {
        batch.push(record)
        if (batch.length >= 200) await flush()
      }
    }
    await flush()

    const consumer = world.consumer()
    await consumer.start()
    await world.waitCaughtUp(1, 180_000)
    const stats = consumer.stats()
    const dashboard = createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      cache: false,
    })
    const snapshot = await dashboard.read(READ_RANGE)
    await dashboard.close()

    const kinds = new Map<string, number>()
    for (const record of bad) kinds.set(record.kind, (kinds.get(record.kind) ?? 0) + 1)
    console.log(
      `[properties] seed ${SEED}: ${events.length} valid events (3 of ~300 KB), ${bad.length} bad records ${JSON.stringify(Object.fromEntries(kinds))}; applied ${stats.applied}, dead-lettered ${stats.deadLettered}, source errors ${stats.sourceErrors}`,
    )
    const dlq = await world.readTopic(world.dlq, bad.length)
    const sources = dlq.map((r) => `${r.headers['x-source-partition']}:${r.headers['x-source-offset']}`)
    expect(new Set(sources).size).toBe(bad.length) // each bad record once
    expect(asTruth(snapshot.figures)).toEqual(groundTruth(events))
    expect(stats.applied).toBe(events.length)
    expect(stats.deadLettered).toBe(bad.length)
    expect(dlq).toHaveLength(bad.length)
    expect(dlq.every((r) => /^E_STREAM_/.test(r.headers['x-error-code'] ?? ''))).toBe(true)
  }, 300_000)
})
