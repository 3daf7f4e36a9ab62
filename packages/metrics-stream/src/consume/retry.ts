/**
 * How the consumer meets failures: every Redis call is bounded (`scriptTimeout`), and a failing
 * step is retried with backoff (`retryDelay` doubling to `maxRetryDelay`) while the member still
 * owns the batch. Connection failures, timeouts and the replies that mean "try again later" are
 * retried; any other Redis error reply (a wrong key type, a script error) is not, since retrying
 * would loop forever, and a script is atomic but not rolled back when a command inside it fails:
 * it fails the batch loudly instead (see `scripts.ts`). A retry after a timeout whose first
 * attempt did run is safe: the apply script answers "already applied".
 */

import { describeRedisFailure, redisAuthFailure } from '@ayala/internal'
import type { Cluster, Redis } from 'ioredis'
import { MetricsStreamError } from '../errors.js'
import type { SourceBatchContext } from './source.js'
import type { ConsumerState } from './state.js'

/** @internal */
export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms))

/** `promise`, or a retriable `E_STREAM_REDIS` after `ms` milliseconds. @internal */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MetricsStreamError('E_STREAM_REDIS', `Redis did not answer in ${ms} ms`, { retriable: true }),
        ),
      ms,
    )
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Run `step`, retrying retriable failures with backoff while the batch is still ours. */
export async function retrying<T>(
  state: ConsumerState,
  context: SourceBatchContext,
  step: () => Promise<T>,
): Promise<T | undefined> {
  let delay = state.options.retryDelay
  for (;;) {
    try {
      return await step()
    } catch (error) {
      if (!isRetriable(error)) {
        throw error instanceof MetricsStreamError
          ? error
          : new MetricsStreamError('E_STREAM_REDIS', `Redis refused the apply script: ${String(error)}`, {
              cause: error,
            })
      }
      if (!context.isActive() || state.stopping) return undefined
      state.counters.retries++
      if (state.events.listenerCount('retry') > 0) state.events.emit('retry', error)
      await sleep(delay)
      delay = Math.min(delay * 2, state.options.maxRetryDelay)
      await context.heartbeat()
    }
  }
}

/**
 * A Redis failure as this package reports it: `E_STREAM_REDIS_AUTH` (not retriable) naming the
 * server and the user when Redis refused the credentials, `E_STREAM_REDIS` otherwise; the cause
 * scrubbed of secrets (`@ayala/internal`'s redact rules).
 */
export function redisError(redis: Redis | Cluster, context: string, error: unknown): MetricsStreamError {
  if (error instanceof MetricsStreamError) return error
  const message = describeRedisFailure(redis, context, error)
  const auth = redisAuthFailure(error) !== undefined
  return new MetricsStreamError(auth ? 'E_STREAM_REDIS_AUTH' : 'E_STREAM_REDIS', message, {
    retriable: !auth,
    cause: error,
  })
}

/** Redis replies that mean "try again later"; any other reply error is a bug or a misconfiguration. */
const TRANSIENT_REPLY = /^(BUSY|LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS)/

/**
 * Connection failures and timeouts are retried; a Redis error reply (a wrong key type, a script
 * error) is not, since retrying would loop forever: it fails the batch loudly instead.
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof MetricsStreamError) return error.retriable
  if (error instanceof Error && error.name === 'ReplyError') return TRANSIENT_REPLY.test(error.message)
  return true
}
