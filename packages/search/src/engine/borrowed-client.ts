/**
 * A borrowed official client: `createSearchClient({ client })` over an `@elastic/elasticsearch`
 * 8.x/9.x `Client` the application already has (its own, or `@nestjs/elasticsearch`'s
 * `ElasticsearchService`, which extends `Client`). The search client uses it as it is and never
 * closes it: whoever built it closes it.
 *
 * What is checked, and when:
 *
 * - At creation (`borrowedCredentials`, credentials.ts, with the other option checks): the object is an `@elastic/elasticsearch` client
 *   (`transport.request`, a connection pool). An `@opensearch-project/opensearch` client is
 *   refused by name: its API (`{ body }` parameters and `{ body, statusCode }` answers) is not the
 *   one this package calls. Options that belong to the client (`node`, `auth`, `tls`,
 *   `clientOptions`, `requestTimeout`, `retries`) are refused with it: they are set where the
 *   client is built.
 * - Before the first request ({@link connectBorrowed}, the same once-per-client moment as the
 *   engine detection of `engine: 'auto'`): `GET /` through the client tells the engine. An
 *   Elastic client against OpenSearch fails its product check (`x-elastic-product` missing: the
 *   official client's `ProductNotSupportedError`); one built without the check but with the
 *   client's default `compatible-with` media types gets 406 on every request with a body, which
 *   a `POST /_analyze` shows at once. Both are `E_SEARCH_CLIENT_ENGINE`, naming the fix
 *   (`Transport: OpenSearchTransport`, or `node` instead of `client`), rather than failing later
 *   on the first search. So is an answer in the `{ body, statusCode }` shape (a 7.x client) and an
 *   engine other than the `engine` option names. A failure to reach the engine is not cached:
 *   the next call tries again.
 *
 * Once connected, the client's `diagnostic` `request` events tell which node each bounded read
 * went to, so that a node silent past a read's budget is marked dead in the client's pool
 * (node-attempt.ts); `close()` removes that listener and leaves the client open.
 */
import type { Client } from '@elastic/elasticsearch'
import { SearchError } from '../errors.js'
import { adapterFor, type EngineKind } from './adapters.js'
import type { ClientState, Connection } from './client-state.js'
import { engineError } from './engine-error.js'
import { recordAttemptsOf } from './node-attempt.js'

function incompatible(message: string, cause?: unknown): SearchError {
  return new SearchError('E_SEARCH_CLIENT_ENGINE', message, { retriable: false, cause })
}

const FIX =
  'build it with Transport: OpenSearchTransport (from @ayala/search), or give node instead of client'

/**
 * The connection of a borrowed client: the engine read once through it (`GET /`), and the checks
 * of the module note. Nothing is built, so nothing is owned.
 */
export async function connectBorrowed(state: ClientState, client: Client): Promise<Connection> {
  const where = state.options.nodes.join(', ')
  let info: unknown
  try {
    info = await client.transport.request({ method: 'GET', path: '/' }, { maxRetries: state.readRetries })
  } catch (error) {
    if (error instanceof Error && error.name === 'ProductNotSupportedError') {
      throw incompatible(
        `The given @elastic/elasticsearch client refuses the engine at ${where}: it checks that the server is Elasticsearch (x-elastic-product) and this one is not (OpenSearch sends no such header); ${FIX}`,
        error,
      )
    }
    throw engineError(error)
  }
  const answer = info as { version?: { distribution?: unknown }; body?: unknown; statusCode?: unknown }
  if (answer?.version === undefined && answer?.body !== undefined && answer.statusCode !== undefined) {
    throw incompatible(
      `The given client answers { body, statusCode } (an @elastic/elasticsearch 7.x client or another API): this package speaks the 8.x/9.x API; give node instead of client`,
    )
  }
  const kind: EngineKind = answer?.version?.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch'
  if (state.options.engine !== 'auto' && state.options.engine !== kind) {
    throw incompatible(`engine '${state.options.engine}' was given, but the engine at ${where} is ${kind}`)
  }
  if (kind === 'opensearch') await checkPlainJson(client, where)
  // The silent-node mark reads which node each bounded attempt went to (node-attempt.ts).
  if (!state.closed) state.detachBorrowed ??= recordAttemptsOf(client)
  return { client, adapter: adapterFor(kind) }
}

/**
 * OpenSearch answers 406 to the Elastic client's default `compatible-with` media types on
 * requests with a body: one harmless analyze request shows whether this client sends them.
 */
async function checkPlainJson(client: Client, where: string): Promise<void> {
  try {
    await client.transport.request({
      method: 'POST',
      path: '/_analyze',
      body: { analyzer: 'standard', text: 'ayala' },
    })
  } catch (error) {
    const status = (error as { meta?: { statusCode?: unknown } })?.meta?.statusCode
    if (status === 406) {
      throw incompatible(
        `The given @elastic/elasticsearch client sends application/vnd.elasticsearch+json; compatible-with media types, which OpenSearch at ${where} refuses (HTTP 406); ${FIX}`,
        error,
      )
    }
    throw engineError(error)
  }
}
