/**
 * Secrets never leave the Nest layer (the same rules as `@ayala/cache` and
 * `@ayala/metrics-stream`, whose helpers are internal; issue 15 merges them into one shared
 * package):
 *
 * - ioredis attaches the failed command to its reply errors, and for `AUTH` and `HELLO ... AUTH`
 *   that is `args: [user, password]`; when Redis refuses the credentials it rejects every queued
 *   command with that very object, then emits it as `error`. {@link scrubRedisErrors} puts an
 *   `error` listener on each Redis client the module or an indicator creates that scrubs those
 *   arguments to `'***'` in place (synchronously, before the rejected commands' handlers run).
 * - Messages built from addresses or error texts go through {@link redactText}.
 * - Refused credentials get one message naming the server and the user
 *   ({@link describeRedisFailure}); a refused Kafka SASL login is recognised by
 *   {@link kafkaAuthFailure}.
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis'

const SECRET = '***'
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi

/** Free text with every `scheme://user:password@` reduced to `scheme://user:***@`. */
export function redactText(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1$2:${SECRET}@`)
}

/**
 * Replace the secret arguments of the command ioredis attached to `error` (`AUTH`, `HELLO ...
 * AUTH`, `MIGRATE ... AUTH/AUTH2`, `CONFIG SET *pass*`, `ACL SETUSER` passwords) in place.
 */
export function scrubRedisError<T>(error: T, depth = 0): T {
  // `previousErrors` may hold the error itself (ioredis' reconnection errors): bounded depth.
  if (error === null || typeof error !== 'object' || depth > 3) return error
  const command = (error as { command?: { name?: unknown; args?: unknown } }).command
  if (command !== undefined && command !== null && Array.isArray(command.args)) {
    const name = String(command.name).toLowerCase()
    const args = [...command.args]
    const lower = (i: number) => String(args[i]).toLowerCase()
    if (name === 'auth' && args.length > 0) args[args.length - 1] = SECRET
    for (let i = 0; i < args.length; i++) {
      if (name === 'hello' && lower(i) === 'auth' && i + 2 < args.length) args[i + 2] = SECRET
      if (name === 'migrate' && lower(i) === 'auth' && i + 1 < args.length) args[i + 1] = SECRET
      if (name === 'migrate' && lower(i) === 'auth2' && i + 2 < args.length) args[i + 2] = SECRET
      if (name === 'config' && lower(0) === 'set' && i % 2 === 1 && /pass|auth/.test(lower(i)))
        args[i + 1] = SECRET
      if (name === 'acl' && /^[<>#!]/.test(String(args[i]))) args[i] = SECRET
    }
    command.args = args
  }
  const previous = (error as { previousErrors?: unknown }).previousErrors
  if (Array.isArray(previous)) for (const p of previous) if (p !== error) scrubRedisError(p, depth + 1)
  return error
}

const scrubbed = new WeakSet<object>()

function scrubListener(error: unknown): void {
  scrubRedisError(error)
}

/**
 * Make `client` scrub its errors (see the module note), once per client. The listener does
 * nothing else; with no other listener, ioredis no longer prints "Unhandled error event": the
 * package counts and reports the failures it meets (`stats()`, `health()`, events).
 */
export function scrubRedisErrors(client: Redis | Cluster): void {
  // Test doubles and foreign clients without an emitter: nothing to scrub.
  if (client === null || typeof client !== 'object' || typeof client.on !== 'function') return
  if (scrubbed.has(client)) return
  scrubbed.add(client)
  client.on('error', scrubListener)
}

/** Whether `error` is Redis refusing the credentials (or denying the ACL user a command). */
export function redisAuthFailure(error: unknown): 'credentials' | 'permission' | undefined {
  const message = error instanceof Error ? error.message : ''
  if (/^(WRONGPASS|NOAUTH)\b|^ERR invalid (password|username-password)/.test(message)) return 'credentials'
  if (/^NOPERM\b/.test(message)) return 'permission'
  return undefined
}

/**
 * A message for a Redis failure of `client`: for refused credentials `Redis at 127.0.0.1:6380
 * (TLS) rejected the credentials of user "app" (WRONGPASS ...)`, else `${context}: ${reason}`;
 * never a password.
 */
export function describeRedisFailure(client: Redis | Cluster, context: string, error: unknown): string {
  scrubRedisError(error)
  const reason = redactText(error instanceof Error ? error.message : String(error))
  const kind = redisAuthFailure(error)
  if (kind === undefined) return `${context}: ${reason}`
  return `Redis at ${describeRedis(client)} ${kind === 'credentials' ? 'rejected the credentials of' : 'denied a command to'} user "${redisUser(client)}" (${reason})`
}

function redisOptionsOf(client: Redis | Cluster): RedisOptions {
  if (typeof (client as Redis).options?.port === 'number') return (client as Redis).options
  const cluster = client as unknown as { startupNodes?: unknown[]; options?: { redisOptions?: RedisOptions } }
  return { ...(cluster.options?.redisOptions ?? {}), ...((cluster.startupNodes?.[0] ?? {}) as RedisOptions) }
}

function describeRedis(client: Redis | Cluster): string {
  const o = redisOptionsOf(client)
  // Through Sentinel the host and port are not used: the primary is the one the Sentinels name.
  if (Array.isArray(o.sentinels) && o.sentinels.length > 0) {
    const listed = o.sentinels.map((s) => `${s.host ?? '127.0.0.1'}:${s.port ?? 26379}`).join(',')
    return `primary "${o.name ?? ''}" of Sentinels ${listed}${o.tls && o.enableTLSForSentinelMode ? ' (TLS)' : ''}`
  }
  return `${o.path ?? `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`}${o.tls ? ' (TLS)' : ''}`
}

function redisUser(client: Redis | Cluster): string {
  return redisOptionsOf(client).username || 'default'
}

/** Whether `error` (or its cause) is kafkajs's refused SASL login. */
export function kafkaAuthFailure(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current.name === 'KafkaJSSASLAuthenticationError') return true
    current =
      (current as { cause?: unknown; originalError?: unknown }).cause ??
      (current as { originalError?: unknown }).originalError
  }
  return false
}
