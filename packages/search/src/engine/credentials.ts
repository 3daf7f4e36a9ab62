/**
 * Credentials and TLS of a client, kept out of sight. Resolution gathers them from the three
 * places they may come from (`auth`, `clientOptions.auth`, a node URL's `user:password@`),
 * refuses them given twice, and moves them, with `tls` and an `authorization` header, into a
 * private store keyed by the frozen resolved options: `client.options` never holds a secret, so
 * it is safe to log, and only `transport.ts` reads the store to build the official client. A
 * client given by the application brings its own credentials: `borrowedCredentials` only checks it. What
 * remains visible is who the client authenticates as (`user "alice"`) and the exact secret strings
 * its errors are scrubbed of (see `engine-error.ts`).
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import type { Client, ClientOptions } from '@elastic/elasticsearch'
import { SearchError } from '../errors.js'
import {
  type CredentialsLike,
  describeCredentials,
  redactText,
  redactUrl,
  secretsOf,
  splitUrlCredentials,
} from '../redact.js'
import type { ErrorContext } from './engine-error.js'

/**
 * Credentials of the engine: basic (`{ username, password }`), an API key (`{ apiKey: 'base64' }`
 * or `{ apiKey: { id, api_key } }`, Elasticsearch) or a bearer token (`{ bearer }`, e.g. an
 * OpenSearch JWT). Never shown in errors, logs, events, health output or `client.options`.
 */
export type SearchAuth = CredentialsLike

/** TLS of `https://` nodes (node:tls options; the secret ones are kept out of `client.options`). */
export type SearchTlsOptions = Pick<
  TlsConnectionOptions,
  'ca' | 'cert' | 'key' | 'passphrase' | 'pfx' | 'rejectUnauthorized' | 'servername'
>

/** The official client's extra options a search client takes. */
export type ExtraClientOptions = Omit<ClientOptions, 'node' | 'nodes' | 'Transport'>

/** What a client keeps out of its public options: credentials, TLS, the full client options. */
export interface Secrets {
  readonly auth: SearchAuth | undefined
  readonly tls: SearchTlsOptions | undefined
  readonly clientOptions: ExtraClientOptions
  readonly context: ErrorContext
}

/** The credentials part of resolved options: public figures and the secrets to keep aside. */
export interface ResolvedCredentials {
  /** Node URLs, without credentials. */
  readonly nodes: readonly string[]
  /** Who the client authenticates as: `user "alice"`, `an API key`, `no credentials`. */
  readonly credentials: string
  /** Whether a custom CA is given (`tls.ca`). */
  readonly customCa: boolean
  /** The official client's extra options, without `auth`, `tls` and an `authorization` header. */
  readonly clientOptions: ExtraClientOptions
  /** To store with {@link keepSecrets} once the resolved options exist. */
  readonly secrets: Secrets
}

const SECRETS = new WeakMap<object, Secrets>()

/** Keep `secrets` for the resolved options `owner` (read back by {@link secretsFor}). */
export function keepSecrets(owner: object, secrets: Secrets): void {
  SECRETS.set(owner, secrets)
}

/** The secrets of resolved options, or `undefined` for options not made by resolution. */
export function secretsFor(owner: object): Secrets | undefined {
  return SECRETS.get(owner)
}

function validAuth(auth: unknown): auth is SearchAuth {
  if (typeof auth !== 'object' || auth === null) return false
  const a = auth as Record<string, unknown>
  if ('username' in a) return typeof a.username === 'string' && typeof a.password === 'string'
  if ('apiKey' in a) {
    const key = a.apiKey as { id?: unknown; api_key?: unknown } | string
    return (
      (typeof key === 'string' && key.length > 0) ||
      (typeof key === 'object' &&
        key !== null &&
        typeof key.id === 'string' &&
        typeof key.api_key === 'string')
    )
  }
  if ('bearer' in a) return typeof a.bearer === 'string' && a.bearer.length > 0
  return false
}

/**
 * Gather and check the credentials, TLS and node URLs of a client's options.
 *
 * @throws SearchError `E_SEARCH_INVALID_OPTION` for a bad node URL or auth, or credentials or TLS given twice
 */
export function resolveCredentials(options: {
  node: string | string[]
  auth?: SearchAuth | undefined
  tls?: SearchTlsOptions | undefined
  clientOptions?: ExtraClientOptions | undefined
}): ResolvedCredentials {
  const given = Array.isArray(options.node) ? options.node : [options.node]
  if (given.length === 0 || !given.every((n) => typeof n === 'string' && /^https?:\/\//.test(n))) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `node must be an http(s) URL or a list of them`)
  }
  const nodes: string[] = []
  let urlAuth: { username: string; password: string } | undefined
  for (const node of given) {
    let split: ReturnType<typeof splitUrlCredentials>
    try {
      split = splitUrlCredentials(node)
    } catch (error) {
      // The URL itself may carry a password: the message names neither.
      throw new SearchError('E_SEARCH_INVALID_OPTION', `node #${nodes.length + 1} is not a valid URL`, {
        cause: new Error(redactText(String(error))),
      })
    }
    nodes.push(split.url)
    if (split.username !== undefined) {
      const next = { username: split.username, password: split.password ?? '' }
      if (urlAuth && (urlAuth.username !== next.username || urlAuth.password !== next.password)) {
        throw new SearchError(
          'E_SEARCH_INVALID_OPTION',
          'node URLs carry different credentials: give one `auth`',
        )
      }
      urlAuth = next
    }
  }
  const { auth: clientAuth, tls: clientTls, ...clientOptions } = options.clientOptions ?? {}
  const sources = [options.auth, clientAuth, urlAuth].filter((a) => a !== undefined)
  if (sources.length > 1) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      'credentials are given more than once (auth, clientOptions.auth, node URL): give one',
    )
  }
  const auth = sources[0] as SearchAuth | undefined
  if (auth !== undefined && !validAuth(auth)) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      'auth must be { username, password }, { apiKey } or { bearer } with string values',
    )
  }
  if (options.tls !== undefined && clientTls !== undefined) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      'tls is given twice (tls and clientOptions.tls): give one',
    )
  }
  const tls = (options.tls ?? clientTls) as SearchTlsOptions | undefined
  const headers = clientOptions.headers as Record<string, unknown> | undefined
  const headerAuth = headers?.authorization ?? headers?.Authorization
  if (headers && headerAuth !== undefined) {
    const { authorization: _a, Authorization: _b, ...rest } = headers
    clientOptions.headers = rest as NonNullable<typeof clientOptions.headers>
  }
  const credentials =
    auth === undefined && headerAuth !== undefined ? 'an authorization header' : describeCredentials(auth)
  const secrets = [...secretsOf(auth), ...(typeof headerAuth === 'string' ? [headerAuth] : [])]
  return {
    nodes: Object.freeze(nodes),
    credentials,
    customCa: tls?.ca !== undefined,
    clientOptions: Object.freeze(clientOptions),
    secrets: {
      auth,
      tls,
      clientOptions: {
        ...clientOptions,
        ...(headerAuth !== undefined
          ? { headers: { ...clientOptions.headers, authorization: String(headerAuth) } }
          : {}),
      },
      context: Object.freeze({ credentials, secrets: Object.freeze(secrets) }),
    },
  }
}

/** Options of `createSearchClient` that belong to a client built here, refused with `client`. */
const CLIENT_OWNED = ['node', 'auth', 'tls', 'clientOptions', 'requestTimeout', 'retries', 'maxRetries']

/** Who a borrowed client authenticates as, for messages: its credentials are its own. */
const BORROWED_CREDENTIALS = "the given client's credentials"

function hasSymbol(value: object, description: string): boolean {
  return Object.getOwnPropertySymbols(value).some((symbol) => symbol.description === description)
}

/**
 * A borrowed client (`createSearchClient({ client })`, see borrowed-client.ts): check it and the
 * options beside it; the node URLs (without credentials) are read from its connection pool, in
 * the shape resolution gives a built client (no secret is known or kept: they are the client's).
 *
 * @throws SearchError `E_SEARCH_INVALID_OPTION` for a client that is not an `@elastic/elasticsearch`
 *   client (an OpenSearch client named as such), or an option that belongs to the client
 */
export function borrowedCredentials(options: Record<string, unknown>): ResolvedCredentials {
  const given = CLIENT_OWNED.filter((key) => options[key] !== undefined)
  if (given.length > 0) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `${given.join(', ')} cannot be given with client: they belong to the client you pass (set them where it is built)`,
    )
  }
  const client = options.client as Partial<Client> | null
  if (typeof client !== 'object' || client === null) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'client must be an @elastic/elasticsearch Client')
  }
  if (hasSymbol(client, 'opensearchjs-initial-options')) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      'client is an @opensearch-project/opensearch Client, whose API this package does not call: give node (an OpenSearch-capable client is built here) or an @elastic/elasticsearch 8.x/9.x Client built with Transport: OpenSearchTransport',
    )
  }
  const pool = client.connectionPool as { connections?: Array<{ url?: unknown }> } | undefined
  if (typeof client.transport?.request !== 'function' || !Array.isArray(pool?.connections)) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      'client must be an @elastic/elasticsearch 8.x or 9.x Client (transport.request and a connection pool)',
    )
  }
  const nodes = pool.connections.map((connection) =>
    connection.url instanceof URL || typeof connection.url === 'string'
      ? redactUrl(connection.url)
      : 'unknown node',
  )
  const context = Object.freeze({ credentials: BORROWED_CREDENTIALS, secrets: Object.freeze([]) })
  return {
    nodes: Object.freeze(nodes),
    credentials: BORROWED_CREDENTIALS,
    customCa: false,
    clientOptions: Object.freeze({}),
    secrets: { auth: undefined, tls: undefined, clientOptions: {}, context },
  }
}
