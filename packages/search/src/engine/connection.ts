/**
 * The connection of a search client: the official client and the adapter of its engine. With a
 * fixed `engine` both are built at creation; with `engine: 'auto'` the root endpoint is read once
 * (`version.distribution === 'opensearch'`) before the first request, through a plain-JSON probe
 * client without product check (it can read the root of both engines), retried on other nodes
 * only (interactive reads wait on it). A failed detection is not cached: the next call tries
 * again, so an engine that comes back is found without a restart. A client given by the
 * application (`client`) is never rebuilt: `borrowed-client.ts` reads its engine through it.
 */
import { adapterFor, type EngineKind } from './adapters.js'
import { connectBorrowed } from './borrowed-client.js'
import type { ClientState, Connection } from './client-state.js'
import { engineError } from './engine-error.js'
import { buildClient } from './transport.js'

/** Build the connection at once when the engine is fixed (no detection needed). */
export function connectFixed(state: ClientState): void {
  const engine = state.options.engine
  // A borrowed client is checked against its engine at first use (borrowed-client.ts).
  if (engine === 'auto' || state.borrowed !== undefined) return
  state.client = buildClient(state.options, engine)
  state.ready = { client: state.client, adapter: adapterFor(engine) }
  state.connection = Promise.resolve(state.ready)
}

/** The connection, detecting the engine first when needed. */
export function connect(state: ClientState): Promise<Connection> {
  if (!state.connection) {
    const attempt = state.borrowed === undefined ? detect(state) : connectBorrowed(state, state.borrowed)
    state.connection = attempt
    // A failed detection is retried at the next call instead of being cached forever.
    attempt.then(
      (connection) => {
        if (state.connection === attempt) state.ready = connection
      },
      () => {
        if (state.connection === attempt) state.connection = undefined
      },
    )
  }
  return state.connection
}

async function detect(state: ClientState): Promise<Connection> {
  // Plain-JSON transport without product check can read the root endpoint of both engines.
  const probe = buildClient(state.options, 'opensearch')
  try {
    // Retried on other nodes only (no backoff sleeps): interactive reads wait on the detection.
    const info = (await probe.transport.request(
      { method: 'GET', path: '/' },
      { maxRetries: state.readRetries },
    )) as {
      version?: { distribution?: string }
    }
    const kind: EngineKind = info.version?.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch'
    state.client = buildClient(state.options, kind)
    return { client: state.client, adapter: adapterFor(kind) }
  } catch (error) {
    throw engineError(error)
  } finally {
    await probe.close()
  }
}
