/**
 * The dashboard's options: their TSDoc (unit, default), the one `DEFAULT_DASHBOARD_OPTIONS`
 * constant, the per-call options of a read (call > instance > default), and their validation,
 * once, into the frozen {@link ResolvedDashboardOptions} the dashboard's state is built from.
 */
import type { Cluster, Redis } from 'ioredis'
import type { Aggregates, View } from '../aggregates/define.js'
import { type Duration, toMs } from '../duration.js'
import { MetricsStreamError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'

/** Options of {@link createDashboard}. */
export interface DashboardOptions<A extends Aggregates<any>> {
  /**
   * ioredis client (or Cluster) to read from: the server the consumer writes to, or a replica of
   * it (reads only; Redis 7 replicates each apply script as one MULTI/EXEC, notice included, so a
   * replica's readers and subscribers see whole batches in order).
   */
  redis: Redis | Cluster
  /** Key namespace the consumer writes to. */
  namespace: string
  /** The view to read. */
  view: View<any, any, A>
  /**
   * Keep the latest snapshot per read range in process, emptied by the change notices.
   * @default true
   */
  cache?: boolean | undefined
  /**
   * Connection used for SUBSCRIBE (it cannot run other commands).
   * @default `redis.duplicate()`, closed by `close()`
   */
  subscriber?: Redis | Cluster | undefined
  /**
   * Deadline of one read from Redis (its MULTI, the retry after a generation switch and the
   * rebuild progress), a number of ms or `'500ms'`; per call: `read(params, { timeout })`. Past it
   * the read answers stale or rejects with `E_STREAM_UNAVAILABLE` (see `staleIfError`). Also
   * bounds `health()` and the subscriber's heartbeat PING. A hit of the in-process copy is not
   * concerned (no Redis call).
   * @default '500ms'
   */
  timeout?: Duration | undefined
  /** Consecutive unavailability failures of reads (deadline passed, connection failed) that open the read breaker. @default 5 */
  breakerThreshold?: number | undefined
  /**
   * How long the open breaker refuses reads (answered stale or `E_STREAM_UNAVAILABLE`, no command
   * sent) before letting one probe through; also the interval at which a subscriber re-reads while
   * it holds a stale snapshot or no notices flow.
   * @default '2s'
   */
  breakerCooldown?: Duration | undefined
  /**
   * When Redis cannot answer a read: answer with the last snapshot of the same range held in
   * process, marked `stale: true` with its `ageMs`, if it was current at most this long ago;
   * `false`: reject with `E_STREAM_UNAVAILABLE` instead. Per call: `read(params, { staleIfError })`.
   * At most 64 read ranges are kept for this.
   * @default '1h'
   */
  staleIfError?: Duration | false | undefined
  /**
   * Interval of a PING on the subscriber connection (bounded by `timeout`), so that a link that
   * stopped answering without closing (a hung server, a blackholed route) is noticed within about
   * `heartbeatInterval + timeout`: the in-process copy is turned off, subscribers re-read. `false`:
   * no heartbeat (only a closed connection is noticed). Not used on a Redis Cluster subscriber.
   * @default '1s'
   */
  heartbeatInterval?: Duration | false | undefined
}

/** Defaults of {@link DashboardOptions}. */
export const DEFAULT_DASHBOARD_OPTIONS = Object.freeze({
  cache: true,
  timeout: '500ms' as Duration,
  breakerThreshold: 5,
  breakerCooldown: '2s' as Duration,
  staleIfError: '1h' as Duration | false,
  heartbeatInterval: '1s' as Duration | false,
})

/** Per-call options of {@link Dashboard.read} (call > instance > default). */
export interface DashboardReadOptions {
  /** Deadline of this read from Redis. @default the dashboard's `timeout` */
  timeout?: Duration | undefined
  /** How old a stale answer may be, or `false` to reject instead. @default the dashboard's `staleIfError` */
  staleIfError?: Duration | false | undefined
}

/** The options as the dashboard reads them: milliseconds, defaults applied. @internal */
export interface ResolvedDashboardOptions {
  readonly useCache: boolean
  readonly timeoutMs: number
  readonly cooldownMs: number
  /** -1: `staleIfError: false`. */
  readonly staleIfErrorMs: number
  /** 0: `heartbeatInterval: false`. */
  readonly heartbeatMs: number
  readonly breakerThreshold: number
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'redis',
  'namespace',
  'view',
  'subscriber',
  ...Object.keys(DEFAULT_DASHBOARD_OPTIONS),
])

/** The option keys of {@link readDashboard}: the dashboard's, but `cache` and `subscriber`. @internal */
export const READ_DASHBOARD_OPTION_KEYS: ReadonlySet<string> = new Set(
  [...KNOWN_OPTIONS].filter((name) => name !== 'cache' && name !== 'subscriber'),
)

function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `${option} must be a positive integer`)
  }
  return value
}

/**
 * Validate `options` (unknown options are refused by name) and freeze the result.
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION`
 * @internal
 */
export function resolveDashboardOptions(options: DashboardOptions<any>): ResolvedDashboardOptions {
  checkOptionKeys(options, KNOWN_OPTIONS, 'createDashboard')
  const d = DEFAULT_DASHBOARD_OPTIONS
  const timeoutMs = toMs(options.timeout ?? d.timeout, 'timeout')
  if (!(timeoutMs > 0)) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'timeout must be a positive duration')
  }
  const cooldownMs = toMs(options.breakerCooldown ?? d.breakerCooldown, 'breakerCooldown')
  const stale = options.staleIfError === undefined ? d.staleIfError : options.staleIfError
  const staleIfErrorMs = stale === false ? -1 : toMs(stale, 'staleIfError')
  const heartbeat = options.heartbeatInterval === undefined ? d.heartbeatInterval : options.heartbeatInterval
  const heartbeatMs = heartbeat === false ? 0 : toMs(heartbeat, 'heartbeatInterval')
  if (heartbeat !== false && !(heartbeatMs > 0 && Number.isFinite(heartbeatMs))) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      'heartbeatInterval must be a positive finite duration or false',
    )
  }
  const breakerThreshold = positiveInteger(options.breakerThreshold ?? d.breakerThreshold, 'breakerThreshold')
  return Object.freeze({
    useCache: options.cache ?? d.cache,
    timeoutMs,
    cooldownMs,
    staleIfErrorMs,
    heartbeatMs,
    breakerThreshold,
  })
}
