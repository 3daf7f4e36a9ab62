/**
 * What a read returns: a frozen snapshot of every figure of a view at one version, with the
 * view's status (only `live` figures are complete) and whether it is stale (Redis could not
 * answer and the last snapshot held in process was served instead, see `bounded.ts`); and what a
 * change notice says.
 */
import type { Figures } from '../aggregates/define.js'
import type { StreamUnavailableReason } from '../errors.js'
import type { RebuildProgress, ViewStateReason, ViewStatus } from '../health/view-state.js'

/** Time range of bucketed figures (inclusive; epoch ms or Dates), and which figures to read. */
export interface ReadParams {
  /** First bucket: the one containing this instant. @default the `readBuckets`-th last bucket */
  from?: number | Date | undefined
  /** Last bucket: the one containing this instant. @default now */
  to?: number | Date | undefined
  /**
   * Read only these figures (aggregate names): the snapshot's `figures` holds them and no other,
   * and the range applies to them only (a yearly report of month buckets does not read the
   * year's day buckets of another figure). A name the view lacks, or an empty list, is
   * `E_STREAM_INVALID_READ`. @default every figure
   */
  figures?: readonly string[] | undefined
}

/** All figures of a view at one version. */
export interface DashboardSnapshot<A> {
  /** The view version (applied chunks of this state; only goes up for subscribers within an epoch). */
  readonly version: number
  /** The generation read. */
  readonly generation: number
  readonly figures: Figures<A>
  /**
   * Whether the figures are complete: `live`; or partial: `rebuilding` (a replay from the topic
   * is under way, see `progress`), `incomplete` (the topic no longer holds events they need),
   * `missing` (Redis holds no state for the view: zeros that mean nothing). Only `live` figures
   * are the truth.
   */
  readonly status: ViewStatus
  /** Identity of the view's state in Redis ('' when none): it changes when the state is rebuilt after a loss. */
  readonly epoch: string
  /** While `rebuilding`: records applied vs records to replay, per partition. */
  readonly progress: RebuildProgress | undefined
  /** When not `live`: why (`E_STREAM_REBUILDING`, `E_STREAM_LOG_TRUNCATED`, `E_STREAM_STATE_MISSING`...). */
  readonly reason: ViewStateReason | undefined
  /**
   * True when Redis could not answer this read (see `staleReason`) and the last snapshot of the
   * range held in process was served instead: the figures (and `status`) are as of `ageMs` ago.
   * False for a read from Redis or from the in-process copy kept current by the change notices.
   */
  readonly stale: boolean
  /** 0 when not stale; else milliseconds since these figures were last known current. */
  readonly ageMs: number
  /** Why a stale answer is stale: `timeout`, `connection` or `circuit-open`; undefined when not stale. */
  readonly staleReason: StreamUnavailableReason | undefined
}

/** One update yielded by {@link Dashboard.subscribe}. */
export interface DashboardUpdate<A> extends DashboardSnapshot<A> {
  /**
   * True when this snapshot resynchronizes: versions were skipped (missed notices, reconnect), the
   * state was rebuilt (a new epoch), a rebuild just completed (`status` back to `live`), or Redis
   * answers again after stale updates.
   */
  readonly resync: boolean
  /** True when `status` or `stale` differs from the previous update's (always true for the first). */
  readonly statusChanged: boolean
}

/** A decoded change notice. */
export interface ChangeNotice {
  version: number
  generation: number
  /** The chunk's topic, or `-` for a notice about the view itself (promotion, status). */
  topic: string
  partition: number
  offset: string
  /** Oldest record timestamp of the chunk (epoch ms). */
  oldestEventAt: number
  /** A status notice (topic `-`): the view's new status (`rebuilding`, `live`, `incomplete`). */
  status?: ViewStatus | undefined
}
