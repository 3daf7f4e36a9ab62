/**
 * Search engine health: the cluster health API (`GET /_cluster/health`), the same on
 * Elasticsearch and OpenSearch. Green and yellow (a single node has unassigned replicas) are up;
 * red or no answer within the deadline is down. Given an `@ayala/search` client, its `health()`
 * is used instead.
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
}
