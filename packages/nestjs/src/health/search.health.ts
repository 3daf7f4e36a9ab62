/**
 * Search engine health: the cluster health API (`GET /_cluster/health`), the same on
 * Elasticsearch and OpenSearch. Green and yellow (a single node has unassigned replicas) are up;
 * red or no answer within the deadline is down. Prefer `client` (the module's `SearchClient`, with
 * its credentials and TLS): its `health()` is used, bounded by the same deadline, and an open
 * circuit breaker (interactive searches refused at once) shows as up with `state: 'degraded'`, and
 * so do nodes the client's pool counts dead (`deadNodes`: a node that failed, timed out or held a
 * read past its budget; the other nodes serve meanwhile).
 *
 * With `url`, the request is made here with `node:http(s)` and the same credentials and TLS a
 * client would use: `auth` (basic, API key, bearer), credentials in the URL (moved into the
 * `Authorization` header: a URL with credentials cannot be fetched), and `tls.ca` for a custom CA.
 * No output of the indicator carries a secret: every message names the URL without its
 * password, and credentials refused (401/403) are reported as such, naming the user.
 *
 * `syncCheck` says whether the index is a faithful copy of the database: down when an index is
 * missing (or was found empty at start-up while its table has rows, and only reported); up but
 * `state: 'degraded'` (HTTP 200, with the reasons) when the outbox holds dead letters, its oldest
 * pending event is older than `maxOutboxAge`, or the last reconcile left drift. Terminus knows
 * only up and down, so degraded is a field of an up result: alert on it.
 */
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { Inject, Injectable } from '@nestjs/common'
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus'
import { type Duration, toMilliseconds } from '../duration.js'
import { HealthCheckFailedError, InvalidOptionError } from '../errors.js'
import { attempt } from './attempt.js'

/** What the indicator needs of an `@ayala/search` `SearchClient`. */
export interface SearchHealthSource {
  health(options?: { timeout?: Duration | undefined }): Promise<{
    ok: boolean
    status: string
    error?: unknown
    breaker?: string | undefined
    /** The client's connection pool, node by node (absent from an `@ayala/search` without it). */
    nodes?: ReadonlyArray<{ url: string; alive: boolean }> | undefined
  }>
}

/** Credentials of the `url` form (the shapes of `@ayala/search`'s `auth` option). */
export type SearchHealthAuth =
  | { username: string; password: string }
  | { apiKey: string | { id: string; api_key: string } }
  | { bearer: string }

/** Options of {@link SearchHealthIndicator.check}. */
export interface SearchHealthOptions {
  /** Base URL of the engine, e.g. `https://127.0.0.1:9200` (credentials in it are used, never shown); or give `client`. */
  url?: string | undefined
  /** An `@ayala/search` client (its credentials and TLS); or give `url`. */
  client?: SearchHealthSource | undefined
  /** With `url`: credentials (basic, API key or bearer token). @default none, or the URL's */
  auth?: SearchHealthAuth | undefined
  /** With `url`: TLS of an https engine, e.g. `{ ca: readFileSync('ca.pem') }`. @default Node's CAs */
  tls?:
    | {
        ca?: string | Buffer | Array<string | Buffer> | undefined
        cert?: string | Buffer | undefined
        key?: string | Buffer | undefined
        rejectUnauthorized?: boolean | undefined
      }
    | undefined
  /** Deadline of the check. @default '2s' */
  timeout?: Duration | undefined
  /** Treat `yellow` as down (for clusters that must have their replicas). @default false */
  requireGreen?: boolean | undefined
}

/** `https://host:9200` of a URL, without user info, for messages. */
function safeUrl(url: URL): string {
  return `${url.protocol}//${url.host}`
}

/** Credential values that must not appear in a message (the password, key, token). */
function secretsOf(auth: SearchHealthAuth | undefined): string[] {
  if (auth === undefined) return []
  if ('password' in auth)
    return [auth.password, Buffer.from(`${auth.username}:${auth.password}`).toString('base64')]
  if ('apiKey' in auth) return typeof auth.apiKey === 'string' ? [auth.apiKey] : [auth.apiKey.api_key]
  return [auth.bearer]
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi, '$1$2:***@')
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***')
  return out
}

function authorizationOf(auth: SearchHealthAuth | undefined): string | undefined {
  if (auth === undefined) return undefined
  if ('password' in auth)
    return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
  if ('apiKey' in auth) {
    return typeof auth.apiKey === 'string'
      ? `ApiKey ${auth.apiKey}`
      : `ApiKey ${Buffer.from(`${auth.apiKey.id}:${auth.apiKey.api_key}`).toString('base64')}`
  }
  return `Bearer ${auth.bearer}`
}

function describe(auth: SearchHealthAuth | undefined): string {
  if (auth === undefined) return 'no credentials'
  if ('username' in auth) return `user "${auth.username}"`
  if ('apiKey' in auth) return typeof auth.apiKey === 'string' ? 'an API key' : `API key "${auth.apiKey.id}"`
  return 'a bearer token'
}

/** The `url` form, resolved once per check: the URL without credentials, the header, the secrets. */
interface Target {
  url: URL
  auth: SearchHealthAuth | undefined
  secrets: string[]
}

function targetOf(options: SearchHealthOptions): Target {
  let url: URL
  try {
    url = new URL(options.url as string)
  } catch {
    throw new InvalidOptionError('url', 'give an http(s) URL or a client')
  }
  let auth = options.auth
  if (url.username !== '' || url.password !== '') {
    if (auth !== undefined)
      throw new InvalidOptionError('auth', 'credentials are in the URL and in auth: give one')
    auth = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
    url.username = ''
    url.password = ''
  }
  return { url, auth, secrets: secretsOf(auth) }
}

/** GET `/_cluster/health` with the target's credentials and TLS, aborted by `signal`. */
function clusterHealth(
  target: Target,
  tls: SearchHealthOptions['tls'],
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  const base = target.url.pathname.replace(/\/+$/, '')
  const authorization = authorizationOf(target.auth)
  const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = send(
      {
        protocol: target.url.protocol,
        hostname: target.url.hostname,
        port: target.url.port || undefined,
        path: `${base}/_cluster/health`,
        method: 'GET',
        headers: { accept: 'application/json', ...(authorization ? { authorization } : {}) },
        signal,
        ...(target.url.protocol === 'https:' ? { ...tls } : {}),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
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

  /**
   * Check the cluster's health status (see the module note): down when unreachable, red, or the
   * credentials are refused (the message names the user); up with `clusterStatus`, and with the
   * client form `breaker` and, while the breaker refuses searches, `state: 'degraded'`.
   */
  check<const Key extends string>(
    key: Key,
    options: SearchHealthOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    const timeoutMs = toMilliseconds(options.timeout ?? '2s', 'timeout')
    const { url, client } = options
    if (client === undefined && (typeof url !== 'string' || !/^https?:\/\//.test(url))) {
      throw new InvalidOptionError('url', 'give an http(s) URL or a client')
    }
    const target = client === undefined ? targetOf(options) : undefined
    return attempt(
      this.health,
      key,
      async ({ signal }) => {
        let status: string
        let breaker: string | undefined
        let deadNodes: string[] = []
        if (client !== undefined) {
          const report = await client.health({ timeout: timeoutMs })
          const detail = report.error instanceof Error ? `: ${report.error.message}` : ''
          if (report.status === 'unreachable' || report.status === 'unauthorized') {
            throw new HealthCheckFailedError(key, `${report.status}${detail}`)
          }
          status = report.status
          breaker = report.breaker
          deadNodes = (report.nodes ?? []).filter((node) => !node.alive).map((node) => node.url)
        } else {
          const t = target as Target
          const where = safeUrl(t.url)
          let answer: { status: number; body: string }
          try {
            answer = await clusterHealth(t, options.tls, signal)
          } catch (error) {
            const reason = error instanceof Error ? error.message : String(error)
            throw new HealthCheckFailedError(key, `unreachable at ${where}: ${scrub(reason, t.secrets)}`)
          }
          if (answer.status === 401 || answer.status === 403) {
            throw new HealthCheckFailedError(
              key,
              `${where} ${answer.status === 401 ? 'rejected the credentials of' : 'denied the request of'} ${describe(t.auth)} (HTTP ${answer.status})`,
            )
          }
          if (answer.status < 200 || answer.status >= 300) {
            throw new HealthCheckFailedError(key, `cluster health at ${where} answered HTTP ${answer.status}`)
          }
          try {
            status = String((JSON.parse(answer.body) as { status?: unknown }).status)
          } catch {
            throw new HealthCheckFailedError(
              key,
              `cluster health at ${where} answered something else than JSON`,
            )
          }
        }
        if (status === 'red' || (options.requireGreen === true && status !== 'green')) {
          throw new HealthCheckFailedError(key, `cluster status is ${status}`)
        }
        const reasons: string[] = []
        if (breaker === 'open') reasons.push('interactive searches are refused: the circuit breaker is open')
        if (deadNodes.length > 0) {
          reasons.push(`the client's pool counts ${deadNodes.length} node(s) dead: ${deadNodes.join(', ')}`)
        }
        return {
          clusterStatus: status,
          ...(breaker !== undefined ? { breaker } : {}),
          ...(deadNodes.length > 0 ? { deadNodes } : {}),
          ...(reasons.length > 0 ? { state: 'degraded', reasons } : {}),
        }
      },
      timeoutMs,
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
    return attempt(
      this.health,
      key,
      async () => {
        const { outbox, indexes } = await options.sync.status()
        for (const index of indexes) {
          if (!index.exists) throw new HealthCheckFailedError(key, `index "${index.index}" is missing`)
          if (index.state === 'empty')
            throw new HealthCheckFailedError(key, `index "${index.index}" is empty while its table has rows`)
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
      },
      timeoutMs,
    )
  }
}
