/**
 * Redis losing the view's state (a restart without persistence, a failover to an empty replica,
 * FLUSHALL), noticed and healed by the consumer itself: the rebuild state machine. The Lua side
 * is `init`, `complete` and `truncate` in `scripts.ts`; the states readers see are in
 * `health/view-state.ts`.
 *
 * Redis holding an older copy of the same state (a failover to a replica that missed the last
 * scripts: same epoch, offsets behind what this member applied) is not a loss: the state check
 * also compares the owned partitions' offsets, and the member re-applies from Redis's offset
 * (`behind.ts`).
 *
 * Every state carries an epoch marker (`init` creates it, with `rebuilding` and each partition's
 * replay target, when Redis holds none), and a claim is granted within the current epoch only
 * (`claim.ts`). The consumer checks the marker every `stateCheckInterval`, and a claim refused
 * for a missing marker tells it at once: it then creates the state again (one member wins, the
 * others adopt it), forgets its claims and seeks every assigned partition back to its low
 * watermark, idle ones included (they would otherwise never replay). The replay is an ordinary
 * stream of chunks; once every partition reached its target, `complete` switches the state to
 * `live` and publishes a status notice (readers resync).
 *
 * Before the replay starts, a topic whose low watermark is above 0 (retention deleted records)
 * or, for a delta-mode view, a compacted topic cannot give the figures back: the state is marked
 * incomplete and health is down with `E_STREAM_LOG_TRUNCATED` / `E_STREAM_LOG_COMPACTED` instead
 * of partial figures read as complete. The same mark is set when a partition resumes beyond
 * records Kafka deleted (`noteGap`).
 *
 * Entity mode: an entity's stored contribution names aggregates by position, so `init` also
 * checks (or stores) the view's aggregate signature within the generation.
 */
import { randomUUID } from 'node:crypto'
import { aggregateSignature } from '../aggregates/plan.js'
import { MetricsStreamError, type MetricsStreamErrorCode } from '../errors.js'
import type { ViewKeys } from '../keys.js'
import { checkOffsets } from './behind.js'
import { withTimeout } from './retry.js'
import { COMPLETE, ENTITY_SIGNATURE, INIT, Script, TRUNCATE } from './scripts.js'
import type { ConsumerState } from './state.js'

/** Emitted as `rebuilding` when this consumer created the view's state and replays the topic. */
export interface RebuildingEvent {
  generation: number
  epoch: string
  /** `created` (no state at start) or `lost` (the state vanished while running). */
  cause: 'created' | 'lost'
  /** Set when the topic cannot give the figures back (`E_STREAM_LOG_TRUNCATED`...). */
  incomplete: MetricsStreamErrorCode | undefined
}

const signatureScript = new Script(ENTITY_SIGNATURE)
const initScript = new Script(INIT)
const completeScript = new Script(COMPLETE)
const truncateScript = new Script(TRUNCATE)

/**
 * Create the generation's state when Redis holds none, or adopt the one it holds (the `init`
 * script): from then on this consumer claims within that state's epoch. A state created here is
 * a replay of the topic from its start; every assigned partition is sought back to it.
 *
 * @throws MetricsStreamError `E_STREAM_STATE_CORRUPT` when partition offsets survive without
 * the state marker (a partial loss)
 */
export async function initState(state: ConsumerState, cause: 'created' | 'lost'): Promise<void> {
  const keys = state.requireKeys()
  const { redis, source, view } = state
  const parts: Array<{ topic: string; partition: number; high: string; low: string }> = []
  for (const topic of source.topics) {
    for (const w of await source.highWatermarks(topic)) parts.push({ topic, ...w })
  }
  parts.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
  const truncation = await truncationOf(state, parts)
  const scriptKeys = [keys.meta, keys.pointer, `${keys.slot}:generations`]
  const argv = [
    randomUUID(),
    String(Date.now()),
    String(keys.generation),
    state.followsPointer ? '1' : '0',
    cause,
    truncation?.code ?? '',
    truncation?.message ?? '',
    parts.map((p) => `${p.topic}:${p.partition}`).join(' '),
    keys.channel,
  ]
  for (const p of parts) {
    scriptKeys.push(keys.partition(p.topic, p.partition))
    argv.push(p.high, p.low)
  }
  const reply = (await withTimeout(initScript.run(redis, scriptKeys, argv), state.options.scriptTimeout)) as [
    number,
    string,
    string?,
  ]
  if (reply[0] === -1) {
    const message = `Redis holds offsets of view ${view.name} generation ${keys.generation} (${reply[1]}) without its state marker: a partial loss (evicted keys? run Redis with maxmemory-policy noeviction). Replaying into it would count events twice: rebuild into a new generation (startRebuild).`
    state.reasons.set({ code: 'E_STREAM_STATE_CORRUPT', state: 'down', message })
    throw new MetricsStreamError('E_STREAM_STATE_CORRUPT', message, { view: view.name })
  }
  state.reasons.clear('E_STREAM_STATE_CORRUPT')
  const before = state.epoch
  state.epoch = reply[1]
  if (before !== reply[1]) {
    state.owned.clear()
    state.lost.clear()
    state.rewind.clear()
    // A new state replays everything: nothing is "behind" in it, and its versions start again.
    state.reapplying.clear()
    state.reasons.clear('E_STREAM_REDIS_BEHIND')
    state.versionSeen = 0
  }
  // A new state (created here, or by another member after a loss) is a replay from the start.
  if (reply[0] === 2 || (before !== undefined && before !== reply[1])) {
    for (const p of parts) {
      if (BigInt(p.high) > BigInt(p.low)) {
        state.rewind.set(`${p.topic}:${p.partition}`, { topic: p.topic, partition: p.partition, low: p.low })
      }
    }
    rewindIdle(state)
  }
  if (reply[0] === 2) {
    state.counters.rebuilds++
    if (state.events.listenerCount('rebuilding') > 0) {
      const event: RebuildingEvent = {
        generation: keys.generation,
        epoch: reply[1],
        cause,
        incomplete: truncation?.code,
      }
      state.events.emit('rebuilding', event)
    }
  }
  if (view.mode === 'entity') await checkEntityAggregates(state, keys)
}

/** Why a replay from the start cannot give the figures back, if it cannot. */
async function truncationOf(
  state: ConsumerState,
  parts: ReadonlyArray<{ topic: string; partition: number; low: string }>,
): Promise<{ code: MetricsStreamErrorCode; message: string } | undefined> {
  if (!state.options.requireCompleteHistory) return undefined
  const cut = parts.find((p) => BigInt(p.low) > 0n)
  if (cut) {
    return {
      code: 'E_STREAM_LOG_TRUNCATED',
      message: `${cut.topic}/${cut.partition} starts at offset ${cut.low}: the records before it were deleted (retention or deleteRecords), so a replay from the start cannot count them`,
    }
  }
  const { source, view } = state
  if (view.mode === 'delta' && source.cleanupPolicy) {
    for (const topic of source.topics) {
      // A changelog keeps each row's latest value when compacted: all a changelog figure needs.
      if (view.changelogs.has(topic)) continue
      const policy = await source.cleanupPolicy(topic)
      if (policy?.includes('compact')) {
        return {
          code: 'E_STREAM_LOG_COMPACTED',
          message: `${topic} is compacted (cleanup.policy=${policy}): it keeps each key's latest record only, which a delta-mode view cannot be rebuilt from (an entity-mode view can)`,
        }
      }
    }
  }
  return undefined
}

/** The state check (every `stateCheckInterval`): see the module note, 5. */
export async function checkState(state: ConsumerState): Promise<void> {
  if (state.checking || state.stopping || state.keys === undefined) return
  state.checking = true
  const keys = state.keys
  try {
    const replies = await withTimeout(
      state.redis.multi().hmget(keys.meta, 'epoch', 'status').get(keys.pointer).exec(),
      state.options.scriptTimeout,
    )
    const [meta, pointer] = (replies ?? []).map(([error, value]) => {
      if (error) throw error
      return value
    }) as [Array<string | null>, string | null]
    state.reasons.clear('E_STREAM_REDIS')
    if (pointer === String(keys.generation)) state.followsPointer = true
    if ((meta[0] ?? undefined) !== state.epoch) await recover(state)
    else {
      // The state is the one this member works in: is Redis behind what it applied (`behind.ts`)?
      await checkOffsets(state)
      if (meta[1] === 'rebuilding') await complete(state)
    }
    rewindIdle(state)
  } catch (error) {
    state.counters.stateCheckErrors++
    if (!(error instanceof MetricsStreamError && error.code === 'E_STREAM_STATE_CORRUPT')) {
      state.reasons.set({
        code: 'E_STREAM_REDIS',
        state: 'degraded',
        message: `Checking the view's state in Redis failed (retried every ${state.options.stateCheckInterval} ms): ${error instanceof Error ? error.message : String(error)}`,
      })
    }
    if (state.events.listenerCount('retry') > 0) state.events.emit('retry', error)
  } finally {
    state.checking = false
  }
}

/** Create or adopt the view's state after it changed under this consumer (single flight). */
export function recover(state: ConsumerState): Promise<void> {
  state.recovering ??= initState(state, 'lost').finally(() => {
    state.recovering = undefined
  })
  return state.recovering
}

/** Seek the partitions of a new state back to their start until they are claimed in it. */
function rewindIdle(state: ConsumerState): void {
  const { source } = state
  if (source.seek === undefined) return
  for (const [id, { topic, partition, low }] of state.rewind) {
    if (state.owned.has(id)) state.rewind.delete(id)
    else if (source.isAssigned(topic, partition)) source.seek(topic, partition, low)
  }
}

/** Switch a rebuilding state to live once every partition reached its target. */
async function complete(state: ConsumerState): Promise<void> {
  const keys = state.requireKeys()
  const { redis } = state
  const list = await withTimeout(redis.hget(keys.meta, 'partitions'), state.options.scriptTimeout)
  const scriptKeys = [keys.meta]
  for (const entry of list ? list.split(' ') : []) {
    const colon = entry.lastIndexOf(':')
    scriptKeys.push(keys.partition(entry.slice(0, colon), Number(entry.slice(colon + 1))))
  }
  const argv = [state.epoch ?? '', keys.channel, String(keys.generation), String(Date.now())]
  const reply = (await withTimeout(
    completeScript.run(redis, scriptKeys, argv),
    state.options.scriptTimeout,
  )) as [number, number | string]
  if (reply[0] === -4) await recover(state)
  else if (reply[0] === 2) {
    state.rewind.clear()
    if (state.events.listenerCount('live') > 0)
      state.events.emit('live', { generation: keys.generation, epoch: state.epoch })
  }
}

/** `complete()` without waiting, once at a time (a chunk reached its partition's target). */
export function completeSoon(state: ConsumerState): void {
  if (state.completing !== undefined) return
  state.completing = complete(state)
    .catch((error: unknown) => {
      // The state check completes it at its next run; counted and told meanwhile.
      state.counters.stateCheckErrors++
      if (state.events.listenerCount('retry') > 0) state.events.emit('retry', error)
    })
    .finally(() => {
      state.completing = undefined
    })
}

/**
 * A partition resumed beyond stored + 1 after seeking back: records Kafka no longer holds, or
 * compacted gaps. Only the low watermark tells them apart (checked once per gap).
 */
export function noteGap(state: ConsumerState, topic: string, partition: number, next: bigint): void {
  const id = `${topic}:${partition}:${next}`
  if (!state.options.requireCompleteHistory || state.gapsChecked.has(id)) return
  state.gapsChecked.add(id)
  const keys = state.requireKeys()
  const check = async () => {
    const low = (await state.source.highWatermarks(topic)).find((w) => w.partition === partition)?.low
    if (low === undefined || BigInt(low) <= next) return
    const message = `${topic}/${partition} resumed at offset ${low} while offset ${next} was the next to apply: the records in between were deleted (retention or deleteRecords) before this consumer applied them`
    const argv = [state.epoch ?? '', 'E_STREAM_LOG_TRUNCATED', message, keys.channel, String(keys.generation)]
    await truncateScript.run(state.redis, [keys.meta], argv)
  }
  check().catch((error: unknown) => {
    state.gapsChecked.delete(id)
    if (state.events.listenerCount('retry') > 0) state.events.emit('retry', error)
  })
}

/**
 * An entity's stored contribution names aggregates by position: within a generation the view's
 * aggregates may be appended to, never reordered, removed or changed (rebuild instead).
 */
async function checkEntityAggregates(state: ConsumerState, keys: ViewKeys): Promise<void> {
  const signature = aggregateSignature(state.view.aggregates).join(' ')
  const stored = (await withTimeout(
    signatureScript.run(state.redis, [keys.meta], [signature]),
    state.options.scriptTimeout,
  )) as string
  if (stored === 'delta') {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `Generation ${keys.generation} of view ${state.view.name} was built in delta mode: entity mode needs the stored contribution of every entity it retracts. Rebuild into a new generation with the entity view (startRebuild), then promote it`,
      { view: state.view.name },
    )
  }
  if (stored !== '') {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `The aggregates of entity view ${state.view.name} changed in generation ${keys.generation} (stored: ${stored}; now: ${signature}): only appending is allowed; rebuild into a new generation (startRebuild)`,
      { view: state.view.name },
    )
  }
}
