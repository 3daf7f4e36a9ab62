/** Waiting for the connection (tiers/readiness.ts), on a fake client whose status the test sets. */
import { EventEmitter } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Readiness } from '../../../src/tiers/readiness.js'
import type { ScriptClient } from '../../../src/tiers/redis-scripts.js'

/** A stand-in for an ioredis client: a status and nothing else. */
function fakeClient(status: string): ScriptClient & { status: string } {
  return Object.assign(new EventEmitter(), { status }) as unknown as ScriptClient & { status: string }
}

/** How `promise` settled, once the fake clock has moved. */
function outcome(promise: Promise<void>): { state: string } {
  const seen = { state: 'pending' }
  promise.then(
    () => {
      seen.state = 'resolved'
    },
    (error: { code?: string }) => {
      seen.state = `rejected ${error.code}`
    },
  )
  return seen
}

describe('readiness', () => {
  afterEach(() => vi.useRealTimers())

  it('waits up to connectTimeout for the first connection, then redisTimeout for a reconnection', async () => {
    vi.useFakeTimers()
    const client = fakeClient('connecting')
    const readiness = new Readiness(client, 50, 2_000, () => undefined)
    const first = outcome(readiness.ensure())
    await vi.advanceTimersByTimeAsync(1_000) // 20 x redisTimeout: still waiting
    expect(first.state).toBe('pending')
    client.status = 'ready'
    readiness.onReady()
    await vi.advanceTimersByTimeAsync(0)
    expect(first.state).toBe('resolved')

    client.status = 'connect' // a reconnection's ready check
    const later = outcome(readiness.ensure())
    await vi.advanceTimersByTimeAsync(49)
    expect(later.state).toBe('pending')
    await vi.advanceTimersByTimeAsync(2)
    expect(later.state).toBe('rejected E_CACHE_L2_UNAVAILABLE')
  })

  it('fails at once on a connection that is down; never waits less than redisTimeout', async () => {
    vi.useFakeTimers()
    const down = new Readiness(fakeClient('reconnecting'), 50, 2_000, () => undefined)
    const failed = outcome(down.ensure())
    await vi.advanceTimersByTimeAsync(0)
    expect(failed.state).toBe('rejected E_CACHE_L2_UNAVAILABLE')

    const short = new Readiness(fakeClient('connecting'), 200, 10, () => undefined)
    const waited = outcome(short.ensure())
    await vi.advanceTimersByTimeAsync(150)
    expect(waited.state).toBe('pending')
    await vi.advanceTimersByTimeAsync(51)
    expect(waited.state).toBe('rejected E_CACHE_L2_UNAVAILABLE')
  })

  it('a client ready at construction is past its first connection', async () => {
    vi.useFakeTimers()
    const client = fakeClient('ready')
    const readiness = new Readiness(client, 50, 2_000, () => undefined)
    client.status = 'connect'
    const waited = outcome(readiness.ensure())
    await vi.advanceTimersByTimeAsync(51)
    expect(waited.state).toBe('rejected E_CACHE_L2_UNAVAILABLE')
  })

  it('waitReady waits through a reconnection and for the verifier', async () => {
    vi.useFakeTimers()
    const client = fakeClient('reconnecting')
    const readiness = new Readiness(client, 50, 2_000, () => undefined)
    let verified!: () => void
    readiness.setVerifier(
      () =>
        new Promise<void>((resolve) => {
          verified = resolve
        }),
    )
    const ready = outcome(readiness.waitReady(1_000))
    await vi.advanceTimersByTimeAsync(300)
    client.status = 'ready'
    readiness.onReady() // the verifier starts
    await vi.advanceTimersByTimeAsync(100)
    expect(ready.state).toBe('pending')
    verified()
    await vi.advanceTimersByTimeAsync(0)
    expect(ready.state).toBe('resolved')

    client.status = 'reconnecting'
    const late = outcome(readiness.waitReady(200))
    await vi.advanceTimersByTimeAsync(201)
    expect(late.state).toBe('rejected E_CACHE_L2_UNAVAILABLE')
  })
})
