/**
 * `attempt()` of ./health, unit level, on terminus 12's own `HealthIndicatorService` (the
 * workspace's) and on a terminus-11-shaped session (`up`/`down` only, no `attempt`): the same
 * results either way, up with the data and `responseTime`, down with the error's message, down
 * with `timeout of <n>ms exceeded` when the check outlives its deadline, and the signal aborted
 * once the attempt is over. The real terminus 11 runs it in the Nest 10 and 11 projects of
 * tools/smoke/nest-majors.
 */
import { HealthIndicatorService } from '@nestjs/terminus'
import { describe, expect, it } from 'vitest'
import { attempt } from '../../../src/health/attempt.js'

/** A `HealthIndicatorService` as terminus 11.1.1 has it: sessions with `up` and `down` only. */
const terminus11 = {
  check: (key: string) => ({
    up: (data: object = {}) => ({ [key]: { ...data, status: 'up' } }),
    down: (data: object = {}) => ({ [key]: { ...data, status: 'down' } }),
  }),
} as unknown as HealthIndicatorService

describe.each([
  ['terminus 12 (native attempt)', new HealthIndicatorService()],
  ['terminus 11 (no attempt)', terminus11],
])('attempt on %s', (_, health) => {
  it('up with the data and responseTime', async () => {
    const result = await attempt(health, 'db', async () => ({ brokers: 3 }), 1_000)
    expect(result).toEqual({ db: { brokers: 3, responseTime: expect.any(Number), status: 'up' } })
  })

  it('up with no data', async () => {
    const result = await attempt(health, 'db', async () => undefined, 1_000)
    expect(result).toEqual({ db: { responseTime: expect.any(Number), status: 'up' } })
  })

  it("down with the error's message", async () => {
    const result = await attempt(
      health,
      'db',
      async () => {
        throw new Error('refused')
      },
      1_000,
    )
    expect(result).toEqual({ db: { message: 'refused', responseTime: expect.any(Number), status: 'down' } })
  })

  it('down at the deadline, the signal aborted', async () => {
    let seen: AbortSignal | undefined
    const result = await attempt(
      health,
      'db',
      ({ signal }) => {
        seen = signal
        return new Promise(() => undefined)
      },
      20,
    )
    expect(result).toEqual({
      db: { message: 'timeout of 20ms exceeded', responseTime: expect.any(Number), status: 'down' },
    })
    expect(seen?.aborted).toBe(true)
  })
})
