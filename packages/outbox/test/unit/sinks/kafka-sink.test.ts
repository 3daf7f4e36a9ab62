/**
 * kafkaSink issues one `sendBatch()` per topic and key (so one partition per request, the
 * workaround for tulios/kafkajs#1798, see src/sinks/kafka-sink.ts), keeps the outbox order of a
 * key, and still isolates a record the broker refuses for good. A fake producer records the
 * requests; nothing here talks to Kafka.
 */
import { describe, expect, it } from 'vitest'
import {
  type KafkaEffectPayload,
  type KafkaProducerLike,
  kafkaSink,
  type OutboxDelivery,
  OutboxError,
} from '../../../src/index.ts'

type Batch = Parameters<KafkaProducerLike['sendBatch']>[0]

/** A fake producer: records each request; `fail` may throw for one. */
function fakeProducer(fail?: (batch: Batch, call: number) => unknown) {
  const batches: Batch[] = []
  let connects = 0
  let inFlight = 0
  let maxInFlight = 0
  const producer: KafkaProducerLike = {
    async connect() {
      connects++
    },
    async sendBatch(batch) {
      const call = batches.push(batch)
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      try {
        await Promise.resolve()
        const error = fail?.(batch, call)
        if (error !== undefined) throw error
        return []
      } finally {
        inFlight--
      }
    },
  }
  return { producer, batches, connects: () => connects, maxInFlight: () => maxInFlight }
}

const signal = new AbortController().signal
const context = { sink: 'kafka', signal }

function delivery(seq: number, topic: string, key: string | null, value = `v${seq}`) {
  return {
    seq,
    attempts: 0,
    payload: { topic, key, value, headers: { h: 'x' } },
  } satisfies OutboxDelivery<KafkaEffectPayload>
}

/** 40 records over 2 topics, 5 keys each, interleaved, and 4 without a key. */
const items = [
  ...Array.from({ length: 40 }, (_, i) => delivery(i + 1, i % 2 === 0 ? 'a' : 'b', `k${i % 5}`)),
  ...Array.from({ length: 4 }, (_, i) => delivery(41 + i, 'a', null)),
]

/** The records of a request as (topic, key, seq). */
const records = (batch: Batch) =>
  batch.topicMessages.flatMap(({ topic, messages }) =>
    messages.map((m) => ({ topic, key: m.key, seq: Number(m.headers['x-outbox-seq']) })),
  )

/** A kafkajs-like permanent refusal (the broker's answer as the cause). */
function tooLarge(): Error {
  const broker = Object.assign(new Error('The request included a message larger than the max message size'), {
    type: 'MESSAGE_TOO_LARGE',
    retriable: false,
  })
  return Object.assign(new Error('Message too large'), { name: 'KafkaJSNonRetriableError', cause: broker })
}

describe('kafkaSink: one topic and key per sendBatch()', () => {
  it('delivers every record once, each request carrying one topic and one key, in outbox order per key', async () => {
    const fake = fakeProducer()
    const outcomes = await kafkaSink({ producer: fake.producer, timeout: 2_000 }).deliver(items, context)
    expect(outcomes).toEqual(items.map(() => ({ status: 'done' })))

    for (const batch of fake.batches) {
      expect(batch.acks).toBe(-1)
      expect(batch.timeout).toBe(2_000)
      expect(batch.topicMessages.length).toBe(1)
      const sent = records(batch)
      expect(new Set(sent.map((r) => r.key)).size).toBe(1)
      // A record without a key goes alone (kafkajs spreads those over partitions).
      if (sent[0]?.key === null) expect(sent.length).toBe(1)
    }
    // 2 topics x 5 keys, and 4 records without a key; one request at a time (concurrent
    // idempotent requests lost records on the cluster, see the sink's module note).
    expect(fake.batches.length).toBe(14)
    expect(fake.maxInFlight()).toBe(1)
    const keyed = new Map<string, number[]>()
    for (const batch of fake.batches) {
      const sent = records(batch)
      if (sent[0]?.key === null) continue
      const name = `${sent[0]?.topic}/${sent[0]?.key}`
      expect(keyed.has(name)).toBe(false)
      keyed.set(
        name,
        sent.map((r) => r.seq),
      )
    }
    for (const [name, seqs] of keyed) {
      const expected = items.filter((i) => `${i.payload.topic}/${i.payload.key}` === name).map((i) => i.seq)
      expect(seqs).toEqual(expected)
    }
    const all = fake.batches.flatMap(records).map((r) => r.seq)
    expect(all.sort((x, y) => x - y)).toEqual(items.map((i) => i.seq))
    // The value and headers as recorded, with the identity header.
    const first = fake.batches
      .flatMap((b) => b.topicMessages[0]?.messages ?? [])
      .find((m) => m.value === 'v1')
    expect(first).toEqual({ key: 'k0', value: 'v1', headers: { h: 'x', 'x-outbox-seq': '1' } })
  })

  it('isolates a record refused for good within its key; the other keys are sent once and delivered', async () => {
    const batch = [
      delivery(1, 't', 'a'),
      delivery(2, 't', 'b'),
      delivery(3, 't', 'a', 'too-big'),
      delivery(4, 't', 'b'),
      delivery(5, 't', 'a'),
      delivery(6, 't', null, 'too-big'),
    ]
    const fake = fakeProducer((b) =>
      b.topicMessages.some((t) => t.messages.some((m) => m.value === 'too-big')) ? tooLarge() : undefined,
    )
    const outcomes = await kafkaSink({ producer: fake.producer }).deliver(batch, context)
    expect(outcomes.map((o) => o.status)).toEqual(['done', 'done', 'rejected', 'done', 'done', 'rejected'])
    expect(outcomes[2]).toEqual({ status: 'rejected', error: expect.stringMatching(/^MESSAGE_TOO_LARGE: /) })
    expect(outcomes[5]).toEqual({ status: 'rejected', error: expect.stringMatching(/^MESSAGE_TOO_LARGE: /) })
    const requests = fake.batches.map((b) => records(b).map((r) => r.seq))
    // Key b once, key a as one request then one record at a time in order, the keyless one once.
    expect(requests.filter((seqs) => seqs.includes(2))).toEqual([[2, 4]])
    expect(requests.filter((seqs) => seqs.includes(1) || seqs.includes(3) || seqs.includes(5))).toEqual([
      [1, 3, 5],
      [1],
      [3],
      [5],
    ])
    expect(requests.filter((seqs) => seqs.includes(6))).toEqual([[6]])
  })

  it('fails the delivery with a retriable error, sending no later request', async () => {
    const down = Object.assign(new Error('Connection error: ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
    })
    const fake = fakeProducer((_, call) => (call === 1 ? down : undefined))
    const error = await kafkaSink({ producer: fake.producer })
      .deliver(items, context)
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(error).toBe(down)
    // The first request failed: nothing is sent after it.
    expect(fake.batches.length).toBe(1)
  })

  it('starts no new request once the delivery is aborted, and fails with the reason', async () => {
    const abort = new AbortController()
    const reason = new Error('delivery timed out')
    const fake = fakeProducer((_, call) => {
      if (call === 1) abort.abort(reason)
      return undefined
    })
    const error = await kafkaSink({ producer: fake.producer })
      .deliver(items, { sink: 'kafka', signal: abort.signal })
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(error).toBe(reason)
    expect(fake.batches.length).toBe(1)
  })

  it('connects a disconnected producer once for the requests that found it disconnected, and sends again', async () => {
    let connected = false
    const fake = fakeProducer(() => (connected ? undefined : new Error('The producer is disconnected')))
    const connect = fake.producer.connect as () => Promise<void>
    fake.producer.connect = async () => {
      await connect()
      connected = true
    }
    const outcomes = await kafkaSink({ producer: fake.producer }).deliver(items, context)
    expect(outcomes.every((o) => o.status === 'done')).toBe(true)
    expect(fake.connects()).toBe(1)
  })

  it('says a refused SASL login as such', async () => {
    const sasl = Object.assign(new Error('SASL PLAIN authentication failed'), {
      name: 'KafkaJSSASLAuthenticationError',
    })
    const fake = fakeProducer(() => sasl)
    const error = await kafkaSink({ producer: fake.producer })
      .deliver(items.slice(0, 3), context)
      .then(
        () => undefined,
        (e: unknown) => e as OutboxError,
      )
    expect(error).toBeInstanceOf(OutboxError)
    expect(error?.code).toBe('E_OUTBOX_SINK')
    expect(error?.message).toMatch(/^Kafka refused the SASL credentials \(/)
  })
})
