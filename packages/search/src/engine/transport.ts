/**
 * The official client of a search client. One `@elastic/elasticsearch` Client per engine; for
 * OpenSearch it is built with {@link OpenSearchTransport}, a Transport subclass that drops the
 * product check (OpenSearch does not send `x-elastic-product`) and sends plain
 * `application/json` instead of the `compatible-with=9` vendored media types (which OpenSearch
 * answers with 406). Either transport is wrapped once more so that every error it throws carries,
 * non-enumerable, the client's {@link ErrorContext}: who it authenticates as and the exact secrets
 * to scrub, for `engineError` (`engine-error.ts`), and records in a bounded call's context the node
 * each attempt goes to (`node-attempt.ts`).
 */
import { Client, type ClientOptions, Transport, type TransportOptions } from '@elastic/elasticsearch'
import { SearchError } from '../errors.js'
import type { EngineKind } from './adapters.js'
import { secretsFor } from './credentials.js'
import { ERROR_CONTEXT, type ErrorContext } from './engine-error.js'
import { recordAttempt } from './node-attempt.js'
import type { ResolvedSearchClientOptions } from './options.js'

/**
 * Transport for OpenSearch: no product check, plain JSON media types. Not an official setting of
 * the Elastic client, hence isolated here.
 */
export class OpenSearchTransport extends Transport {
  constructor(options: TransportOptions) {
    const { productCheck: _ignored, ...rest } = options
    super({
      ...rest,
      vendoredHeaders: {
        jsonContentType: 'application/json',
        ndjsonContentType: 'application/x-ndjson',
        accept: 'application/json, text/plain',
      },
    })
  }
}

/**
 * A transport class that tags every error it throws with the client's {@link ErrorContext}
 * (non-enumerable: not printed, not serialized), for `engineError` (`engine-error.ts`).
 */
function taggingTransport(base: typeof Transport, context: ErrorContext): typeof Transport {
  const Tagging = class extends base {}
  const request = base.prototype.request
  // One rejection handler per client, and no async wrapper (no rest array, no extra await):
  // every search goes through here, and a success costs one `then` and nothing else.
  const tag = (error: unknown): never => {
    if (typeof error === 'object' && error !== null && !(ERROR_CONTEXT in error)) {
      Object.defineProperty(error, ERROR_CONTEXT, { value: context, enumerable: false })
    }
    throw error
  }
  Tagging.prototype.request = function (
    this: Transport,
    params: Parameters<typeof request>[0],
    options?: Parameters<typeof request>[1],
  ) {
    return request.call(this, params, options).then(undefined, tag)
  } as typeof request
  // A bounded call learns the node each of its attempts goes to (node-attempt.ts): the pool's
  // choice is written into the NodeAttempt its context carries, if any (one property read else).
  const getConnection = base.prototype.getConnection
  Tagging.prototype.getConnection = function (
    this: Transport,
    options: Parameters<typeof getConnection>[0],
  ): ReturnType<typeof getConnection> {
    const connection = getConnection.call(this, options)
    recordAttempt(options.context, connection)
    return connection
  }
  return Tagging
}

/** The official client for `engine`, with the secrets kept for `options`. */
export function buildClient(options: ResolvedSearchClientOptions, engine: EngineKind): Client {
  const secrets = secretsFor(options)
  if (secrets === undefined) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'options must come from resolveSearchClientOptions')
  }
  return new Client({
    ...secrets.clientOptions,
    ...(secrets.auth !== undefined ? { auth: secrets.auth as NonNullable<ClientOptions['auth']> } : {}),
    ...(secrets.tls !== undefined ? { tls: secrets.tls } : {}),
    nodes: [...options.nodes],
    requestTimeout: options.requestTimeoutMs,
    maxRetries: options.retries,
    Transport: taggingTransport(engine === 'opensearch' ? OpenSearchTransport : Transport, secrets.context),
  })
}
