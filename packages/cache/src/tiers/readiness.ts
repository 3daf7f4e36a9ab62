/**
 * When an operation of the L2 tier may go out on the connection: it is `ready`, and the verifier
 * (recovery/failover-check.ts), which runs at every `ready`, has finished.
 *
 * An operation that finds the connection still being set up ('wait', 'connecting', 'connect': the
 * first connection, or the ready check of a reconnection) waits for it, and a ready one for its
 * verifier, within one deadline. Until the connection was ever ready that deadline is
 * `connectTimeout` (never less than `redisTimeout`), afterwards `redisTimeout`: a brand-new
 * instance under load would otherwise miss its first connection by a few milliseconds, read
 * nothing, and run its first loads on the versions it knows locally, i.e. none (a namespace
 * generation of 0 after a `clear()`), storing entries no reader can use. A connection that is down
 * ('reconnecting', 'close', 'end') fails at once: Redis is gone, and queueing commands for later
 * would replay stale writes.
 *
 * {@link Readiness.waitReady} is `cache.ready()`: it waits through reconnections until the
 * connection is ready and verified, or its deadline passes.
 */
import { L2UnavailableError } from '../errors.js'
import type { ScriptClient } from './redis-scripts.js'

const DOWN = new Set(['reconnecting', 'close', 'end', 'disconnecting'])

/** See the module note. */
export class Readiness {
  private readonly waiters = new Set<() => void>()
  /** Run at every `ready` before operations go through. */
  private verifier: (() => Promise<void>) | undefined = undefined
  /** The verifier's run on the current connection, while it runs; it never rejects. */
  verifying: Promise<void> | undefined = undefined
  /** The connection was ready at least once (the first-connection deadline no longer applies). */
  private everReady = false
  private readonly firstTimeoutMs: number

  constructor(
    private readonly client: ScriptClient,
    private readonly timeoutMs: number,
    connectTimeoutMs: number,
    /** The reason to give when not connected because Redis refuses the credentials. */
    private readonly refused: () => L2UnavailableError | undefined,
  ) {
    this.firstTimeoutMs = Math.max(connectTimeoutMs, timeoutMs)
    // A borrowed client may be connected already: no `ready` event will come for that one.
    this.everReady = client.status === 'ready'
  }

  /** The connection became ready: start the verifier, wake the waiters. */
  onReady(): void {
    this.everReady = true
    this.startVerify()
    this.wake()
  }

  /**
   * Install `verify` (it must not reject): run at every `ready`, and now when the connection is
   * ready already; operations wait for it.
   */
  setVerifier(verify: () => Promise<void>): void {
    this.verifier = verify
    if (this.client.status === 'ready') this.startVerify()
  }

  private startVerify(): void {
    const verify = this.verifier
    if (verify === undefined) return
    const run: Promise<void> = verify().finally(() => {
      if (this.verifying === run) this.verifying = undefined
    })
    this.verifying = run
  }

  /** Wait for a connection being set up and for the verifier, within one deadline (module note). */
  async ensure(): Promise<void> {
    const deadline = Date.now() + (this.everReady ? this.timeoutMs : this.firstTimeoutMs)
    for (;;) {
      const status = this.client.status
      const remaining = deadline - Date.now()
      if (status === 'ready') {
        const verifying = this.verifying
        if (verifying === undefined) return
        if (remaining > 0 && (await settlesWithin(verifying, remaining))) continue
        throw new L2UnavailableError('E_CACHE_L2_UNAVAILABLE', 'Redis is not verified yet (failover check)')
      }
      if (DOWN.has(status) || remaining <= 0 || !(await this.readyWithin(remaining)))
        throw this.notConnected()
    }
  }

  /** `cache.ready()`: ready and verified within `ms`, through reconnections; else rejects. */
  async waitReady(ms: number): Promise<void> {
    const deadline = Date.now() + ms
    for (;;) {
      const remaining = deadline - Date.now()
      if (this.client.status === 'ready') {
        const verifying = this.verifying
        if (verifying === undefined) return
        if (remaining > 0 && (await settlesWithin(verifying, remaining))) continue
        throw new L2UnavailableError(
          'E_CACHE_L2_UNAVAILABLE',
          `Redis is not verified within ${ms} ms (failover check)`,
        )
      }
      if (this.client.status === 'end' || remaining <= 0 || !(await this.readyWithin(remaining)))
        throw this.notConnected(ms)
    }
  }

  private notConnected(ms?: number): L2UnavailableError {
    // Not connected because Redis refuses the credentials: say that, not "reconnecting".
    const refused = this.refused()
    if (refused !== undefined && this.client.status !== 'ready') return refused
    const within = ms === undefined ? '' : ` within ${ms} ms`
    return new L2UnavailableError(
      'E_CACHE_L2_UNAVAILABLE',
      `Redis is not connected${within} (${this.client.status})`,
    )
  }

  private readyWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake)
        resolve(false)
      }, ms)
      const wake = () => {
        clearTimeout(timer)
        resolve(true)
      }
      this.waiters.add(wake)
    })
  }

  /** Wake every waiter (at `ready`, and at close: they look at the status again). */
  wake(): void {
    for (const wake of this.waiters) wake()
    this.waiters.clear()
  }
}

/** Whether `promise` (which never rejects) settled within `ms`. */
function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    void promise.then(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}
