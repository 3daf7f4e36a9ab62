/**
 * createEventProducer issues one `producer.send()` per key (so one partition per send, the
 * workaround for tulios/kafkajs#1798, see src/produce/producer.ts): a fake producer records the
 * sends; nothing here talks to Kafka.
 */
import type { Producer, ProducerRecord } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { createEventProducer, MetricsStreamError } from '../../../src/index.js'

interface Event {
  id: string
  n: number
}

/** A fake producer: records every send; `hold` keeps sends pending until released. */
function fakeProducer(options: { fail?: (record: ProducerRecord) => unknown; hold?: boolean } = {}) {
  const sends: ProducerRecord[] = []
  const pending: Array<() => void> = []
  let inFlight = 0
  let maxInFlight = 0
  const producer = {
    async send(record: ProducerRecord) {
      sends.push(record)
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      try {
        if (options.hold) await new Promise<void>((release) => pending.push(release))
        else await Promise.resolve()
        const error = options.fail?.(record)
        if (error !== undefined) throw error
        return []
      } finally {
        inFlight--
      }
    },
  } as unknown as Producer
  return {
    producer,
    sends,
    pending,
    maxInFlight: () => maxInFlight,
  }
}

/** 60 events over 13 keys, interleaved. */
const events: Event[] = Array.from({ length: 60 }, (_, n) => ({ id: `inv-${(n * 7) % 13}`, n }))

const decoded = (record: ProducerRecord) =>
  record.messages.map((m) => ({ key: m.key, event: JSON.parse(String(m.value)) as Event }))

describe('createEventProducer: one key per producer.send()', () => {
  it('sends every event once, each send carrying one key only, every key in order', async () => {
    const fake = fakeProducer()
    await createEventProducer<Event>({ producer: fake.producer, topic: 't', key: (e) => e.id }).send(events)

    for (const record of fake.sends) {
      expect(record.topic).toBe('t')
      expect(record.acks).toBe(-1)
      const keys = new Set(record.messages.map((m) => m.key))
      expect(keys.size).toBe(1)
      for (const { key, event } of decoded(record)) expect(key).toBe(event.id)
    }
    // Each key is exactly one send, whose events are that key's events in the order given.
    const byKey = new Map<string, number[]>()
    for (const record of fake.sends) {
      const [first] = decoded(record)
      expect(byKey.has(first?.key as string)).toBe(false)
      byKey.set(
        first?.key as string,
        decoded(record).map((d) => d.event.n),
      )
    }
    expect(fake.sends.length).toBe(13)
    for (const [key, ns] of byKey) {
      expect(ns).toEqual(events.filter((e) => e.id === key).map((e) => e.n))
    }
    // All events sent, none twice.
    const all = fake.sends.flatMap((r) => decoded(r).map((d) => d.event.n)).sort((a, b) => a - b)
    expect(all).toEqual(events.map((e) => e.n))
  })

  it('passes acks through and sends nothing for no events', async () => {
    const fake = fakeProducer()
    const producer = createEventProducer<Event>({
      producer: fake.producer,
      topic: 't',
      key: (e) => e.id,
      acks: 1,
    })
    await producer.send([])
    expect(fake.sends).toEqual([])
    await producer.send(events.slice(0, 3))
    expect(fake.sends.map((r) => r.acks)).toEqual([1, 1, 1])
  })

  it('sends one group at a time (concurrent idempotent requests lost records on the cluster)', async () => {
    const fake = fakeProducer({ hold: true })
    const done = createEventProducer<Event>({ producer: fake.producer, topic: 't', key: (e) => e.id }).send(
      events,
    )
    // Release the held sends one at a time until every group has been sent (bounded: a producer
    // that sends fewer groups fails the count below instead of hanging).
    for (let turn = 0; turn < 200 && (fake.sends.length < 13 || fake.pending.length > 0); turn++) {
      await new Promise((next) => setImmediate(next))
      fake.pending.shift()?.()
    }
    await done
    expect(fake.sends.length).toBe(13)
    expect(fake.maxInFlight()).toBe(1)
  })

  it('maps a failed send to E_STREAM_KAFKA (retriable as kafkajs says) and sends no later group', async () => {
    const refused = Object.assign(new Error('This server does not host this topic-partition'), {
      retriable: true,
    })
    const fake = fakeProducer({
      fail: (record) => (record.messages[0]?.key === 'inv-0' ? refused : undefined),
    })
    const producer = createEventProducer<Event>({ producer: fake.producer, topic: 't', key: (e) => e.id })
    const error = await producer.send(events).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(MetricsStreamError)
    expect((error as MetricsStreamError).code).toBe('E_STREAM_KAFKA')
    expect((error as MetricsStreamError).topic).toBe('t')
    expect((error as MetricsStreamError).retriable).toBe(true)
    expect((error as MetricsStreamError).cause).toBe(refused)
    // inv-0 is the first group: nothing is sent after its failure.
    expect(fake.sends.length).toBe(1)

    const permanent = Object.assign(new Error('idempotent needs acks -1'), { retriable: false })
    const failing = fakeProducer({ fail: () => permanent })
    const refusedForGood = await createEventProducer<Event>({
      producer: failing.producer,
      topic: 't',
      key: (e) => e.id,
    })
      .send(events.slice(0, 1))
      .then(
        () => undefined,
        (e: unknown) => e as MetricsStreamError,
      )
    expect(refusedForGood?.code).toBe('E_STREAM_KAFKA')
    expect(refusedForGood?.retriable).toBe(false)
  })
})
