/**
 * One health check attempt: `fn` runs with an `AbortSignal` that fires after `timeoutMs`; the
 * indicator is up with what `fn` returns (plus `responseTime`, ms), or down with the message of
 * what it threw (`timeout of <n>ms exceeded` when the deadline passed first), plus `responseTime`.
 *
 * terminus 12 has this as `session.attempt(fn).withTimeout(ms)`; terminus 11, the only one that
 * runs on Nest 10 (the peer range is `^11 || ^12`), has no `attempt`, only `up`/`down`: every
 * indicator of `./health` threw `attempt is not a function` there and `/health` answered 500
 * instead of 200 or 503. Found by the Nest 10 and 11 runs of the Nest suite's core
 * (tools/smoke/nest-majors), where terminus 11.1.1 is installed. The native one runs when the
 * installed terminus has it; otherwise the same steps here, with the same result shape.
 */
import type { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus'

type Session<Key extends string> = ReturnType<HealthIndicatorService['check']> & {
  up(data?: Record<string, unknown>): HealthIndicatorResult<Key>
  down(data?: Record<string, unknown>): HealthIndicatorResult<Key>
}

/** What a check runs: may return data shown under the key when up. */
export type AttemptFn = (options: { signal: AbortSignal }) => Promise<Record<string, unknown> | undefined>

/** Run one attempt of the check `key` (see the module note). */
export function attempt<const Key extends string>(
  health: HealthIndicatorService,
  key: Key,
  fn: AttemptFn,
  timeoutMs: number,
): Promise<HealthIndicatorResult<Key>> {
  const session = health.check(key) as unknown as Session<Key>
  if (typeof (session as { attempt?: unknown }).attempt === 'function') {
    return Promise.resolve(session.attempt(fn).withTimeout(timeoutMs))
  }
  return attemptWithoutTerminus12(session, fn, timeoutMs)
}

async function attemptWithoutTerminus12<Key extends string>(
  session: Session<Key>,
  fn: AttemptFn,
  timeoutMs: number,
): Promise<HealthIndicatorResult<Key>> {
  const start = performance.now()
  const done = new AbortController()
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = AbortSignal.any([done.signal, timeout])
  const elapsed = () => Math.round(performance.now() - start)
  try {
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    })
    const result = await Promise.race([Promise.resolve(fn({ signal })), aborted])
    const data = result !== null && typeof result === 'object' && !Array.isArray(result) ? result : {}
    return session.up({ ...data, responseTime: elapsed() })
  } catch (error) {
    const message = timeout.aborted
      ? `timeout of ${timeoutMs}ms exceeded`
      : error instanceof Error
        ? error.message
        : String(error)
    return session.down({ message, responseTime: elapsed() })
  } finally {
    done.abort()
  }
}
