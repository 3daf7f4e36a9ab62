/**
 * Dashboard reads bounded (unit: a fake Redis whose MULTI answers when the test says, fake
 * timers): the deadline's precedence (call > instance > default), the breaker refusing without a
 * command once open and probing after its cooldown, stale answers from the kept snapshot (age,
 * version, reason), `E_STREAM_UNAVAILABLE` when none is kept or `staleIfError: false`, and a
 * Redis error reply passing through without tripping the breaker. The real thing (a proxy
 * blackholed and cut in front of a real Redis) is `integration/read/bounded-reads.test.ts`.
 */
import type { Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  createDashboard,
  DEFAULT_DASHBOARD_OPTIONS,
  defineAggregates,
  defineView,
  MetricsStreamError,
  StreamUnavailableError,
} from '../../../src/index.js'

const aggregates = defineAggregates<{ n: number }>()((a) => ({ count: a.count() }))
const view = defineView<{ n: number }, { n: number }, typeof aggregates>({
  name: 'v',
  eventTime: () => 0,
  aggregates,
})

type Mode = 'answer' | 'hang' | 'refuse' | 'reply-error'

/** A Redis whose MULTI answers version `version` and count `count`, hangs, or fails. */
class FakeRedis {
  mode: Mode = 'answer'
  version = 1
  count = 7
  execs = 0
  multi() {
    const commands: string[] = []
    const queue = (command: string) => () => {
      commands.push(command)
      return chain
    }
    const chain: Record<string, unknown> = {
      get: queue('get'),
      hmget: queue('hmget'),
      hgetall: queue('hgetall'),
      exec: () => {
        this.execs++
        if (this.mode === 'hang') return new Promise(() => undefined)
        if (this.mode === 'refuse') return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'))
        if (this.mode === 'reply-error') {
          const error = new Error('WRONGTYPE Operation against a key holding the wrong kind of value')
          error.name = 'ReplyError'
          return Promise.resolve([[error, null]])
        }
        return Promise.resolve(
          commands.map((command) => {
            if (command === 'get') return [null, null]
            if (command === 'hmget') return [null, [String(this.version), 'e1', 'live']]
            return [null, { _: String(this.count) }]
          }),
        )
      },
    }
    return chain
  }
}

function dashboardOn(redis: FakeRedis, options: Record<string, unknown> = {}) {
  return createDashboard({
    redis: redis as unknown as Redis,
    namespace: 'ns',
    view,
    cache: false,
    ...options,
  })
}

/** Settle `promise`, advancing fake time by `ms` first; returns the value or the error. */
async function settle<T>(promise: Promise<T>, ms: number): Promise<T | unknown> {
  const outcome = promise.then(
    (value) => value,
    (error: unknown) => error,
  )
  await vi.advanceTimersByTimeAsync(ms)
  return outcome
}

describe('dashboard reads: deadline, breaker, stale answers', () => {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('defaults: 500 ms deadline, 5 failures, 2 s cool-down, stale answers up to 1 h, heartbeat 1 s', () => {
    expect(DEFAULT_DASHBOARD_OPTIONS).toMatchObject({
      timeout: '500ms',
      breakerThreshold: 5,
      breakerCooldown: '2s',
      staleIfError: '1h',
      heartbeatInterval: '1s',
    })
    expect(Object.isFrozen(DEFAULT_DASHBOARD_OPTIONS)).toBe(true)
  })

  it('rejects unknown and invalid options by name', () => {
    const redis = new FakeRedis()
    const fails = (options: Record<string, unknown>) => {
      try {
        dashboardOn(redis, options)
        return undefined
      } catch (error) {
        return error instanceof MetricsStreamError ? `${error.code} ${error.message}` : String(error)
      }
    }
    expect(fails({ timout: 100 })).toMatch(/E_STREAM_INVALID_OPTION .*"timout"/)
    expect(fails({ timeout: -1 })).toMatch(/E_STREAM_INVALID_OPTION .*timeout/)
    expect(fails({ timeout: 0 })).toMatch(/E_STREAM_INVALID_OPTION .*timeout/)
    expect(fails({ breakerThreshold: 0 })).toMatch(/breakerThreshold/)
    expect(fails({ heartbeatInterval: 0 })).toMatch(/heartbeatInterval/)
    expect(fails({ staleIfError: false, heartbeatInterval: false, timeout: '1s' })).toBeUndefined()
  })

  it('a read past its deadline: per call > instance > default', async () => {
    const redis = new FakeRedis()
    redis.mode = 'hang'
    const byDefault = dashboardOn(redis)
    const byInstance = dashboardOn(redis, { timeout: 100 })
    // Not yet rejected just before the deadline, rejected just after it.
    for (const [read, ms] of [
      [() => byDefault.read(), 500],
      [() => byInstance.read(), 100],
      [() => byInstance.read(undefined, { timeout: '30ms' }), 30],
      [() => byDefault.read(undefined, { timeout: 1_000 }), 1_000],
    ] as const) {
      let outcome: unknown
      read().then(
        (value) => (outcome = value),
        (error: unknown) => (outcome = error),
      )
      await vi.advanceTimersByTimeAsync(ms - 5)
      expect(outcome).toBeUndefined()
      await vi.advanceTimersByTimeAsync(10)
      expect(outcome).toBeInstanceOf(StreamUnavailableError)
      expect((outcome as StreamUnavailableError).reason).toBe('timeout')
      expect((outcome as StreamUnavailableError).timeoutMs).toBe(ms)
      expect((outcome as StreamUnavailableError).retriable).toBe(true)
      expect((outcome as StreamUnavailableError).code).toBe('E_STREAM_UNAVAILABLE')
    }
  })

  it('serves the kept snapshot marked stale, opens the breaker after 5 failures, heals on the probe', async () => {
    const redis = new FakeRedis()
    const dashboard = dashboardOn(redis, { timeout: 100 })
    const fresh = await dashboard.read()
    expect(fresh).toMatchObject({ version: 1, figures: { count: 7 }, stale: false, ageMs: 0 })

    await vi.advanceTimersByTimeAsync(1_000)
    redis.mode = 'hang'
    const answers = []
    for (let i = 0; i < 8; i++) answers.push(await settle(dashboard.read(), 100))
    // 5 reads waited for their deadline, then 3 were refused by the open breaker without a MULTI.
    expect(redis.execs).toBe(1 + 5)
    expect(answers.map((a: any) => a.staleReason)).toEqual([
      ...Array(5).fill('timeout'),
      ...Array(3).fill('circuit-open'),
    ])
    for (const answer of answers as any[]) {
      expect(answer).toMatchObject({ version: 1, figures: { count: 7 }, status: 'live', stale: true })
      expect(answer.ageMs).toBeGreaterThanOrEqual(1_000)
      expect(Object.isFrozen(answer)).toBe(true)
    }
    expect(dashboard.stats()).toMatchObject({ breaker: 'open', readFailures: 5, staleReads: 8 })

    // The link heals: within the cool-down still refused; after it one probe reads Redis.
    redis.mode = 'answer'
    redis.version = 2
    redis.count = 9
    expect(await dashboard.read()).toMatchObject({ stale: true, staleReason: 'circuit-open' })
    await vi.advanceTimersByTimeAsync(2_000)
    expect(await dashboard.read()).toMatchObject({ version: 2, figures: { count: 9 }, stale: false })
    expect(dashboard.stats().breaker).toBe('closed')
  })

  it('E_STREAM_UNAVAILABLE when no snapshot is kept, when staleIfError is false, or when it is too old', async () => {
    const redis = new FakeRedis()
    redis.mode = 'refuse'
    const empty = dashboardOn(redis)
    const error = await settle(empty.read(), 0)
    expect(error).toBeInstanceOf(StreamUnavailableError)
    expect(error).toMatchObject({ reason: 'connection', view: 'v' })
    expect((error as Error).message).toMatch(/no snapshot of this range is held/)

    redis.mode = 'answer'
    const kept = dashboardOn(redis, { staleIfError: '10s' })
    await kept.read()
    redis.mode = 'refuse'
    expect(await kept.read()).toMatchObject({ stale: true, staleReason: 'connection' })
    expect(await settle(kept.read(undefined, { staleIfError: false }), 0)).toBeInstanceOf(
      StreamUnavailableError,
    )
    await vi.advanceTimersByTimeAsync(10_001)
    const old = await settle(kept.read(), 0)
    expect(old).toBeInstanceOf(StreamUnavailableError)
    expect((old as Error).message).toMatch(/too old/)
    // Another range has no snapshot of its own.
    expect(await settle(kept.read({ from: 0, to: 0 }), 0)).toBeInstanceOf(StreamUnavailableError)
  })

  it('a Redis error reply is thrown as E_STREAM_REDIS and keeps the breaker closed', async () => {
    const redis = new FakeRedis()
    redis.mode = 'reply-error'
    const dashboard = dashboardOn(redis)
    for (let i = 0; i < 8; i++) {
      const error = await settle(dashboard.read(), 0)
      expect(error).toMatchObject({ code: 'E_STREAM_REDIS' })
    }
    expect(redis.execs).toBe(8)
    expect(dashboard.stats()).toMatchObject({ breaker: 'closed', readFailures: 0 })
  })
})
