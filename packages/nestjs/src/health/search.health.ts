/**
 * Search engine health: the cluster health API (`GET /_cluster/health`), the same on
 * Elasticsearch and OpenSearch. Green and yellow (a single node has unassigned replicas) are up;
 * red or no answer within the deadline is down. Given an `@ayala/search` client, its `health()`
 * is used instead.
 *
 * `syncCheck` says whether the index is a faithful copy of the database: down when an index is
 * missing (or was found empty at start-up while its table has rows, and only reported); up but
 * `state: 'degraded'` (HTTP 200, with the reasons) when the outbox holds dead letters, its oldest
 * pending event is older than `maxOutboxAge`, or the last reconcile left drift. Terminus knows
 * only up and down, so degraded is a field of an up result: alert on it.
 */
import { Inject, Injectable } from '@nestjs/common'
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus'
import { type Duration, toMilliseconds } from '../duration.js'
import { HealthCheckFailedError, InvalidOptionError } from '../errors.js'

/** What the indicator needs of an `@ayala/search` `SearchClient`. */
export interface SearchHealthSource {
  health(): Promise<{ ok: boolean; status: string; error?: unknown }>
}

/** Options of {@link SearchHealthIndicator.check}. */
export interface SearchHealthOptions {
  /** Base URL of the engine, e.g. `http://127.0.0.1:9200`; or give `client`. */
  url?: string | undefined
  /** An `@ayala/search` client; or give `url`. */
  client?: SearchHealthSource | undefined
  /** Deadline of the check. @default '2s' */
  timeout?: Duration | undefined
  /** Treat `yellow` as down (for clusters that must have their replicas). @default false */
  requireGreen?: boolean | undefined
}

/** What `syncCheck` reads: `@ayala/nestjs/search`'s `SearchSync` (inject it with `@InjectSearchSync()`). */
export interface SearchSyncSource {
  status(): Promise<{
    outbox?:
      | { pending: number; oldestAgeMs: number | null; dead: number; lastError?: string | undefined }
      | undefined
    indexes: ReadonlyArray<{
      index: string
      exists: boolean
      state: string
      remaining: number
      drift: number
    }>
  }>
}

/** Options of {@link SearchHealthIndicator.syncCheck}. */
export interface SearchSyncHealthOptions {
  /** The module's `SearchSync`. */
  sync: SearchSyncSource
  /** Degraded when the oldest pending outbox event is older than this. @default '1m' */
  maxOutboxAge?: Duration | undefined
  /** Deadline of the check. @default '3s' */
  timeout?: Duration | undefined
}

/** Terminus health indicator for Elasticsearch / OpenSearch. */
@Injectable()
export class SearchHealthIndicator {
  constructor(@Inject(HealthIndicatorService) private readonly health: HealthIndicatorService) {}

  /** Check the cluster's health status. */
  check<const Key extends string>(
    key: Key,
    options: SearchHealthOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    const timeoutMs = toMilliseconds(options.timeout ?? '2s', 'timeout')
    const { url, client } = options
    if (client === undefined && (typeof url !== 'string' || !/^https?:\/\//.test(url))) {
      throw new InvalidOptionError('url', 'give an http(s) URL or a client')
    }
    return Promise.resolve(
      this.health
        .check(key)
        .attempt(async ({ signal }) => {
          let status: string
          if (client !== undefined) {
            const report = await client.health()
            if (!report.ok && report.status === 'unreachable') {
              throw new HealthCheckFailedError(key, 'unreachable', report.error)
            }
            status = report.status
          } else {
            const response = await fetch(`${(url as string).replace(/\/+$/, '')}/_cluster/health`, { signal })
            if (!response.ok)
              throw new HealthCheckFailedError(key, `cluster health answered HTTP ${response.status}`)
            status = String(((await response.json()) as { status?: unknown }).status)
          }
          if (status === 'red' || (options.requireGreen === true && status !== 'green')) {
            throw new HealthCheckFailedError(key, `cluster status is ${status}`)
          }
          return { clusterStatus: status }
        })
        .withTimeout(timeoutMs),
    )
  }

  /**
   * Whether the indexes are in step with the database: down for a missing index (or one found
   * empty at start-up and only reported), `state: 'degraded'` with `reasons` for dead letters, an
   * outbox backlog older than `maxOutboxAge` or drift left by the last reconcile, else
   * `state: 'ok'`. The figures (pending, oldest age, dead letters, drift) are in the result.
   */
  syncCheck<const Key extends string>(
    key: Key,
    options: SearchSyncHealthOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    if (typeof options?.sync?.status !== 'function')
      throw new InvalidOptionError('sync', "give the search module's SearchSync")
    const timeoutMs = toMilliseconds(options.timeout ?? '3s', 'timeout')
    const maxAgeMs = toMilliseconds(options.maxOutboxAge ?? '1m', 'maxOutboxAge')
    return Promise.resolve(
      this.health
        .check(key)
        .attempt(async () => {
          const { outbox, indexes } = await options.sync.status()
          for (const index of indexes) {
            if (!index.exists) throw new HealthCheckFailedError(key, `index "${index.index}" is missing`)
            if (index.state === 'empty')
              throw new HealthCheckFailedError(
                key,
                `index "${index.index}" is empty while its table has rows`,
              )
          }
          const reasons: string[] = []
          if (outbox !== undefined) {
            if (outbox.dead > 0) reasons.push(`${outbox.dead} outbox event(s) dead-lettered`)
            if (outbox.oldestAgeMs !== null && outbox.oldestAgeMs > maxAgeMs)
              reasons.push(
                `oldest pending outbox event is ${Math.round(outbox.oldestAgeMs / 1_000)} s old${outbox.lastError ? ` (${outbox.lastError})` : ''}`,
              )
          }
          for (const index of indexes) {
            if (index.state === 'drift')
              reasons.push(`index "${index.index}": ${index.remaining} document(s) differ from the database`)
          }
          return {
            state: reasons.length > 0 ? 'degraded' : 'ok',
            ...(reasons.length > 0 ? { reasons } : {}),
            ...(outbox !== undefined
              ? { pending: outbox.pending, oldestAgeMs: outbox.oldestAgeMs, deadLetters: outbox.dead }
              : {}),
            indexes: indexes.map((index) => ({
              index: index.index,
              state: index.state,
              drift: index.drift,
              remaining: index.remaining,
            })),
          }
        })
        .withTimeout(timeoutMs),
    )
  }
}
