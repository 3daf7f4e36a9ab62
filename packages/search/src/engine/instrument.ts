/**
 * Every search is timed: `timed` (PIT paging, scan) and the bounded reads (`read/bounded-read.ts`)
 * feed the client's latency histogram and emit a `slow-query` event with the query's value-free
 * fingerprint when a search takes longer than `slowQueryThreshold`, only when someone listens
 * (no fingerprint is hashed otherwise).
 */
import type { Client } from '@elastic/elasticsearch'
import { queryFingerprint } from '../observability/fingerprint.js'
import type { ClientState } from './client-state.js'
import { connect } from './connection.js'
import { engineError } from './engine-error.js'

/** Record one search's latency, and emit `slow-query` when it was slow and someone listens. */
export function recordSearch(
  state: ClientState,
  index: string,
  body: Record<string, unknown>,
  durationMs: number,
): void {
  state.latency.record(durationMs)
  if (durationMs >= state.options.slowQueryMs && state.events.listenerCount('slow-query') > 0) {
    state.events.emit('slow-query', { index, durationMs, fingerprint: queryFingerprint(body), body })
  }
}

/**
 * Run one search outside the interactive reads (the transport's `requestTimeout` and retries),
 * timed; its failure is a `SearchError`.
 */
export async function timed<T>(
  state: ClientState,
  index: string,
  body: Record<string, unknown>,
  run: (client: Client) => Promise<T>,
): Promise<T> {
  const { client } = await connect(state)
  const started = performance.now()
  try {
    return await run(client)
  } catch (error) {
    throw engineError(error, index)
  } finally {
    recordSearch(state, index, body, performance.now() - started)
  }
}
