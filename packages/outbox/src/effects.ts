/**
 * Effects: what a committed write must still do to the copies of its data. Each is recorded as
 * one outbox row, `{ sink, payload }`, in the write's own transaction, and delivered later by the
 * relay's sink of that name. The constructors below validate at the write, so a malformed effect
 * fails the transaction (typed error, nothing recorded) instead of becoming a dead letter later.
 *
 * Every effect must be idempotent at its sink, since the relay delivers at least once:
 * - `indexEffect`: external versions (an older or repeated version is refused by the engine);
 * - `kafkaEffect`: the record carries its identity (the outbox `seq` header, and whatever
 *   entity/version the value holds) so that a consumer applies it once (metrics-stream's entity
 *   views do);
 * - `cacheEffect`: tag versions only rise and deletes repeat harmlessly.
 */
import { OutboxError } from './errors.js'

/** One effect to record: the sink that delivers it and its JSON payload. */
export interface OutboxEffect<P = unknown> {
  /** Name of the relay sink that delivers it (letters, digits, `_`, `-`, `.`; at most 64). */
  readonly sink: string
  /** JSON-serializable payload handed to the sink. */
  readonly payload: P
}

/** A Kafka record to produce. */
export interface KafkaEffectPayload {
  topic: string
  /** Record key (the partitioning key); null for none. */
  key: string | null
  /** Record value: a string as is, anything else as its JSON. */
  value: string
  /** Record headers. */
  headers?: Record<string, string> | undefined
}

/** A search document change, applied with `version_type: external`. */
export type IndexEffectPayload =
  | { op: 'upsert'; index: string; id: string; version: number; document: Record<string, unknown> }
  | { op: 'delete'; index: string; id: string; version: number }

/** Cache invalidations. */
export interface CacheEffectPayload {
  /** Tags to invalidate. */
  tags?: string[] | undefined
  /** Keys to delete. */
  keys?: string[] | undefined
  /** `'delete'` (default) or `'expire'` (stale, kept as a grace fallback). */
  mode?: 'delete' | 'expire' | undefined
}

const SINK = /^[A-Za-z0-9_.-]{1,64}$/

function invalid(message: string, sink?: string): OutboxError {
  return new OutboxError('E_OUTBOX_INVALID_EFFECT', message, { sink })
}

/** Check a generic effect; returns its payload's JSON text. @internal */
export function encodeEffect(effect: OutboxEffect): string {
  if (effect === null || typeof effect !== 'object') throw invalid('an effect must be an object')
  if (typeof effect.sink !== 'string' || !SINK.test(effect.sink)) {
    throw invalid(
      `effect sink must be 1-64 letters, digits, "_", "-" or ".", got ${JSON.stringify(effect.sink)}`,
    )
  }
  let text: string | undefined
  try {
    text = JSON.stringify(effect.payload)
  } catch (error) {
    throw new OutboxError(
      'E_OUTBOX_INVALID_EFFECT',
      `effect payload is not JSON-serializable: ${String(error)}`,
      {
        sink: effect.sink,
        cause: error,
      },
    )
  }
  if (text === undefined) throw invalid('effect payload must not be undefined', effect.sink)
  return text
}

function nonEmpty(value: unknown, what: string, max: number, sink: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalid(`${what} must be a non-empty string of at most ${max} characters`, sink)
  }
  return value
}

function stringList(value: unknown, what: string, sink: string): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.length === 0)) {
    throw invalid(`${what} must be an array of non-empty strings`, sink)
  }
  return [...value]
}

/**
 * A Kafka record to produce once the write commits.
 *
 * @param record `value` may be a string (sent as is) or any JSON-serializable value (sent as JSON)
 * @param options `sink`: the relay sink's name. @default 'kafka'
 * @throws OutboxError `E_OUTBOX_INVALID_EFFECT` for a missing topic or a header that is not a string
 */
export function kafkaEffect(
  record: {
    topic: string
    key?: string | null | undefined
    value: unknown
    headers?: Record<string, string> | undefined
  },
  options: { sink?: string | undefined } = {},
): OutboxEffect<KafkaEffectPayload> {
  const sink = options.sink ?? 'kafka'
  const topic = nonEmpty(record?.topic, 'kafka topic', 249, sink)
  const key = record.key ?? null
  if (key !== null && typeof key !== 'string') throw invalid('kafka key must be a string or null', sink)
  if (record.value === undefined) throw invalid('kafka value must not be undefined', sink)
  const value = typeof record.value === 'string' ? record.value : JSON.stringify(record.value)
  let headers: Record<string, string> | undefined
  if (record.headers !== undefined) {
    headers = {}
    for (const [name, header] of Object.entries(record.headers)) {
      if (typeof header !== 'string') throw invalid(`kafka header ${name} must be a string`, sink)
      headers[name] = header
    }
  }
  return { sink, payload: headers === undefined ? { topic, key, value } : { topic, key, value, headers } }
}

/**
 * A search document upsert or delete, applied with `version_type: external` once the write
 * commits: give the row's version (it must rise with every write of the row).
 *
 * @param options `sink`: the relay sink's name. @default 'search'
 * @throws OutboxError `E_OUTBOX_INVALID_EFFECT` for a missing index or id, a version that is not a
 * non-negative safe integer, or an upsert without a document object
 */
export function indexEffect(
  change: IndexEffectPayload,
  options: { sink?: string | undefined } = {},
): OutboxEffect<IndexEffectPayload> {
  const sink = options.sink ?? 'search'
  if (change === null || typeof change !== 'object') throw invalid('index change must be an object', sink)
  const index = nonEmpty(change.index, 'index', 255, sink)
  const id = nonEmpty(change.id, 'document id', 512, sink)
  if (!Number.isSafeInteger(change.version) || change.version < 0) {
    throw invalid('document version must be a non-negative safe integer', sink)
  }
  if (change.op === 'delete') return { sink, payload: { op: 'delete', index, id, version: change.version } }
  if (change.op !== 'upsert') throw invalid(`index change op must be 'upsert' or 'delete'`, sink)
  if (change.document === null || typeof change.document !== 'object' || Array.isArray(change.document)) {
    throw invalid('an upsert needs a document object', sink)
  }
  return { sink, payload: { op: 'upsert', index, id, version: change.version, document: change.document } }
}

/**
 * Cache invalidations to apply once the write commits (tags invalidated, keys deleted), on top of
 * the ones the write path may already have done for latency: the outbox makes them survive a
 * crash or a Redis outage.
 *
 * @param options `sink`: the relay sink's name. @default 'cache'
 * @throws OutboxError `E_OUTBOX_INVALID_EFFECT` when neither tags nor keys are given
 */
export function cacheEffect(
  invalidation: CacheEffectPayload,
  options: { sink?: string | undefined } = {},
): OutboxEffect<CacheEffectPayload> {
  const sink = options.sink ?? 'cache'
  const tags = stringList(invalidation?.tags, 'cache tags', sink)
  const keys = stringList(invalidation?.keys, 'cache keys', sink)
  if ((tags?.length ?? 0) + (keys?.length ?? 0) === 0)
    throw invalid('a cache effect needs tags or keys', sink)
  const mode = invalidation.mode ?? 'delete'
  if (mode !== 'delete' && mode !== 'expire') throw invalid(`cache mode must be 'delete' or 'expire'`, sink)
  const payload: CacheEffectPayload = { mode }
  if (tags !== undefined) payload.tags = tags
  if (keys !== undefined) payload.keys = keys
  return { sink, payload }
}
