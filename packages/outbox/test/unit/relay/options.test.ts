import { describe, expect, it } from 'vitest'
import { createOutbox, DEFAULT_OUTBOX_RELAY_OPTIONS, OutboxError } from '../../../src/index.ts'
import { resolveRelayOptions } from '../../../src/relay/options.ts'

const sinks = { search: { deliver: async () => [] } }

function fail(make: () => unknown): OutboxError {
  try {
    make()
  } catch (error) {
    expect(error).toBeInstanceOf(OutboxError)
    return error as OutboxError
  }
  throw new Error('expected a throw')
}

describe('relay and outbox options', () => {
  it('resolve the documented defaults into milliseconds', () => {
    const resolved = resolveRelayOptions({ db: {}, sinks, id: 'relay-1' })
    expect(resolved).toEqual({
      batchSize: DEFAULT_OUTBOX_RELAY_OPTIONS.batchSize,
      pollMs: 250,
      retryDelayMs: 500,
      maxRetryDelayMs: 30_000,
      maxAgeUs: 6 * 3_600_000 * 1_000,
      deliveryTimeoutMs: 30_000,
      claimTimeoutMs: 120_000,
      degradedAfterMs: 30_000,
      downAfterMs: 600_000,
      id: 'relay-1',
    })
    expect(Object.isFrozen(resolved)).toBe(true)
  })

  it('name unknown keys, of the relay and of the outbox', () => {
    const relay = fail(() => resolveRelayOptions({ db: {}, sinks, maxRetries: 3, poll: 1 } as never))
    expect(relay.code).toBe('E_OUTBOX_INVALID_OPTION')
    expect(relay.message).toBe('unknown relay option(s): maxRetries, poll')
    const outbox = fail(() => createOutbox({ tabel: 'x' } as never))
    expect(outbox.message).toBe('unknown outbox option(s): tabel')
  })

  it('refuse a lease no longer than a delivery may take', () => {
    const error = fail(() =>
      resolveRelayOptions({ db: {}, sinks, deliveryTimeout: '10s', claimTimeout: '10s' }),
    )
    expect(error.message).toMatch(/claimTimeout \(10000 ms\) must exceed deliveryTimeout/)
  })
})
