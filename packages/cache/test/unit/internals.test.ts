/** Envelope format, tag-version arithmetic and the circuit breaker. */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { decodeEnvelope, EnvelopeFormatError, encodeEnvelope } from '../../src/serialization/envelope.js'
import { msgpackCodec } from '../../src/serialization/msgpack-codec.js'
import { compareVersion, HARD_STEP, LocalTagVersions, VersionState } from '../../src/tags/tag-versions.js'
import { CircuitBreaker } from '../../src/tiers/circuit-breaker.js'

describe('envelope', () => {
  const codec = msgpackCodec()
  it('round-trips header, timestamps, versions and value', () => {
    const envelope = {
      createdAt: 1,
      freshUntil: 2,
      staleUntil: 3,
      tags: ['t:a', 't:ключ'],
      versions: [0, 5, HARD_STEP],
      value: { at: new Date(0), n: 10n },
    }
    const bytes = encodeEnvelope(codec, envelope)
    expect(bytes[0]).toBe(0xac)
    expect(bytes[1]).toBe(1)
    expect(decodeEnvelope(codec, bytes)).toEqual(envelope)
    expect(
      decodeEnvelope(codec, encodeEnvelope(codec, { ...envelope, value: undefined })).value,
    ).toBeUndefined()
  })

  it('rejects foreign, unknown-format and truncated bytes', () => {
    expect(() => decodeEnvelope(codec, Buffer.from('hello'))).toThrow(EnvelopeFormatError)
    expect(() => decodeEnvelope(codec, Buffer.from([0xac, 2, 0, 0, 0]))).toThrow('unknown envelope format 2')
    expect(() => decodeEnvelope(codec, Buffer.from([0xac, 1, 0, 1, 0, 9, 1]))).toThrow('truncated')
  })
})

describe('tag versions', () => {
  it('tells fresh, expired (soft bump) and invalid (hard bump)', () => {
    expect(compareVersion(3, 3)).toBe(VersionState.Fresh)
    expect(compareVersion(3, 4)).toBe(VersionState.Expired)
    expect(compareVersion(3, 3 + HARD_STEP)).toBe(VersionState.Invalid)
    expect(compareVersion(3, 0)).toBe(VersionState.Invalid) // a version that went back was reset
  })

  it('keeps the highest version seen', () => {
    const table = new LocalTagVersions(2)
    expect(table.observe('t:a', 5)).toBe(true)
    expect(table.observe('t:a', 4)).toBe(false)
    expect(table.get('t:a')).toBe(5)
    expect(table.bump('t:b', HARD_STEP)).toBe(HARD_STEP)
    table.observe('t:c', 1) // full: forgets, and says so
    expect(table.known('t:a')).toBeUndefined()
  })
})

describe('circuit breaker', () => {
  afterEach(() => vi.useRealTimers())

  it('opens after N failures, lets one probe through after the cooldown, closes on success', () => {
    vi.useFakeTimers()
    const states: string[] = []
    const breaker = new CircuitBreaker(3, 1_000, (s) => states.push(s))
    for (let i = 0; i < 3; i++) {
      expect(breaker.allow()).toBe(true)
      breaker.failure()
    }
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(false)
    vi.advanceTimersByTime(1_000)
    expect(breaker.allow()).toBe(true) // the probe
    expect(breaker.allow()).toBe(false) // only one
    breaker.failure()
    expect(breaker.state).toBe('open')
    vi.advanceTimersByTime(1_000)
    expect(breaker.allow()).toBe(true)
    breaker.success()
    expect(breaker.state).toBe('closed')
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed'])
  })
})
