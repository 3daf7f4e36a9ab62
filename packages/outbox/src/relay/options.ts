/**
 * The relay's options: documented once, defaulted from {@link DEFAULT_OUTBOX_RELAY_OPTIONS},
 * validated (unknown keys named) and resolved into milliseconds once, when the relay is built.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { type Duration, toMs } from '../duration.js'
import { OutboxError } from '../errors.js'
import { rejectUnknownKeys } from '../option-keys.js'
import type { OutboxSink } from '../sinks/sink.js'
import type { SqlPool } from '../sql/runner.js'

/** Options of {@link Outbox.relay}. */
export interface OutboxRelayOptions {
  /** Pool (mariadb/mysql2/pg) or Prisma client the relay reads the table with. */
  db: SqlPool
  /** The sinks, by the names effects were recorded with (`search`, `kafka`, `cache`, ...). */
  sinks: Readonly<Record<string, OutboxSink<never>>>
  /** Effects per claim. @default 200 */
  batchSize?: number | undefined
  /** Wait between polls of a sink with nothing to deliver. @default '250ms' */
  pollInterval?: Duration | undefined
  /** First backoff after a failure; doubles up to `maxRetryDelay` (with full jitter). @default '500ms' */
  retryDelay?: Duration | undefined
  /** Longest backoff. @default '30s' */
  maxRetryDelay?: Duration | undefined
  /**
   * How long an effect may keep failing transiently (sink down, engine blocked) before it becomes a
   * dead letter, counted from its commit (or its replay). @default '6h'
   */
  maxAge?: Duration | undefined
  /** Longest time one batch delivery may take; then it is aborted and retried. @default '30s' */
  deliveryTimeout?: Duration | undefined
  /**
   * Lease of a claimed batch: after this, a crashed relay's batch is delivered by another. Must
   * exceed `deliveryTimeout`. @default '2m'
   */
  claimTimeout?: Duration | undefined
  /** Oldest pending effect older than this: health `degraded`. @default '30s' */
  degradedAfter?: Duration | undefined
  /** Oldest pending effect older than this: health `down`. @default '10m' */
  downAfter?: Duration | undefined
  /**
   * This relay's id in `claimed_by` (at most 64 characters). Give each instance a stable id (its
   * pod or host name and port): a relay restarted after a crash then takes back the batch its
   * previous incarnation had claimed at once, instead of waiting for `claimTimeout`. Two live
   * relays must never share an id. @default `<hostname>:<pid>:<random>`
   */
  id?: string | undefined
}

/** Defaults of {@link OutboxRelayOptions}. */
export const DEFAULT_OUTBOX_RELAY_OPTIONS = Object.freeze({
  batchSize: 200,
  pollInterval: '250ms' as Duration,
  retryDelay: '500ms' as Duration,
  maxRetryDelay: '30s' as Duration,
  maxAge: '6h' as Duration,
  deliveryTimeout: '30s' as Duration,
  claimTimeout: '2m' as Duration,
  degradedAfter: '30s' as Duration,
  downAfter: '10m' as Duration,
})

const RELAY_KEYS = new Set(['db', 'sinks', ...Object.keys(DEFAULT_OUTBOX_RELAY_OPTIONS), 'id'])

/** {@link OutboxRelayOptions} resolved: durations in ms (`maxAge` in us, as the table counts ages). */
export interface ResolvedRelayOptions {
  readonly batchSize: number
  readonly pollMs: number
  readonly retryDelayMs: number
  readonly maxRetryDelayMs: number
  readonly maxAgeUs: number
  readonly deliveryTimeoutMs: number
  readonly claimTimeoutMs: number
  readonly degradedAfterMs: number
  readonly downAfterMs: number
  readonly id: string
}

/** Validate `options` (unknown keys are named) and resolve them, frozen. */
export function resolveRelayOptions(options: OutboxRelayOptions): ResolvedRelayOptions {
  if (options === null || typeof options !== 'object') {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', 'relay options must be an object')
  }
  rejectUnknownKeys(options, RELAY_KEYS, 'relay')
  const d = DEFAULT_OUTBOX_RELAY_OPTIONS
  const batchSize = options.batchSize ?? d.batchSize
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new OutboxError(
      'E_OUTBOX_INVALID_OPTION',
      `batchSize must be an integer in 1..10000, got ${batchSize}`,
    )
  }
  const deliveryTimeoutMs = toMs(options.deliveryTimeout ?? d.deliveryTimeout, 'deliveryTimeout')
  const claimTimeoutMs = toMs(options.claimTimeout ?? d.claimTimeout, 'claimTimeout')
  if (claimTimeoutMs <= deliveryTimeoutMs) {
    throw new OutboxError(
      'E_OUTBOX_INVALID_OPTION',
      `claimTimeout (${claimTimeoutMs} ms) must exceed deliveryTimeout (${deliveryTimeoutMs} ms): a batch still being delivered would be claimed again`,
    )
  }
  const id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', 'id must be a string of 1..64 characters')
  }
  const sinks = options.sinks
  if (sinks === null || typeof sinks !== 'object' || Object.keys(sinks).length === 0) {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', 'sinks must name at least one sink')
  }
  for (const [name, sink] of Object.entries(sinks)) {
    if (sink === null || typeof sink !== 'object' || typeof sink.deliver !== 'function') {
      throw new OutboxError('E_OUTBOX_INVALID_OPTION', `sink "${name}" has no deliver() method`, {
        sink: name,
      })
    }
  }
  return Object.freeze({
    batchSize,
    pollMs: toMs(options.pollInterval ?? d.pollInterval, 'pollInterval'),
    retryDelayMs: toMs(options.retryDelay ?? d.retryDelay, 'retryDelay'),
    maxRetryDelayMs: toMs(options.maxRetryDelay ?? d.maxRetryDelay, 'maxRetryDelay'),
    maxAgeUs: toMs(options.maxAge ?? d.maxAge, 'maxAge') * 1_000,
    deliveryTimeoutMs,
    claimTimeoutMs,
    degradedAfterMs: toMs(options.degradedAfter ?? d.degradedAfter, 'degradedAfter'),
    downAfterMs: toMs(options.downAfter ?? d.downAfter, 'downAfter'),
    id,
  })
}
