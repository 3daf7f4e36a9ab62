import { EventEmitter } from 'node:events'
import type { Client, TransportRequestOptions } from '@elastic/elasticsearch'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { EngineAdapter } from '../../../src/engine/adapters.js'
import { type ClientState, createClientState } from '../../../src/engine/client-state.js'
import { resolveSearchClientOptions } from '../../../src/engine/options.js'
import { boundedRead } from '../../../src/read/bounded-read.js'

/** A client's state with an established connection; `run` stands in for the request. */
function readyState(): ClientState {
  const options = resolveSearchClientOptions({ node: 'http://127.0.0.1:9', engine: 'opensearch' })
  const state = createClientState(options, undefined, new EventEmitter())
  state.ready = { client: {} as Client, adapter: {} as EngineAdapter }
  return state
}

describe('boundedRead: the budget verdict after the loop read its sockets', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('an answer that lands after the budget timer fired, before its verdict, is served and never aborted', async () => {
    const state = readyState()
    let answer!: (value: string) => void
    let sent: TransportRequestOptions | undefined
    const read = boundedRead(state, 'search', 'i', {}, 50, (_client, options) => {
      sent = options
      return new Promise<string>((resolve) => {
        answer = resolve
      })
    })
    // The budget is the deadline's: the transport gets no timer of its own (it would abort in
    // the timers phase, before the answer in the socket is read).
    expect(sent?.requestTimeout).toBeUndefined()
    vi.advanceTimersByTime(50) // the budget's timer fires: the verdict is scheduled, not taken
    answer('hits') // the loop reads the socket: the answer settles the read
    expect(await read).toBe('hits')
    vi.runAllTimers() // the scheduled verdict runs: too late to change anything
    expect(sent?.signal?.aborted).toBe(false)
    expect(state.reads).toMatchObject({ reads: 1, unavailable: 0 })
    expect(state.breaker.state).toBe('closed')
  })

  it('no answer by the verdict: rejected as a timeout and the request aborted', async () => {
    const state = readyState()
    let sent: TransportRequestOptions | undefined
    const read = boundedRead(state, 'get', 'i', {}, 50, (_client, options) => {
      sent = options
      return new Promise<string>(() => undefined)
    })
    const outcome = read.catch((error: unknown) => error)
    vi.advanceTimersByTime(50)
    expect(sent?.signal?.aborted).toBe(false) // the timer fired; the verdict comes after the I/O
    vi.advanceTimersToNextTimer()
    expect(await outcome).toMatchObject({ code: 'E_SEARCH_UNAVAILABLE', reason: 'timeout', budgetMs: 50 })
    expect(sent?.signal?.aborted).toBe(true)
    expect(state.reads).toMatchObject({ reads: 1, unavailable: 1 })
  })
})
