/**
 * Redis health: `PING` with a deadline. Given a URL, the indicator keeps one dedicated
 * connection per URL (no offline queue, so a PING to a dead server fails at once instead of
 * waiting in a queue; reconnecting in the background, so the check recovers by itself) and
 * closes it when the module is destroyed. Given a client, it borrows it.
 */

import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common'
import type { HealthIndicatorResult } from '@nestjs/terminus'
import { HealthIndicatorService } from '@nestjs/terminus'
import { type Cluster, Redis } from 'ioredis'
import { type Duration, toMilliseconds } from '../duration.js'
import { HealthCheckFailedError, InvalidOptionError } from '../errors.js'

/** Options of {@link RedisHealthIndicator.pingCheck}. */
export interface RedisPingOptions {
  /** A `redis://` URL (the indicator owns the connection), or give `client`. */
  url?: string | undefined
  /** An ioredis `Redis` or `Cluster` to borrow, or give `url`. */
  client?: Redis | Cluster | undefined
  /** Deadline of the PING. @default '1s' */
  timeout?: Duration | undefined
}

/**
 * Wait for the first connection of a new client; a client that lost its connection (reconnecting
 * in the background) is down now, without waiting.
 */
async function ready(client: Redis | Cluster, key: string, signal: AbortSignal): Promise<void> {
  if (client.status === 'ready') return
  if (client.status !== 'wait' && client.status !== 'connecting' && client.status !== 'connect') {
    throw new HealthCheckFailedError(key, `connection is ${client.status}`)
  }
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }
    const onAbort = () => {
      client.off('ready', onReady)
      reject(signal.reason)
    }
    client.once('ready', onReady)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Terminus health indicator for Redis. */
@Injectable()
export class RedisHealthIndicator implements OnModuleDestroy {
  private readonly clients = new Map<string, Redis>()

  constructor(@Inject(HealthIndicatorService) private readonly health: HealthIndicatorService) {}

  /** `PING` the server; down when it does not answer `PONG` within `timeout`. */
  pingCheck<const Key extends string>(
    key: Key,
    options: RedisPingOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    const timeoutMs = toMilliseconds(options.timeout ?? '1s', 'timeout')
    const client = this.client(options)
    return Promise.resolve(
      this.health
        .check(key)
        .attempt(async ({ signal }) => {
          await ready(client, key, signal)
          const reply = await client.ping()
          if (reply !== 'PONG')
            throw new HealthCheckFailedError(key, `unexpected PING reply ${JSON.stringify(reply)}`)
        })
        .withTimeout(timeoutMs),
    )
  }

  /** Close the connections this indicator opened. */
  onModuleDestroy(): void {
    for (const client of this.clients.values()) client.disconnect()
    this.clients.clear()
  }

  private client(options: RedisPingOptions): Redis | Cluster {
    if (options.client !== undefined) return options.client
    if (typeof options.url !== 'string' || options.url === '') {
      throw new InvalidOptionError('url', 'give a redis:// url or a client')
    }
    let client = this.clients.get(options.url)
    if (client === undefined) {
      client = new Redis(options.url, {
        lazyConnect: false,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 2_000,
        retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
      })
      // Connection errors are what the check reports (PING fails while disconnected); the
      // 'error' events themselves are expected while the server is down.
      client.on('error', () => undefined)
      this.clients.set(options.url, client)
    }
    return client
  }
}
