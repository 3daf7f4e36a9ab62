import { describe, expect, it } from 'vitest'
import {
  type CacheLike,
  cacheSink,
  type KafkaProducerLike,
  kafkaSink,
  OutboxError,
} from '../../../src/index.ts'
import { searchSink } from '../../../src/search.ts'

function fail(make: () => unknown): OutboxError {
  try {
    make()
  } catch (error) {
    expect(error).toBeInstanceOf(OutboxError)
    return error as OutboxError
  }
  throw new Error('expected the factory to throw')
}

const cache: CacheLike = { invalidateTags: async () => undefined, delete: async () => undefined }

function recordingProducer() {
  const timeouts: Array<number | undefined> = []
  const producer: KafkaProducerLike = {
    async sendBatch(batch) {
      timeouts.push(batch.timeout)
    },
  }
  return { producer, timeouts }
}

const signal = new AbortController().signal
const record = { seq: 1, attempts: 0, payload: { topic: 't', key: 'k', value: 'v', headers: {} } }

describe('sink factories reject what they do not know', () => {
  it('names unknown keys of kafkaSink, cacheSink and searchSink', () => {
    const { producer } = recordingProducer()
    const kafka = fail(() => kafkaSink({ producer, timout: 5, acks: 1 } as never))
    expect(kafka.code).toBe('E_OUTBOX_INVALID_OPTION')
    expect(kafka.message).toBe('unknown kafkaSink option(s): timout, acks')
    const cached = fail(() => cacheSink({ cache, mode: 'expire' } as never))
    expect(cached.code).toBe('E_OUTBOX_INVALID_OPTION')
    expect(cached.message).toBe('unknown cacheSink option(s): mode')
    const search = fail(() => searchSink({ search: {} as never, index: 'x' } as never))
    expect(search.code).toBe('E_OUTBOX_INVALID_OPTION')
    expect(search.message).toBe('unknown searchSink option(s): index')
  })

  it('rejects a missing producer, cache or search client', () => {
    expect(fail(() => kafkaSink({} as never)).code).toBe('E_OUTBOX_INVALID_OPTION')
    expect(fail(() => cacheSink({ cache: {} as never })).code).toBe('E_OUTBOX_INVALID_OPTION')
    expect(fail(() => searchSink({} as never)).code).toBe('E_OUTBOX_INVALID_OPTION')
    expect(fail(() => kafkaSink(null as never)).code).toBe('E_OUTBOX_INVALID_OPTION')
  })

  it("takes kafkaSink's timeout as a Duration (a number stays milliseconds)", async () => {
    for (const [timeout, sent] of [
      [undefined, 10_000],
      [2_500, 2_500],
      ['5s', 5_000],
      ['1.5ms', 2],
    ] as const) {
      const { producer, timeouts } = recordingProducer()
      const sink = kafkaSink(timeout === undefined ? { producer } : { producer, timeout })
      await sink.deliver([record], { sink: 'kafka', signal })
      expect(timeouts).toEqual([sent])
    }
    const { producer } = recordingProducer()
    expect(fail(() => kafkaSink({ producer, timeout: '5 s' as never })).code).toBe('E_OUTBOX_INVALID_OPTION')
  })
})
