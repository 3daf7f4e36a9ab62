/**
 * One option vocabulary (issue 15), unit level: every factory refuses unknown keys by name
 * (`E_STREAM_INVALID_OPTION`), the renamed options (`chunkSize` -> `batchSize`, `restartDelay`
 * -> `retryDelay`, `keepAlive` -> `keepAliveInterval`) keep working under their old name with one
 * `DeprecationWarning` per process, both names given is an error, and `kafkaSource` takes
 * durations (`commitInterval`, `retryDelay`, `maxRetryDelay`). kafkajs is replaced by a fake
 * consumer here (no network); the same options against the real broker are exercised by every
 * integration test (the harness passes `commitInterval: '1s'`).
 */
import type { ServerResponse } from 'node:http'
import type { Redis } from 'ioredis'
import { type Consumer, Kafka, logLevel } from 'kafkajs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createDashboard,
  createEventProducer,
  createMetricsConsumer,
  type Dashboard,
  DEFAULT_KAFKA_SOURCE_OPTIONS,
  DEFAULT_METRICS_CONSUMER_OPTIONS,
  DEFAULT_SSE_OPTIONS,
  defineAggregates,
  defineView,
  kafkaSource,
  MetricsStreamError,
  readDashboard,
  type Source,
  StreamUnavailableError,
  startRebuild,
  streamDashboard,
} from '../../src/index.js'
import { invoiceView } from '../helpers/invoices.js'

// A unit test may use a fake: nothing below talks to Redis or Kafka.
const fakeRedis = {} as Redis
const fakeSource = { topics: ['t'] } as unknown as Source
const base = { redis: fakeRedis, namespace: 'ns', view: invoiceView, source: fakeSource }

/** The error `fn` throws (sync), or undefined. */
function thrown(fn: () => unknown): MetricsStreamError | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof MetricsStreamError) return error
    throw error
  }
  return undefined
}

/** A kafkajs consumer that records what the source asks of it. */
class FakeConsumer {
  readonly events = {
    GROUP_JOIN: 'group_join',
    FETCH: 'fetch',
    CRASH: 'crash',
    START_BATCH_PROCESS: 'start_batch_process',
  }
  readonly handlers = new Map<string, (event: unknown) => void>()
  runConfig: Record<string, unknown> | undefined
  disconnects = 0
  constructor(readonly config: Record<string, unknown>) {}
  on(event: string, handler: (event: unknown) => void): void {
    this.handlers.set(event, handler)
  }
  connect(): Promise<void> {
    return Promise.resolve()
  }
  subscribe(): Promise<void> {
    return Promise.resolve()
  }
  async run(config: Record<string, unknown>): Promise<void> {
    this.runConfig = config
  }
  async disconnect(): Promise<void> {
    this.disconnects++
  }
  /** kafkajs gave up on this consumer (`restart: false`): the source must start a new one. */
  crash(): void {
    this.handlers.get(this.events.CRASH)?.({ payload: { error: new Error('boom'), restart: false } })
  }
}

function fakeKafka(): { kafka: Kafka; consumers: FakeConsumer[] } {
  const kafka = new Kafka({ clientId: 'unit', brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING })
  const consumers: FakeConsumer[] = []
  vi.spyOn(kafka, 'consumer').mockImplementation((config) => {
    const consumer = new FakeConsumer(config as unknown as Record<string, unknown>)
    consumers.push(consumer)
    return consumer as unknown as Consumer
  })
  return { kafka, consumers }
}

const handle = async () => undefined

/** The DeprecationWarnings emitted while `fn` runs. */
async function deprecations(fn: () => unknown): Promise<string[]> {
  const codes: string[] = []
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation(((
    _message: string,
    options?: { type?: string; code?: string },
  ) => {
    if (options?.type === 'DeprecationWarning' && options.code) codes.push(options.code)
  }) as typeof process.emitWarning)
  try {
    await fn()
  } finally {
    spy.mockRestore()
  }
  return codes
}

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('every factory refuses unknown option keys, by name', () => {
  it('createMetricsConsumer, createDashboard, kafkaSource, createEventProducer', () => {
    const consumer = thrown(() => createMetricsConsumer({ ...base, chunksize: 5 } as never))
    expect(consumer?.code).toBe('E_STREAM_INVALID_OPTION')
    expect(consumer?.message).toContain('createMetricsConsumer: unknown option "chunksize"')
    const two = thrown(() => createMetricsConsumer({ ...base, bachSize: 5, retry: 1 } as never))
    expect(two?.message).toContain('unknown options "bachSize", "retry"')
    const dashboard = thrown(() =>
      createDashboard({ redis: fakeRedis, namespace: 'ns', view: invoiceView, timeOut: 5 } as never),
    )
    expect(dashboard?.code).toBe('E_STREAM_INVALID_OPTION')
    expect(dashboard?.message).toContain('"timeOut"')
    // readDashboard has no in-process copy and no subscriber: those keys are unknown to it.
    const oneShot = thrown(() =>
      readDashboard({ redis: fakeRedis, namespace: 'ns', view: invoiceView, cache: true } as never),
    )
    expect(oneShot?.code).toBe('E_STREAM_INVALID_OPTION')
    expect(oneShot?.message).toContain('readDashboard: unknown option "cache"')
    const { kafka } = fakeKafka()
    const source = thrown(() =>
      kafkaSource({ kafka, groupId: 'g', topics: ['t'], commitIntervalMs: 5 } as never),
    )
    expect(source?.code).toBe('E_STREAM_INVALID_OPTION')
    expect(source?.message).toContain('kafkaSource: unknown option "commitIntervalMs"')
    const producer = thrown(() =>
      createEventProducer({ producer: {} as never, topic: 't', key: () => 'k', ack: 1 } as never),
    )
    expect(producer?.message).toContain('createEventProducer: unknown option "ack"')
    expect(
      thrown(() =>
        createEventProducer({ producer: {} as never, topic: 't', key: () => 'k', acks: 0 as never }),
      )?.code,
    ).toBe('E_STREAM_INVALID_OPTION')
  })

  it('defineView and each aggregate builder', () => {
    type Row = { s: string; n: number }
    const build = defineAggregates<Row>()
    const aggregates = build((a) => ({ n: a.count() }))
    const view = thrown(() =>
      defineView({ name: 'v', eventTime: () => 0, aggregates, row: () => ({}) } as never),
    )
    expect(view?.message).toContain('defineView: unknown option "row"')
    expect(thrown(() => build((a) => ({ x: a.count({ groupBy: {} } as never) })))?.message).toContain(
      'count: unknown option "groupBy"',
    )
    expect(
      thrown(() => build((a) => ({ x: a.sum({ value: (r: Row) => r.n, member: (r: Row) => r.s } as never) })))
        ?.message,
    ).toContain('sum: unknown option "member"')
    // `by` is not an option of top: it used to be ignored silently.
    expect(
      thrown(() =>
        build((a) => ({ x: a.top({ member: (r: Row) => r.s, by: { s: (r: Row) => r.s } } as never) })),
      )?.message,
    ).toContain('top: unknown option "by"')
    expect(
      thrown(() => build((a) => ({ x: a.distinct({ value: (r: Row) => r.s, size: 3 } as never) })))?.message,
    ).toContain('distinct: unknown option "size"')
  })

  it('streamDashboard and startRebuild (before touching the response or Redis)', async () => {
    const response = {} as ServerResponse
    await expect(
      streamDashboard({} as Dashboard<any>, response, { keepalive: '1s' } as never),
    ).rejects.toThrow('streamDashboard: unknown option "keepalive"')
    await expect(streamDashboard({} as Dashboard<any>, response, { keepAliveInterval: 0 })).rejects.toSatisfy(
      (error) => error instanceof MetricsStreamError && error.code === 'E_STREAM_INVALID_OPTION',
    )
    // The rebuild chooses its generation: giving one is an unknown key, refused by name.
    await expect(startRebuild({ ...base, generation: 2 } as never)).rejects.toThrow(
      'startRebuild: unknown option "generation"',
    )
    await expect(startRebuild({ ...base, batchSize: 0 })).rejects.toSatisfy(
      (error) => error instanceof MetricsStreamError && error.code === 'E_STREAM_INVALID_OPTION',
    )
  })
})

describe('renamed options: the old name is a deprecated alias', () => {
  it('chunkSize -> batchSize: same value, one warning per process, both names refused', async () => {
    expect(DEFAULT_METRICS_CONSUMER_OPTIONS.batchSize).toBe(500)
    expect(createMetricsConsumer({ ...base, batchSize: 7 }).stats().batchSize).toBe(7)
    const codes = await deprecations(() => {
      const first = createMetricsConsumer({ ...base, chunkSize: 9 })
      expect(first.stats().batchSize).toBe(9)
      expect(first.stats().chunkSize).toBe(9)
      createMetricsConsumer({ ...base, chunkSize: 11 })
    })
    expect(codes).toEqual(['AYALA_STREAM_CHUNKSIZE'])
    const both = thrown(() => createMetricsConsumer({ ...base, batchSize: 5, chunkSize: 5 }))
    expect(both?.code).toBe('E_STREAM_INVALID_OPTION')
    expect(both?.message).toContain('"chunkSize" is the deprecated name of "batchSize"')
    expect(thrown(() => createMetricsConsumer({ ...base, chunkSize: 0 }))?.message).toContain(
      'chunkSize must be',
    )
    expect(thrown(() => createMetricsConsumer({ ...base, batchSize: 5_001 }))?.message).toContain(
      'batchSize must be',
    )
  })

  it('keepAlive -> keepAliveInterval (streamDashboard)', async () => {
    expect(DEFAULT_SSE_OPTIONS.keepAliveInterval).toBe('15s')
    // A dashboard with nothing to show: streamDashboard answers 503 without opening the stream.
    const dashboard = {
      subscribe: () =>
        (async function* () {
          yield* []
          throw new StreamUnavailableError('down', { view: 'v', reason: 'timeout', timeoutMs: 1 })
        })(),
    } as unknown as Dashboard<any>
    const statuses: number[] = []
    const response = {
      headersSent: false,
      once: () => undefined,
      writeHead: (status: number) => statuses.push(status),
      end: () => undefined,
    } as unknown as ServerResponse
    const codes = await deprecations(async () => {
      await streamDashboard(dashboard, response, { keepAlive: '1s' })
      await streamDashboard(dashboard, response, { keepAlive: 1_000 })
    })
    expect(codes).toEqual(['AYALA_STREAM_KEEPALIVE'])
    expect(statuses).toEqual([503, 503])
    await expect(
      streamDashboard(dashboard, response, { keepAlive: '1s', keepAliveInterval: '1s' }),
    ).rejects.toThrow('"keepAlive" is the deprecated name of "keepAliveInterval"')
  })

  it('restartDelay -> retryDelay (kafkaSource): restarts after retryDelay, doubling up to maxRetryDelay', async () => {
    vi.useFakeTimers()
    const { kafka, consumers } = fakeKafka()
    let source: Source | undefined
    const codes = await deprecations(() => {
      source = kafkaSource({ kafka, groupId: 'g', topics: ['t'], restartDelay: 500, maxRetryDelay: '800ms' })
    })
    expect(codes).toEqual(['AYALA_STREAM_RESTARTDELAY'])
    const errors: string[] = []
    await source?.start(handle, { error: (error) => errors.push(error.code), recovered: () => undefined })
    expect(consumers).toHaveLength(1)
    // First restart after retryDelay (500 ms), then doubling, capped by maxRetryDelay (800 ms).
    for (const [index, delay] of [
      [0, 500],
      [1, 800],
      [2, 800],
    ] as const) {
      consumers[index]?.crash()
      await vi.advanceTimersByTimeAsync(delay - 1)
      expect(consumers).toHaveLength(index + 1)
      await vi.advanceTimersByTimeAsync(1)
      expect(consumers).toHaveLength(index + 2)
      expect(consumers[index]?.disconnects).toBe(1)
    }
    expect(errors).toEqual(['E_STREAM_KAFKA', 'E_STREAM_KAFKA', 'E_STREAM_KAFKA'])
    await source?.stop()
    expect(
      thrown(() => kafkaSource({ kafka, groupId: 'g', topics: ['t'], restartDelay: 1, retryDelay: 1 }))
        ?.message,
    ).toContain('"restartDelay" is the deprecated name of "retryDelay"')
  })
})

describe('kafkaSource takes durations', () => {
  it('commitInterval: a number of ms or a string with its unit, handed to kafkajs in ms', async () => {
    expect(DEFAULT_KAFKA_SOURCE_OPTIONS.commitInterval).toBe('5s')
    const intervals: unknown[] = []
    for (const commitInterval of [undefined, 750, '2s', '1.5s'] as const) {
      const { kafka, consumers } = fakeKafka()
      const source = kafkaSource({ kafka, groupId: 'g', topics: ['t'], commitInterval })
      await source.start(handle)
      intervals.push(consumers[0]?.runConfig?.autoCommitInterval)
      await source.stop()
    }
    expect(intervals).toEqual([5_000, 750, 2_000, 1_500])
  })

  it('refuses invalid durations and counts', () => {
    const { kafka } = fakeKafka()
    const options = { kafka, groupId: 'g', topics: ['t'] }
    for (const bad of [
      { commitInterval: '5 s' },
      { commitInterval: Number.POSITIVE_INFINITY },
      { retryDelay: 0 },
      { maxRetryDelay: '-1s' },
      { partitionsConsumedConcurrently: 0 },
      { topics: [] },
    ]) {
      expect(thrown(() => kafkaSource({ ...options, ...bad } as never))?.code, JSON.stringify(bad)).toBe(
        'E_STREAM_INVALID_OPTION',
      )
    }
  })
})

describe('kafkaSource reads committed records only', () => {
  it('hands kafkajs readUncommitted: false, whatever consumer settings it is given', async () => {
    const configs: unknown[] = []
    for (const consumer of [undefined, { readUncommitted: false }, { maxWaitTimeInMs: 100 }]) {
      const { kafka, consumers } = fakeKafka()
      const source = kafkaSource({ kafka, groupId: 'g', topics: ['t'], consumer })
      await source.start(handle)
      configs.push(consumers[0]?.config.readUncommitted)
      await source.stop()
    }
    expect(configs).toEqual([false, false, false])
  })

  it('refuses consumer.readUncommitted: true (aborted transactions would count)', () => {
    const { kafka, consumers } = fakeKafka()
    const error = thrown(() =>
      kafkaSource({ kafka, groupId: 'g', topics: ['t'], consumer: { readUncommitted: true } }),
    )
    expect(error?.code).toBe('E_STREAM_INVALID_OPTION')
    expect(error?.message).toContain('readUncommitted')
    expect(consumers).toHaveLength(0)
  })
})
