/**
 * Redis behind this member: the asynchronous-replication hole of a Redis failover, closed.
 *
 * Redis replicates asynchronously: a primary acknowledges an apply script before its replica has
 * it, so a replica that Sentinel (or a Redis Cluster failover) promotes can lack the last scripts
 * while Kafka already holds commits past them and this member's position is past them. Redis, not
 * Kafka, is the truth, and the truth went back in time. What the promoted copy holds is an older
 * but consistent moment (a script replicates as one unit: figures, offset and counters together),
 * so re-applying the records after the offset it holds gives the figures back exactly once;
 * applying the next chunk on top of it would skip the records in between, silently.
 *
 * How it is noticed:
 * 1. The apply and advance scripts carry the offset this member applied last and refuse a chunk
 *    when Redis holds less ("behind", `scripts.ts`): a chunk never lands on top of a hole.
 * 2. A script refused as "fenced" with a claim count below the one this member's claim got: Redis
 *    lost the claim itself (made after the moment the promoted copy holds). A newer claim by
 *    another member would have raised the count, so this is not a fence: the partition is claimed
 *    again instead of being left alone until the next assignment.
 * 3. The state check (every `stateCheckInterval`, `recovery.ts`) reads the offset, token and claim
 *    count of every partition this member owns, so an idle partition (no new record whose chunk
 *    would be refused) is noticed too. It compares with the offsets known before the read was
 *    sent, so a chunk applied meanwhile is not mistaken for a loss.
 *
 * What it does: the claim is forgotten (the next batch claims again and learns Redis's offset and
 * watermark), the partition is sought back to Redis's offset + 1 (through the batch's context in
 * a batch, the source's `seek` outside one), the `redisBehind` counter and event tell it, and
 * health is degraded with `E_STREAM_REDIS_BEHIND` for the partition until it re-applied up to
 * where this member had been. The new claim raises the view version to the highest this member
 * saw applied, so readers never see a version number twice (`CLAIM` in `scripts.ts`). Kafka's
 * committed offset goes back with the position: it only ever trails Redis.
 *
 * A promoted copy without the view's epoch marker is a lost state instead, rebuilt from the
 * topic (`recovery.ts`).
 */
import { withTimeout } from './retry.js'
import type { ConsumerState, Owned } from './state.js'

/** Emitted as `redisBehind` when Redis holds less of a partition than this member applied. */
export interface RedisBehindEvent {
  topic: string
  partition: number
  /** The offset Redis holds (`-1`: none); records after it are applied again. */
  stored: string
  /** The last offset this member had applied to Redis. */
  applied: string
  /**
   * How it was noticed: `apply` (a script refused a chunk), `claim` (Redis lost this member's
   * claim), `check` (the state check).
   */
  cause: 'apply' | 'claim' | 'check'
}

/**
 * Redis holds `stored` for a partition this member had applied through `owned.offset`: forget
 * the claim, seek back to `stored + 1`, count, tell, degrade health (see the module note). A claim
 * already replaced (handled by another path) is left alone.
 */
export function redisBehind(
  state: ConsumerState,
  topic: string,
  partition: number,
  owned: Owned,
  stored: bigint,
  cause: RedisBehindEvent['cause'],
  seek: ((offset: string) => void) | undefined,
): void {
  const id = `${topic}:${partition}`
  if (state.owned.get(id) !== owned) return
  state.owned.delete(id)
  state.counters.redisBehind++
  const before = state.reapplying.get(id)
  const target = before === undefined || owned.offset > before ? owned.offset : before
  state.reapplying.set(id, target)
  state.reasons.set({
    code: 'E_STREAM_REDIS_BEHIND',
    state: 'degraded',
    topic,
    partition,
    message: `Redis holds ${topic}/${partition} at offset ${stored} while this member had applied it through ${target} (a failover to a replica that had not received the last scripts?): re-applying the records after ${stored} from Kafka`,
  })
  const next = String(stored + 1n)
  if (seek !== undefined) seek(next)
  else if (state.source.seek !== undefined && state.source.isAssigned(topic, partition)) {
    state.source.seek(topic, partition, next)
  }
  if (state.events.listenerCount('redisBehind') > 0) {
    const event: RedisBehindEvent = {
      topic,
      partition,
      stored: String(stored),
      applied: String(owned.offset),
      cause,
    }
    state.events.emit('redisBehind', event)
  }
}

/** A partition applied through `offset`: done re-applying once it is where this member had been. */
export function reapplied(state: ConsumerState, topic: string, partition: number, offset: bigint): void {
  const id = `${topic}:${partition}`
  const target = state.reapplying.get(id)
  if (target === undefined || offset < target) return
  state.reapplying.delete(id)
  state.reasons.delete('E_STREAM_REDIS_BEHIND', topic, partition)
}

/**
 * The state check's part (see the module note, 3): compare what Redis holds of every owned
 * partition with what this member applied. Also drops the health reason of partitions no longer
 * assigned to this member (their new owner re-applies them).
 */
export async function checkOffsets(state: ConsumerState): Promise<void> {
  for (const id of state.reapplying.keys()) {
    const colon = id.lastIndexOf(':')
    const topic = id.slice(0, colon)
    const partition = Number(id.slice(colon + 1))
    if (!state.source.isAssigned(topic, partition)) {
      state.reapplying.delete(id)
      state.reasons.delete('E_STREAM_REDIS_BEHIND', topic, partition)
    }
  }
  if (state.owned.size === 0) return
  const keys = state.requireKeys()
  // Known before the read is sent: a chunk applied while it is in flight only moves these up.
  const known = [...state.owned].map(([id, owned]) => ({
    id,
    owned,
    offset: owned.offset,
    token: owned.token,
  }))
  const multi = state.redis.multi()
  for (const { id } of known) {
    const colon = id.lastIndexOf(':')
    multi.hmget(keys.partition(id.slice(0, colon), Number(id.slice(colon + 1))), 'token', 'offset', 'epoch')
  }
  const replies = (await withTimeout(multi.exec(), state.options.scriptTimeout)) ?? []
  for (let i = 0; i < known.length; i++) {
    const [error, value] = replies[i] ?? [new Error('no reply')]
    if (error) throw error
    const [token, offset, claims] = value as [string | null, string | null, string | null]
    const { id, owned } = known[i] as (typeof known)[number]
    const stored = offset === null ? -1n : BigInt(offset)
    const colon = id.lastIndexOf(':')
    const topic = id.slice(0, colon)
    const partition = Number(id.slice(colon + 1))
    if (token === known[i]?.token) {
      if (stored < (known[i]?.offset as bigint))
        redisBehind(state, topic, partition, owned, stored, 'check', undefined)
    } else if (Number(claims ?? 0) < owned.claims) {
      redisBehind(state, topic, partition, owned, stored, 'check', undefined)
    }
  }
}
