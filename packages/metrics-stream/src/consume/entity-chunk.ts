/**
 * Entity mode (a view with `entity`): one chunk planned against the stored versions and applied
 * with a compare-and-set on them.
 *
 * Offsets only guard redelivery of the same records; the same event produced again at a new
 * offset (an outbox relay that crashed after producing and before marking its rows done), or an
 * older version produced after a newer one by another relay, is caught by version. Redis keeps
 * per entity `<version>:<contribution>` in the generation's entity hash. A chunk is decoded and
 * validated first; then the consumer reads the stored entries of the chunk's entities (one
 * HMGET), walks each entity's events in offset order against its stored version (above: applied;
 * equal: duplicate; below: stale), and plans the deltas: retract the stored contribution, add the
 * last applied version's, store that version and contribution (a tombstone keeps its version and
 * contributes nothing). Only the highest version of a chunk reaches Redis. The apply script
 * checks, besides the token and the offset, that every entity it writes still has the version the
 * plan read; if another partition's script changed one in between it answers "conflict" without
 * writing anything, and the consumer reads and plans again (`MAX_CONFLICTS` times in a row at
 * most, then the chunk is retried with backoff). The key and version rules are `entity.ts`.
 */
import { DeltaPlan, encodeContribution, type RowOp } from '../aggregates/plan.js'
import { MetricsStreamError } from '../errors.js'
import { fixedArgs, forward, runApply, settle, type Tally } from './apply.js'
import { compareVersions, entityKey, entityVersion } from './entity.js'
import { withTimeout } from './retry.js'
import type { OutgoingMessage, SourceBatchContext, SourceMessage } from './source.js'
import type { ConsumerState, Owned } from './state.js'

/** Entity mode: consecutive conflicts of one chunk before it is retried with backoff instead. */
const MAX_CONFLICTS = 50
const NO_OPS: readonly RowOp[] = Object.freeze([])

/** One validated event of an entity-mode chunk. */
interface EntityEvent {
  readonly version: string
  readonly ops: readonly RowOp[]
  /** What the entity hash stores when this version is applied. */
  readonly value: string
}

/**
 * Entity mode: one chunk, planned against the stored versions and applied with a
 * compare-and-set on them (see the module note). Resolves like {@link applyChunk}.
 */
export async function applyEntityChunk(
  state: ConsumerState,
  topic: string,
  partition: number,
  owned: Owned,
  chunk: SourceMessage[],
  context: SourceBatchContext,
): Promise<boolean> {
  const keys = state.requireKeys()
  const { view } = state
  const entity = view.entity as NonNullable<typeof view.entity>
  // Computes each row's contribution (and validates it) before anything is planned.
  const shapes = new DeltaPlan(view.aggregates, keys)
  const changes = new Map<string, EntityEvent[]>()
  const dead: OutgoingMessage[] = []
  const late: OutgoingMessage[] = []
  let watermark = owned.watermark
  let oldest = Number.POSITIVE_INFINITY
  for (const message of chunk) {
    const ts = Number(message.timestamp)
    if (ts < oldest) oldest = ts
    let at: number
    try {
      if (message.value === null)
        throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Record has no value')
      const event = view.decode(JSON.parse(message.value.toString('utf8')))
      const time = view.eventTime(event)
      at = typeof time === 'number' ? time : time.getTime()
      if (!Number.isFinite(at))
        throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Event time is not a date')
      if (at < watermark - state.options.allowedLateness) {
        late.push(forward(message, topic, partition, { 'x-watermark': String(watermark) }))
        continue
      }
      const change = entity(event)
      if (change === null || typeof change !== 'object') {
        throw new MetricsStreamError('E_STREAM_INVALID_ENTITY', 'entity() did not return an object')
      }
      const key = entityKey(change.key)
      const version = entityVersion(change.version)
      const row = change.row
      if (row === undefined) {
        throw new MetricsStreamError(
          'E_STREAM_INVALID_ENTITY',
          'entity() returned no row: return null for a deletion',
        )
      }
      const ops = row === null ? NO_OPS : shapes.rowOps(row)
      const value = `${version}:${row === null ? '' : encodeContribution(ops)}`
      const list = changes.get(key)
      if (list === undefined) changes.set(key, [{ version, ops, value }])
      else list.push({ version, ops, value })
    } catch (error) {
      const code = error instanceof MetricsStreamError ? error.code : 'E_STREAM_INVALID_EVENT'
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      dead.push(
        forward(message, topic, partition, { 'x-error-code': code, 'x-error': reason.slice(0, 1_000) }),
      )
      continue
    }
    if (at > watermark) watermark = at
  }
  if (dead.length > 0) await state.source.send(state.config.deadLetterTopic ?? `${topic}.dlq`, dead)
  if (late.length > 0) await state.source.send(state.config.lateTopic ?? `${topic}.late`, late)

  const names = [...changes.keys()]
  for (let attempt = 1; ; attempt++) {
    if (!context.isActive()) return false
    const found: Array<string | null> =
      names.length === 0
        ? []
        : await withTimeout(state.redis.hmget(keys.entities, ...names), state.options.scriptTimeout)
    const plan = new DeltaPlan(view.aggregates, keys)
    const writes: string[] = []
    let applied = 0
    let duplicates = 0
    let stale = 0
    for (let k = 0; k < names.length; k++) {
      const name = names[k] as string
      const stored = found[k] ?? null
      const colon = stored === null ? -1 : stored.indexOf(':')
      if (stored !== null && colon <= 0) {
        throw new MetricsStreamError(
          'E_STREAM_STATE_CORRUPT',
          `Entity ${JSON.stringify(name)} of view ${view.name} holds ${JSON.stringify(stored.slice(0, 100))}`,
          { view: view.name },
        )
      }
      const storedVersion = stored === null ? '' : stored.slice(0, colon)
      let current = storedVersion
      let winner: EntityEvent | undefined
      for (const change of changes.get(name) as EntityEvent[]) {
        const order = current === '' ? 1 : compareVersions(change.version, current)
        if (order > 0) {
          applied++
          current = change.version
          winner = change
          plan.mergeDistinct(change.ops)
        } else if (order === 0) duplicates++
        else stale++
      }
      if (winner === undefined) continue
      if (stored !== null) plan.retractStored(stored.slice(colon + 1))
      plan.mergeOps(winner.ops, 1)
      writes.push(name, storedVersion, winner.value)
    }
    const scriptKeys = [keys.partition(topic, partition), keys.meta, keys.entities]
    const tally: Tally = { watermark, applied, late, dead, oldest }
    const argv = fixedArgs(keys, topic, partition, owned, chunk, tally)
    argv.push(String(writes.length / 3), String(duplicates), String(stale), ...writes)
    plan.encode(scriptKeys, argv)
    const began = performance.now()
    const reply = await runApply(state, scriptKeys, argv)
    const scriptMs = performance.now() - began
    if (reply[0] === -3) {
      // Another script changed one of these entities after the HMGET: read and plan again.
      state.counters.conflicts++
      if (attempt >= MAX_CONFLICTS) {
        throw new MetricsStreamError(
          'E_STREAM_REDIS',
          `${attempt} conflicts in a row on one chunk of ${topic}/${partition} (entity ${String(reply[1])})`,
          { topic, partition, view: view.name, retriable: true },
        )
      }
      continue
    }
    if (reply[0] === 1) {
      state.counters.versionDuplicates += duplicates
      state.counters.staleVersions += stale
    }
    return settle(state, topic, partition, owned, chunk, reply, scriptMs, tally, context)
  }
}
