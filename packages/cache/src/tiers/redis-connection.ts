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
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis'
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

/** Arguments replaced in the commands ioredis attaches to its errors. */
const SECRET = '***'

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi

/** Free text with every `scheme://user:password@` reduced to `scheme://user:***@`. */
export function redactText(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1$2:${SECRET}@`)
}

/**
 * Replace the secret arguments of the command ioredis attached to `error` (`AUTH`, `HELLO ...
 * AUTH`, `MIGRATE ... AUTH/AUTH2`, `CONFIG SET requirepass/masterauth`, `ACL SETUSER` passwords),
 * in place, and redact URL credentials in its message. Returns `error`.
 */
export function scrubRedisError<T>(error: T, depth = 0): T {
  // `previousErrors` may hold the error itself (ioredis' reconnection errors): bounded depth.
  if (error === null || typeof error !== 'object' || depth > 3) return error
  const e = error as { command?: { name?: unknown; args?: unknown }; message?: unknown }
  const command = e.command
  if (command !== undefined && command !== null && Array.isArray(command.args)) {
    command.args = scrubArgs(String(command.name).toLowerCase(), command.args)
  }
  if (typeof e.message === 'string' && URL_CREDENTIALS.test(e.message)) {
    URL_CREDENTIALS.lastIndex = 0
    try {
      e.message = redactText(e.message)
    } catch {
      // A frozen or getter-only message: nothing secret is added by leaving it (tolerated).
    }
  }
  URL_CREDENTIALS.lastIndex = 0
  const previous = (error as { previousErrors?: unknown }).previousErrors
  if (Array.isArray(previous)) for (const p of previous) if (p !== error) scrubRedisError(p, depth + 1)
  return error
}

function scrubArgs(name: string, args: unknown[]): unknown[] {
  const out = [...args]
  const lower = (i: number) => String(out[i]).toLowerCase()
  switch (name) {
    case 'auth':
      // AUTH password | AUTH user password
      out[out.length - 1] = SECRET
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
      if (lower(0) === 'set')
        for (let i = 1; i + 1 < out.length; i += 2) if (/pass|auth/.test(lower(i))) out[i + 1] = SECRET
      break
    case 'acl':
      for (let i = 0; i < out.length; i++) if (/^[<>#!]/.test(String(out[i]))) out[i] = SECRET
      break
  }
  return out
}

/** Whether `error` is Redis refusing the credentials or denying the user a command. */
export function authFailure(error: unknown): 'credentials' | 'permission' | undefined {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : ''
  if (/^(WRONGPASS|NOAUTH)\b|^ERR invalid (password|username-password)/.test(message)) return 'credentials'
  if (/^NOPERM\b/.test(message)) return 'permission'
  return undefined
}

/** Where a client connects and as whom, for messages: `127.0.0.1:6380 (TLS)` and `"app"`. */
export function describeRedis(client: Redis | Cluster): { address: string; user: string } {
  let options: RedisOptions
  if (typeof (client as Redis).options?.port === 'number') options = (client as Redis).options
  else {
    // A Cluster: its first startup node, with the options every node connection gets.
    const cluster = client as unknown as {
      startupNodes?: unknown[]
      options?: { redisOptions?: RedisOptions }
    }
    const node = (cluster.startupNodes?.[0] ?? {}) as RedisOptions
    options = { ...(cluster.options?.redisOptions ?? {}), ...node }
  }
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
