/**
 * Redis health: `PING` with a deadline. Given a URL, the indicator keeps one dedicated
 * connection per URL (no offline queue, so a PING to a dead server fails at once instead of
 * waiting in a queue; reconnecting in the background, so the check recovers by itself) and
 * closes it when the module is destroyed. Given a client, it borrows it.
 *
 * Credentials and TLS: `rediss://user:password@host` in the URL, `redisOptions` for what a URL
 * cannot carry (`tls: { ca }`, the Sentinels of `sentinels` + `name`) or a password kept out of it.
 * Through Sentinel, ioredis asks the Sentinels for the primary at each (re)connection, so after a
 * failover the check is up again once the promoted node answers. A connection Redis refuses is down
 * with one message naming the server and the user (`Redis at 127.0.0.1:6380 (TLS) rejected the
 * credentials of user "app" (WRONGPASS ...)`), never the password and never the URL; every error
 * of a client the indicator holds is scrubbed of the `AUTH` arguments ioredis attaches to it.
 */

import { describeRedisFailure, redisAuthFailure, scrubRedisError } from '@ayala/internal'
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common'
import type { HealthIndicatorResult } from '@nestjs/terminus'
import { HealthIndicatorService } from '@nestjs/terminus'
import { type Cluster, Redis, type RedisOptions } from 'ioredis'
import { type Duration, toMilliseconds } from '../duration.js'
import { HealthCheckFailedError, InvalidOptionError } from '../errors.js'
import { attempt } from './attempt.js'

/** Options of {@link RedisHealthIndicator.pingCheck}. */
export interface RedisPingOptions {
  /**
   * A `redis://` or `rediss://` URL, with `user:password@` for an ACL user (the indicator owns
   * the connection, one per URL), or give `client`.
   */
  url?: string | undefined
  /**
   * ioredis options of the connection opened for `url`: `tls: { ca }` for a private CA,
   * `username` / `password` kept out of the URL, or `{ sentinels: [{ host, port }], name }` to
   * PING the primary the Sentinels name (the URL then carries the user, password and database;
   * its host and port are not used). Used when the URL (and Sentinel group) is first checked.
   * @default undefined
   */
  redisOptions?: RedisOptions | undefined
  /** An ioredis `Redis` or `Cluster` to borrow, or give `url`. */
  client?: Redis | Cluster | undefined
  /** Deadline of the PING. @default '1s' */
  timeout?: Duration | undefined
}

/** The last connection error of each client the indicator watches (cleared on `ready`). */
const lastErrors = new WeakMap<object, unknown>()
const watched = new WeakSet<object>()

/** Scrub and remember `client`'s errors (once per client). */
function watch(client: Redis | Cluster): void {
  if (watched.has(client)) return
  watched.add(client)
  client.on('error', (error: unknown) => {
    lastErrors.set(client, scrubRedisError(error))
  })
  client.on('ready', () => lastErrors.delete(client))
}

/** Why `client` is not usable, from its last error: refused credentials named, else its text. */
function why(client: Redis | Cluster, key: string, state: string): HealthCheckFailedError {
  const last = lastErrors.get(client)
  if (last !== undefined && redisAuthFailure(last) !== undefined)
    return new HealthCheckFailedError(key, describeRedisFailure(client, 'Redis', last))
  const detail = last === undefined ? '' : ` (${describeRedisFailure(client, 'last error', last)})`
  return new HealthCheckFailedError(key, `connection is ${state}${detail}`)
}

/**
 * Wait for the first connection of a new client; a client that lost its connection (reconnecting
 * in the background) is down now, without waiting.
 */
async function ready(client: Redis | Cluster, key: string, signal: AbortSignal): Promise<void> {
  if (client.status === 'ready') return
  if (client.status !== 'wait' && client.status !== 'connecting' && client.status !== 'connect') {
    throw why(client, key, client.status)
  }
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      client.off('ready', onReady)
      client.off('error', onError)
      signal.removeEventListener('abort', onAbort)
    }
    const onReady = () => {
      done()
      resolve()
    }
    // Refused credentials will not become ready by waiting: down now, with the reason.
    const onError = (error: unknown) => {
      if (redisAuthFailure(error) === undefined) return
      done()
      reject(why(client, key, client.status))
    }
    const onAbort = () => {
      done()
      reject(signal.reason)
    }
    client.once('ready', onReady)
    client.on('error', onError)
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
    watch(client)
    return attempt(
      this.health,
      key,
      async ({ signal }) => {
        await ready(client, key, signal)
        let reply: unknown
        try {
          reply = await client.ping()
        } catch (error) {
          // A reply error (NOPERM, a refused login between two checks): named, scrubbed.
          if (redisAuthFailure(error) !== undefined || lastErrors.has(client))
            throw why(client, key, client.status)
          throw new HealthCheckFailedError(key, describeRedisFailure(client, 'PING failed', error), error)
        }
        if (reply !== 'PONG')
          throw new HealthCheckFailedError(key, `unexpected PING reply ${JSON.stringify(reply)}`)
      },
      timeoutMs,
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
    // One connection per URL, and per Sentinel group: the URL's host is not used through Sentinel.
    const sentinels = options.redisOptions?.sentinels
    const key =
      Array.isArray(sentinels) && sentinels.length > 0
        ? `${options.url} ${options.redisOptions?.name ?? ''}@${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`
        : options.url
    let client = this.clients.get(key)
    if (client === undefined) {
      client = new Redis(options.url, {
        connectTimeout: 2_000,
        ...options.redisOptions,
        lazyConnect: false,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
      })
      // Connection errors are what the check reports (PING fails while disconnected, the last
      // error says why); `watch` scrubs and remembers them.
      watch(client)
      this.clients.set(key, client)
    }
    return client
  }
}
