/**
 * Apply index events (upserts and deletes with external versions) as one bulk request and say,
 * for each event, what became of it. This is the single place where the engine's per-item
 * answers are classified, shared by the search outbox worker, `reconcile()` and the SDK-wide
 * outbox's search sink (`@ayala/outbox`), so every relay draws the same line between "try again"
 * and "give up":
 *
 * - `applied`: 2xx.
 * - `stale`: final, nothing to do. 409 (the index already holds this version or a newer one:
 *   external versions make a late or redelivered event harmless) or a delete answered 404 without
 *   an error (the document is not there).
 * - `retry`: the engine refused for now and the same event will succeed later: 429 (rejected
 *   execution), any 5xx, `cluster_block_exception` (`index.blocks.write`, a read-only or
 *   flood-stage block: 403 while it lasts), `index_not_found_exception` (the index is being
 *   recreated or restored), shard/node unavailability, and an item the engine did not answer.
 * - `rejected`: permanent for this event: mapping and parse errors, strict-mapping violations,
 *   illegal arguments (any other 4xx). Retrying the same bytes cannot succeed.
 *
 * A request that fails as a whole (engine unreachable, timeout, 5xx/429 on the request) throws a
 * `SearchError` (`E_SEARCH_ENGINE`) whose `retriable` says whether trying again may help; no
 * event of it was classified. The caller keeps its events and retries with backoff.
 */

import { engineError } from '../engine/engine-error.js'
import type { SearchClient } from '../engine/search-client.js'
import type { OutboxEvent } from './outbox-event.js'

/** What became of one index event (see {@link applyIndexEvents}). */
export type IndexEventStatus = 'applied' | 'stale' | 'retry' | 'rejected'

/** The outcome of one event, in the order of the events given. */
export interface IndexEventResult {
  /** `applied`, `stale` (final, nothing to do), `retry` (transient) or `rejected` (permanent). */
  status: IndexEventStatus
  /** The engine's answer for `retry` and `rejected` (`<status> <type>: <reason>`, at most 2,000 chars). */
  error?: string
}

interface ItemAnswer {
  status?: number
  error?: { type?: string; reason?: string | null }
}

/** Error types that a later attempt of the same event can get past. */
const TRANSIENT_TYPES = new Set([
  'cluster_block_exception',
  'index_not_found_exception',
  'es_rejected_execution_exception',
  'rejected_execution_exception',
  'circuit_breaking_exception',
  'unavailable_shards_exception',
  'no_shard_available_action_exception',
  'node_not_connected_exception',
  'node_closed_exception',
  'primary_missing_action_exception',
  'shard_not_found_exception',
  'process_cluster_event_timeout_exception',
  'timeout_exception',
  'receive_timeout_transport_exception',
])

/** Classify one bulk item answer for an event of kind `op`. */
export function classifyIndexItem(op: OutboxEvent['op'], answer: ItemAnswer | undefined): IndexEventResult {
  if (answer === undefined) return { status: 'retry', error: '0 missing_item: the engine returned no result' }
  const status = answer.status ?? 0
  const type = answer.error?.type
  if (status >= 200 && status < 300 && type === undefined) return { status: 'applied' }
  if (status === 409) return { status: 'stale' }
  if (status === 404 && op === 'delete' && (type === undefined || type === 'not_found'))
    return { status: 'stale' }
  const error = `${status} ${type ?? 'unknown'}: ${answer.error?.reason ?? 'no reason'}`.slice(0, 2_000)
  if ((type !== undefined && TRANSIENT_TYPES.has(type)) || status === 429 || status >= 500 || status === 0) {
    return { status: 'retry', error }
  }
  return { status: 'rejected', error }
}

/** The NDJSON bulk body of `events` (external versions). */
export function indexEventsBody(events: readonly OutboxEvent[]): string {
  let body = ''
  for (const event of events) {
    const meta = { _index: event.index, _id: event.id, version: event.version, version_type: 'external' }
    body +=
      event.op === 'delete'
        ? `${JSON.stringify({ delete: meta })}\n`
        : `${JSON.stringify({ index: meta })}\n${JSON.stringify(event.document)}\n`
  }
  return body
}

/**
 * Apply `events` in one bulk request with `version_type: external` and classify each one.
 * Returns one result per event, in order. An empty list sends nothing.
 *
 * @throws SearchError `E_SEARCH_ENGINE` when the request itself fails (unreachable, timeout, a
 *   whole-request 429/5xx); `retriable` is set for those that may succeed later.
 *
 * @example
 * const results = await applyIndexEvents(search, [
 *   { op: 'upsert', index: 'invoices-write', id: '42', version: 7, document },
 *   { op: 'delete', index: 'invoices-write', id: '43', version: 3 },
 * ])
 * // [{ status: 'applied' }, { status: 'stale' }]
 */
export async function applyIndexEvents(
  search: SearchClient,
  events: readonly OutboxEvent[],
): Promise<IndexEventResult[]> {
  if (events.length === 0) return []
  return applyBulkBody(search, events, indexEventsBody(events))
}

/**
 * Like {@link applyIndexEvents} with a prebuilt body (the outbox stores documents as JSON text
 * and does not parse them again). `events` give the op of each item, in body order.
 */
export async function applyBulkBody(
  search: SearchClient,
  events: readonly Pick<OutboxEvent, 'op' | 'index'>[],
  body: string,
): Promise<IndexEventResult[]> {
  const client = await search.raw()
  let response: { items?: Array<Record<string, ItemAnswer>> }
  try {
    response = (await client.transport.request({
      method: 'POST',
      path: '/_bulk',
      bulkBody: body,
      querystring: { filter_path: 'items.*.status,items.*.error.type,items.*.error.reason' },
    })) as typeof response
  } catch (error) {
    throw engineError(error, events[0]?.index)
  }
  const items = response.items ?? []
  const results: IndexEventResult[] = new Array(events.length)
  for (let i = 0; i < events.length; i++) {
    const item = items[i]
    const answer = item === undefined ? undefined : Object.values(item)[0]
    results[i] = classifyIndexItem((events[i] as Pick<OutboxEvent, 'op'>).op, answer)
  }
  return results
}
