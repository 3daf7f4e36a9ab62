/**
 * The one set of rules by which no secret leaves an `@ayala` package through an error, an event or
 * a message (before issue 15 each of cache, metrics-stream, nestjs and search held its own copy).
 *
 * - ioredis attaches the failed command to its reply errors, and for `AUTH` and `HELLO ... AUTH`
 *   that is `args: [user, password]`. When Redis refuses the credentials, ioredis rejects every
 *   queued command with that very error object (then emits it as `error`), so a call rejects with
 *   the password inside, and anything inspecting the error (a log, Node's unhandled-rejection
 *   report) prints it. {@link scrubRedisErrors} puts an `error` listener on a client that scrubs
 *   those arguments to `'***'` in place ({@link scrubRedisError}): the listener runs synchronously
 *   when ioredis emits, before the rejected commands' handlers run (microtasks), so every holder
 *   sees the scrubbed object.
 * - Messages built from addresses or error texts go through {@link redactText} (a URL's password
 *   becomes `***`).
 * - Refused credentials get one message naming the server (or, through Sentinel, the primary's
 *   group) and the user, never the password ({@link describeRedisFailure}); a refused Kafka SASL
 *   login is recognised by {@link kafkaAuthFailure}.
 *
 * ioredis is a dependency of the packages, not of this one: clients are read structurally.
 */

const SECRET = '***'
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi

/** An ioredis `Redis` or `Cluster` (or a test double), read structurally. */
export interface RedisClientLike {
  readonly options?: unknown
}

/** The connection options of a client that its messages name: a subset of ioredis' `RedisOptions`. */
export interface RedisAddressOptions {
  host?: string | undefined
  port?: number | undefined
  path?: string | undefined
  tls?: unknown
  username?: string | undefined
  /** The primary's group name, through Sentinel. */
  name?: string | undefined
  sentinels?: ReadonlyArray<{ host?: string | undefined; port?: number | undefined }> | undefined
  enableTLSForSentinelMode?: boolean | undefined
}

/** Options of {@link scrubRedisError}. */
export interface ScrubRedisErrorOptions {
  /** Also redact URL credentials in the error's `message` (and its `previousErrors`'), in place. @default false */
  messages?: boolean | undefined
}

/** Free text with every `scheme://user:password@` reduced to `scheme://user:***@`. */
export function redactText(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1$2:${SECRET}@`)
}

/**
 * `args` of the Redis command `name` (lower case) with its secret arguments replaced by `'***'`:
 * `AUTH`, `HELLO ... AUTH`, `MIGRATE ... AUTH/AUTH2`, `CONFIG SET *pass*|*auth*`, `ACL SETUSER`
 * passwords. Returns a new array.
 */
export function scrubRedisArgs(name: string, args: readonly unknown[]): unknown[] {
  const out = [...args]
  const lower = (i: number) => String(out[i]).toLowerCase()
  switch (name) {
    case 'auth':
      // AUTH password | AUTH user password
      if (out.length > 0) out[out.length - 1] = SECRET
      break
    case 'hello':
      // HELLO protover [AUTH username password] [SETNAME name]
      for (let i = 0; i + 2 < out.length; i++) if (lower(i) === 'auth') out[i + 2] = SECRET
      break
    case 'migrate':
      // ... [AUTH password | AUTH2 username password] [KEYS ...]
      for (let i = 0; i < out.length; i++) {
        if (lower(i) === 'auth' && i + 1 < out.length) out[i + 1] = SECRET
        else if (lower(i) === 'auth2' && i + 2 < out.length) out[i + 2] = SECRET
      }
      break
    case 'config':
      // CONFIG SET parameter value [parameter value ...]
      if (lower(0) === 'set')
        for (let i = 1; i + 1 < out.length; i += 2) if (/pass|auth/.test(lower(i))) out[i + 1] = SECRET
      break
    case 'acl':
      // ACL SETUSER user ... >password <password #hash !hash
      for (let i = 0; i < out.length; i++) if (/^[<>#!]/.test(String(out[i]))) out[i] = SECRET
      break
  }
  return out
}

/**
 * Replace the secret arguments of the command ioredis attached to `error` ({@link scrubRedisArgs})
 * in place, in `error` and in its `previousErrors`; with `messages`, redact URL credentials in their
 * messages too. Returns `error`.
 */
export function scrubRedisError<T>(error: T, options?: ScrubRedisErrorOptions): T {
  return scrub(error, options?.messages === true, 0)
}

function scrub<T>(error: T, messages: boolean, depth: number): T {
  // `previousErrors` may hold the error itself (ioredis' reconnection errors): bounded depth.
  if (error === null || typeof error !== 'object' || depth > 3) return error
  const e = error as { command?: { name?: unknown; args?: unknown }; message?: unknown }
  const command = e.command
  if (command !== undefined && command !== null && Array.isArray(command.args)) {
    command.args = scrubRedisArgs(String(command.name).toLowerCase(), command.args)
  }
  if (messages && typeof e.message === 'string') {
    const redacted = redactText(e.message)
    if (redacted !== e.message) {
      try {
        e.message = redacted
      } catch {
        // A frozen or getter-only message: nothing secret is added by leaving it (tolerated).
      }
    }
  }
  const previous = (error as { previousErrors?: unknown }).previousErrors
  if (Array.isArray(previous)) for (const p of previous) if (p !== error) scrub(p, messages, depth + 1)
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
export function scrubRedisErrors(client: RedisClientLike): void {
  const emitter = client as { on?: unknown }
  // Test doubles and foreign clients without an emitter: nothing to scrub.
  if (client === null || typeof client !== 'object' || typeof emitter.on !== 'function') return
  if (scrubbed.has(client)) return
  scrubbed.add(client)
  ;(client as { on(event: 'error', listener: (error: unknown) => void): unknown }).on('error', scrubListener)
}

/** Whether `error` (an `Error` or its message) is Redis refusing the credentials or denying the ACL user a command. */
export function redisAuthFailure(error: unknown): 'credentials' | 'permission' | undefined {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : ''
  if (/^(WRONGPASS|NOAUTH)\b|^ERR invalid (password|username-password)/.test(message)) return 'credentials'
  if (/^NOPERM\b/.test(message)) return 'permission'
  return undefined
}

/**
 * The options a client connects with: a `Redis`'s own, or for a `Cluster` its first startup node
 * with the options every node connection gets.
 */
export function redisOptionsOf(client: RedisClientLike): RedisAddressOptions {
  const direct = client.options as RedisAddressOptions | undefined
  if (typeof direct?.port === 'number') return direct
  const cluster = client as { startupNodes?: unknown[]; options?: { redisOptions?: RedisAddressOptions } }
  return {
    ...(cluster.options?.redisOptions ?? {}),
    ...((cluster.startupNodes?.[0] ?? {}) as RedisAddressOptions),
  }
}

/**
 * A message for a Redis failure of `client`: for refused credentials `Redis at 127.0.0.1:6380
 * (TLS) rejected the credentials of user "app" (WRONGPASS ...)`, else `${context}: ${reason}`;
 * never a password.
 */
export function describeRedisFailure(client: RedisClientLike, context: string, error: unknown): string {
  scrubRedisError(error)
  const reason = redactText(error instanceof Error ? error.message : String(error))
  const kind = redisAuthFailure(error)
  if (kind === undefined) return `${context}: ${reason}`
  return `Redis at ${describeRedis(client)} ${kind === 'credentials' ? 'rejected the credentials of' : 'denied a command to'} user "${redisOptionsOf(client).username || 'default'}" (${reason})`
}

function describeRedis(client: RedisClientLike): string {
  const o = redisOptionsOf(client)
  // Through Sentinel the host and port are not used: the primary is the one the Sentinels name.
  if (Array.isArray(o.sentinels) && o.sentinels.length > 0) {
    const listed = o.sentinels.map((s) => `${s.host ?? '127.0.0.1'}:${s.port ?? 26379}`).join(',')
    return `primary "${o.name ?? ''}" of Sentinels ${listed}${o.tls && o.enableTLSForSentinelMode ? ' (TLS)' : ''}`
  }
  return `${o.path ?? `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`}${o.tls ? ' (TLS)' : ''}`
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
