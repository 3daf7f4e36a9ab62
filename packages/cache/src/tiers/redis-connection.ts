/**
 * Credentials and TLS for the connection the cache opens from a URL, and the rule that no secret
 * leaves the cache through an error, an event or a message.
 *
 * - `rediss://user:password@host:port/db` works as is (ioredis: TLS with the system CAs, the ACL
 *   user and its password). {@link CacheOptions.redisOptions} adds what a URL cannot carry (`tls:
 *   { ca }` for a private CA) or keeps the secret out of the URL (`username`, `password` from a
 *   secret store). The settings the cache's invariants rest on (no offline queue, no resent
 *   commands, its own retry strategy) are refused by name, never silently overridden.
 * - ioredis attaches the failed command to its reply errors. For `AUTH` and `HELLO ... AUTH` that
 *   is `args: [user, password]`, which anything inspecting the error prints (Node's report of the
 *   example's unhandled rejection did). {@link scrubRedisError} replaces such arguments with
 *   `'***'` in place, on every error the cache receives, before it is wrapped, counted or emitted;
 *   and every message the cache builds from an error or an address goes through
 *   {@link redactText} (a URL's password becomes `***`).
 * - Refused credentials (`WRONGPASS`, `NOAUTH`, `invalid password`) and denied commands
 *   (`NOPERM`: the ACL user lacks a permission) become one `E_CACHE_L2_AUTH` naming the server and
 *   the user (never the password); see {@link authError}.
 *
 * The redaction rules themselves are the ones every `@ayala` package shares (`@ayala/internal`,
 * bundled at build time); the cache adds its error codes and messages.
 */
import {
  redisAuthFailure,
  redisOptionsOf,
  redactText as sharedRedactText,
  scrubRedisError as sharedScrubRedisError,
} from '@ayala/internal'
import type { Cluster, Redis } from 'ioredis'
import { L2UnavailableError } from '../errors.js'

/**
 * ioredis options of the connection the cache creates from a URL that would break the cache's
 * invariants: refused by name in `redisOptions`.
 */
export const RESERVED_REDIS_OPTIONS: readonly string[] = Object.freeze([
  'enableOfflineQueue',
  'autoResendUnfulfilledCommands',
  'maxRetriesPerRequest',
  'retryStrategy',
  'lazyConnect',
])

/** Free text with every `scheme://user:password@` reduced to `scheme://user:***@`. */
export const redactText: (text: string) => string = sharedRedactText

/**
 * Replace the secret arguments of the command ioredis attached to `error` (`AUTH`, `HELLO ...
 * AUTH`, `MIGRATE ... AUTH/AUTH2`, `CONFIG SET requirepass/masterauth`, `ACL SETUSER` passwords),
 * in place, and redact URL credentials in its message (and its `previousErrors`'). Returns `error`.
 */
export function scrubRedisError<T>(error: T): T {
  return sharedScrubRedisError(error, SCRUB_MESSAGES)
}

const SCRUB_MESSAGES = Object.freeze({ messages: true })

/** Whether `error` is Redis refusing the credentials or denying the user a command. */
export const authFailure: (error: unknown) => 'credentials' | 'permission' | undefined = redisAuthFailure

/** Where a client connects and as whom, for messages: `127.0.0.1:6380 (TLS)` and `"app"`. */
export function describeRedis(client: Redis | Cluster): { address: string; user: string } {
  const options = redisOptionsOf(client)
  const host = options.path ?? `${options.host ?? '127.0.0.1'}:${options.port ?? 6379}`
  return {
    address: `${redactText(String(host))}${options.tls ? ' (TLS)' : ''}`,
    user: `"${options.username || 'default'}"`,
  }
}

/**
 * The `E_CACHE_L2_AUTH` error for an auth failure of `client`: one message naming the server and
 * the user, the reply's text (which never holds the password), the scrubbed reply as `cause`.
 */
export function authError(
  client: Redis | Cluster,
  kind: 'credentials' | 'permission',
  cause: unknown,
): L2UnavailableError {
  const { address, user } = describeRedis(client)
  const reply = redactText(cause instanceof Error ? cause.message : String(cause))
  const message =
    kind === 'credentials'
      ? `Redis at ${address} rejected the credentials of user ${user} (${reply})`
      : `Redis at ${address} denied user ${user} a command (${reply})`
  return new L2UnavailableError('E_CACHE_L2_AUTH', message, scrubRedisError(cause))
}

/** An error of `client` as the cache reports it: scrubbed, `E_CACHE_L2_AUTH` when it is one. */
export function l2Error(client: Redis | Cluster, context: string, error: unknown): L2UnavailableError {
  if (error instanceof L2UnavailableError) return error
  scrubRedisError(error)
  const kind = authFailure(error)
  if (kind !== undefined) return authError(client, kind, error)
  return new L2UnavailableError('E_CACHE_L2_UNAVAILABLE', `${context}: ${redactText(String(error))}`, error)
}
