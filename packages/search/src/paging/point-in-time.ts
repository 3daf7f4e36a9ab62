/**
 * Points in time, through the engine's adapter (`POST /<index>/_pit` on Elasticsearch, `POST
 * /<index>/_search/point_in_time` on OpenSearch). Keep-alives are sent in whole milliseconds
 * (`'60000ms'`), rounded up.
 */
import { type Duration, toEngineTime } from '../duration.js'
import type { ClientState } from '../engine/client-state.js'
import { connect } from '../engine/connection.js'
import { engineError } from '../engine/engine-error.js'

/** Open a point in time on an index. @returns its id */
export async function openPit(state: ClientState, index: string, keepAlive: Duration): Promise<string> {
  const { client, adapter } = await connect(state)
  try {
    return await adapter.openPit(client, index, toEngineTime(keepAlive, 'keepAlive'))
  } catch (error) {
    throw engineError(error, index)
  }
}

/** Close a point in time. */
export async function closePit(state: ClientState, id: string): Promise<void> {
  const { client, adapter } = await connect(state)
  try {
    await adapter.closePit(client, id)
  } catch (error) {
    throw engineError(error)
  }
}
