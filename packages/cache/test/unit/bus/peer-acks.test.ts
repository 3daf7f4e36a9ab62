import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type PeerAcknowledgement, PeerAcks } from '../../../src/bus/peer-acks.js'

describe('peer acknowledgement accounting', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('settles when as many receivers as PUBLISH counted confirmed', async () => {
    const settled: PeerAcknowledgement[] = []
    const acks = new PeerAcks('me', (_, ack) => settled.push(ack))
    const wait = acks.open(100)
    expect(wait.id.startsWith('me.')).toBe(true)
    acks.expect(wait.id, 3)
    expect(acks.confirm(wait.id)).toBe(true)
    expect(acks.confirm(wait.id)).toBe(true)
    expect(settled).toHaveLength(0)
    expect(acks.confirm(wait.id)).toBe(true)
    expect(await wait.done).toMatchObject({ sent: true, receivers: 3, confirmed: 3, unconfirmed: 0 })
    expect(settled).toHaveLength(1)
    expect(acks.size).toBe(0)
  })

  it('counts confirmations that arrive before PUBLISH answered', async () => {
    const acks = new PeerAcks('me')
    const wait = acks.open(100)
    acks.confirm(wait.id)
    acks.confirm(wait.id)
    expect(acks.size).toBe(1) // the count is not known yet
    acks.expect(wait.id, 2)
    expect(await wait.done).toMatchObject({ receivers: 2, confirmed: 2, unconfirmed: 0 })
  })

  it('a receiver that never confirms: resolved at the deadline, reported unconfirmed', async () => {
    const acks = new PeerAcks('me')
    const wait = acks.open(100)
    acks.expect(wait.id, 3)
    acks.confirm(wait.id)
    acks.confirm(wait.id)
    let result: PeerAcknowledgement | undefined
    void wait.done.then((r) => {
      result = r
    })
    await vi.advanceTimersByTimeAsync(99)
    expect(result).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    // The deadline passed: the verdict comes once the loop has read its sockets (a setImmediate).
    expect(result).toBeUndefined()
    await vi.advanceTimersToNextTimerAsync()
    expect(result).toMatchObject({ receivers: 3, confirmed: 2, unconfirmed: 1 })
    expect(result?.waitedMs).toBeGreaterThanOrEqual(100)
    expect(result?.waitedMs).toBeLessThanOrEqual(101)
    // The late peer's confirmation is ignored.
    expect(acks.confirm(wait.id)).toBe(false)
  })

  it('a confirmation read in the loop turn where the deadline fired counts (a process held past it)', async () => {
    const acks = new PeerAcks('me')
    const wait = acks.open(100)
    acks.expect(wait.id, 2)
    acks.confirm(wait.id)
    let result: PeerAcknowledgement | undefined
    void wait.done.then((r) => {
      result = r
    })
    await vi.advanceTimersByTimeAsync(100)
    // The timer fired (timers phase); the socket holding the last confirmation is read next.
    expect(result).toBeUndefined()
    expect(acks.confirm(wait.id)).toBe(true)
    await vi.advanceTimersToNextTimerAsync()
    expect(result).toMatchObject({ receivers: 2, confirmed: 2, unconfirmed: 0 })
  })

  it('the deadline passing before PUBLISH answered waits for its count, then settles at once', async () => {
    const acks = new PeerAcks('me')
    const wait = acks.open(10)
    acks.confirm(wait.id)
    await vi.advanceTimersByTimeAsync(20)
    expect(acks.size).toBe(1)
    acks.expect(wait.id, 2)
    expect(await wait.done).toMatchObject({ receivers: 2, confirmed: 1, unconfirmed: 1 })
  })

  it('zero receivers (no subscriber at all) settles at once', async () => {
    const acks = new PeerAcks('me')
    const wait = acks.open(1_000)
    acks.expect(wait.id, 0)
    expect(await wait.done).toMatchObject({ receivers: 0, confirmed: 0, unconfirmed: 0 })
  })

  it('a notice that could not be sent settles at once as not sent', async () => {
    const acks = new PeerAcks('me')
    const wait = acks.open(1_000)
    acks.abandon(wait.id)
    expect(await wait.done).toMatchObject({ sent: false, receivers: 0, unconfirmed: 0 })
    expect(acks.size).toBe(0)
  })

  it('waits are independent; close settles every one with what it has', async () => {
    const acks = new PeerAcks('me')
    const a = acks.open(1_000)
    const b = acks.open(1_000)
    expect(a.id).not.toBe(b.id)
    acks.expect(a.id, 2)
    acks.confirm(b.id)
    acks.confirm(a.id)
    acks.closeAll()
    expect(await a.done).toMatchObject({ receivers: 2, confirmed: 1, unconfirmed: 1 })
    expect(await b.done).toMatchObject({ receivers: 1, confirmed: 1, unconfirmed: 0 })
    expect(acks.confirm('someone-else.0')).toBe(false)
  })
})
