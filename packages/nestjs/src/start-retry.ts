/**
 * A start-up task that must not take the application down with it (a consumer joining Kafka, a
 * table or an index ensured at start): when it fails on a dependency (down, or refusing the
 * credentials), the application starts anyway, the module's health says what is wrong, and the
 * task is retried in the background with a backoff (1 s, doubling up to 30 s) until it succeeds
 * or the application shuts down. A process manager restarting a crashed application every few
 * seconds (a crash loop) reaches nothing more, and prints the failure each time.
 *
 * Logging: one warning per distinct failure message (the SDK's typed errors, which hold no
 * secret), one line when the task finally succeeds. The shutdown stops the retries and waits for
 * an attempt in flight (at most 10 s) so that nothing it starts is left running.
 */

import { redactText } from '@ayala/internal'
import type { Logger } from '@nestjs/common'

/** What a failed start does: retry in the background (the default), or fail the bootstrap. */
export type StartFailureMode = 'retry' | 'fail'

/** First and longest wait between two background attempts (ms). */
const FIRST_DELAY_MS = 1_000
const MAX_DELAY_MS = 30_000
/** How long the shutdown waits for an attempt in flight (ms). */
const DRAIN_MS = 10_000

/** See the module note. */
export class StartRetry {
  private timer: ReturnType<typeof setTimeout> | undefined
  private inFlight: Promise<void> | undefined
  private closing = false
  private failures = 0
  private lastMessage: string | undefined
  /** True once the task succeeded. */
  done = false

  constructor(
    private readonly logger: Logger,
    /** What the task does, for the log: `the aggregator could not start`. */
    private readonly what: string,
    private readonly task: () => Promise<void>,
    /** Whether another attempt may succeed (false for invalid options). */
    private readonly retriable: (error: unknown) => boolean,
  ) {}

  /** Run the task now; on failure, throw (`'fail'` or not retriable) or retry in the background. */
  async run(mode: StartFailureMode): Promise<void> {
    try {
      await this.task()
      this.done = true
    } catch (error) {
      if (mode === 'fail' || !this.retriable(error)) throw error
      this.failed(error)
    }
  }

  private failed(error: unknown): void {
    this.failures++
    const message = redactText(error instanceof Error ? error.message : String(error))
    if (message !== this.lastMessage) {
      this.lastMessage = message
      const code = (error as { code?: unknown })?.code
      this.logger.warn(
        `${this.what} (${typeof code === 'string' ? `${code}: ` : ''}${message}); retrying in the background, reported by its health meanwhile`,
      )
    }
    if (this.closing) return
    const delay = Math.min(FIRST_DELAY_MS * 2 ** (this.failures - 1), MAX_DELAY_MS)
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.closing) return
      this.inFlight = this.task().then(
        () => {
          this.inFlight = undefined
          this.done = true
          this.logger.log(`${this.what} at first; done after ${this.failures + 1} attempts`)
        },
        (e: unknown) => {
          this.inFlight = undefined
          if (this.retriable(e)) this.failed(e)
          else
            this.logger.error(
              `${this.what}, for good: ${redactText(e instanceof Error ? e.message : String(e))}`,
            )
        },
      )
    }, delay)
    this.timer.unref?.()
  }

  /** Stop retrying; wait for an attempt in flight (at most 10 s). */
  async stop(): Promise<void> {
    this.closing = true
    clearTimeout(this.timer)
    if (this.inFlight === undefined) return
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      this.inFlight,
      new Promise<void>((done) => {
        timer = setTimeout(done, DRAIN_MS)
      }),
    ])
    clearTimeout(timer)
  }
}
