/**
 * One chunk of a delta-mode view, applied by ONE script, and the accounting of any apply
 * script's reply (both modes).
 *
 * A chunk is decoded, validated and pre-aggregated in Node (`aggregates/plan.ts`): bad records
 * and late records are produced to their topics first (at-least-once there); then the `apply`
 * script checks the owner token and the stored offset and applies the increments, the new
 * offset, the counters, the version bump and the change notice atomically (`scripts.ts`). Only
 * then does the batch handler resolve the chunk in Kafka (`batch.ts`).
 *
 * The reply: "fenced" means another member claimed the partition (`claim.ts`): the batch is
 * dropped. "Already applied" with a stored offset at or beyond the chunk's last one is a retry
 * after a timeout whose first attempt did run: it counts as applied. A stored offset below it
 * means Redis moved under this member: the batch is dropped and fetched again. "Behind" (Redis
 * holds less than this member applied: a failover to a lagging replica) and "fenced" by a claim
 * Redis lost send the partition back to Redis's offset (`behind.ts`). Every script
 * reports the time it ran on the server (Redis `TIME` inside it), which sizes the next chunk
 * (`chunk-sizer.ts`). At most `maxScriptsInFlight` scripts are awaited at once (`gate.ts`).
 */
import { DeltaPlan } from '../aggregates/plan.js'
import { MetricsStreamError } from '../errors.js'
import type { ViewKeys } from '../keys.js'
import { reapplied, redisBehind } from './behind.js'
import { fenced } from './claim.js'
import { completeSoon } from './recovery.js'
import { withTimeout } from './retry.js'
import { APPLY, Script } from './scripts.js'
import type { OutgoingMessage, SourceBatchContext, SourceMessage } from './source.js'
import type { ConsumerState, Owned } from './state.js'

/** Emitted as `applied` after each chunk's script returned. */
export interface AppliedEvent {
  topic: string
  partition: number
  /** The chunk's last offset. */
  offset: string
  /** The view version the chunk produced. */
  version: number
  events: number
  /** Script round-trip time (client side, queueing behind other commands included), milliseconds. */
  scriptMs: number
  /** Time the script ran on the Redis server (its own clock), milliseconds. */
  serverMs: number
  /** Now minus the oldest record timestamp of the chunk, milliseconds. */
  latencyMs: number
}

const applyScript = new Script(APPLY)

/**
 * What the apply script answers: [status, version or stored offset or entity or token, server us
 * or claims, stored offset]. @internal
 */
export type ApplyReply = [number, string | number, (number | string)?, (number | string)?]

/** What a chunk's decoding counted, for the script arguments and the counters. */
export interface Tally {
  watermark: number
  applied: number
  late: OutgoingMessage[]
  dead: OutgoingMessage[]
  /** Oldest record timestamp of the chunk (epoch ms). */
  oldest: number
}

/** Apply one chunk of a delta-mode view. Resolves true when applied, false when the batch must be dropped. */
export async function applyChunk(
  state: ConsumerState,
  topic: string,
  partition: number,
  owned: Owned,
  chunk: SourceMessage[],
  context: SourceBatchContext,
): Promise<boolean> {
  const keys = state.requireKeys()
  const { view } = state
  const plan = new DeltaPlan(view.aggregates, keys)
  const dead: OutgoingMessage[] = []
  const late: OutgoingMessage[] = []
  let watermark = owned.watermark
  let applied = 0
  let oldest = Number.POSITIVE_INFINITY
  for (const message of chunk) {
    const ts = Number(message.timestamp)
    if (ts < oldest) oldest = ts
    let event: unknown
    let at: number
    try {
      if (message.value === null)
        throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Record has no value')
      event = view.decode(JSON.parse(message.value.toString('utf8')))
      const time = view.eventTime(event)
      at = typeof time === 'number' ? time : time.getTime()
      if (!Number.isFinite(at))
        throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Event time is not a date')
      if (at < watermark - state.options.allowedLateness) {
        late.push(forward(message, topic, partition, { 'x-watermark': String(watermark) }))
        continue
      }
      const rows = view.rows(event)
      plan.addEvent(rows.add, rows.retract)
    } catch (error) {
      const code = error instanceof MetricsStreamError ? error.code : 'E_STREAM_INVALID_EVENT'
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      dead.push(
        forward(message, topic, partition, { 'x-error-code': code, 'x-error': reason.slice(0, 1_000) }),
      )
      continue
    }
    if (at > watermark) watermark = at
    applied++
  }
  if (dead.length > 0) await state.source.send(state.config.deadLetterTopic ?? `${topic}.dlq`, dead)
  if (late.length > 0) await state.source.send(state.config.lateTopic ?? `${topic}.late`, late)
  if (!context.isActive()) return false

  const scriptKeys = [keys.partition(topic, partition), keys.meta, keys.entities]
  const tally: Tally = { watermark, applied, late, dead, oldest }
  const argv = fixedArgs(keys, topic, partition, owned, chunk, tally)
  argv.push('0', '0', '0')
  plan.encode(scriptKeys, argv)
  const began = performance.now()
  const reply = await runApply(state, scriptKeys, argv)
  return settle(state, topic, partition, owned, chunk, reply, performance.now() - began, tally, context)
}

/** Script ARGV 1..10, shared by both modes. @internal */
export function fixedArgs(
  keys: ViewKeys,
  topic: string,
  partition: number,
  owned: Owned,
  chunk: SourceMessage[],
  { watermark, applied, late, dead, oldest }: Tally,
): string[] {
  const lastOffset = (chunk[chunk.length - 1] as SourceMessage).offset
  return [
    owned.token,
    (chunk[0] as SourceMessage).offset,
    lastOffset,
    Number.isFinite(watermark) ? String(watermark) : '',
    String(applied),
    String(late.length),
    String(dead.length),
    keys.channel,
    `${keys.generation} ${topic} ${partition} ${lastOffset} ${Number.isFinite(oldest) ? oldest : 0}`,
    // What Redis must hold for the chunk to follow on: the offset this member applied last.
    String(owned.offset),
  ]
}

/** Run the apply script within `maxScriptsInFlight` and `scriptTimeout`. */
export async function runApply(
  state: ConsumerState,
  scriptKeys: string[],
  argv: string[],
): Promise<ApplyReply> {
  const gate = state.gate
  if (gate !== undefined) await gate.enter()
  try {
    return (await withTimeout(
      applyScript.run(state.redis, scriptKeys, argv),
      state.options.scriptTimeout,
    )) as ApplyReply
  } finally {
    gate?.leave()
  }
}

/** Account for an apply script's reply. Resolves true when applied, false to drop the batch. */
export function settle(
  state: ConsumerState,
  topic: string,
  partition: number,
  owned: Owned,
  chunk: SourceMessage[],
  reply: ApplyReply,
  scriptMs: number,
  { watermark, applied, late, dead, oldest }: Tally,
  context: SourceBatchContext,
): boolean {
  const lastOffset = (chunk[chunk.length - 1] as SourceMessage).offset
  if (reply[0] === -1) {
    fenced(state, topic, partition, owned, reply, context.seek)
    return false
  }
  if (reply[0] === -5) {
    redisBehind(state, topic, partition, owned, BigInt(reply[1]), 'apply', context.seek)
    return false
  }
  if (reply[0] === -2) {
    const stored = BigInt(reply[1])
    if (stored < BigInt(lastOffset)) {
      owned.offset = stored
      return false
    }
    // A timed-out first attempt of this very chunk did run: it is applied.
  }
  owned.offset = BigInt(lastOffset)
  owned.watermark = watermark
  if (state.reapplying.size > 0) reapplied(state, topic, partition, owned.offset)
  if (owned.target !== undefined && !owned.done && owned.offset + 1n >= owned.target) {
    owned.done = true
    completeSoon(state)
  }
  const c = state.counters
  c.applied += applied
  c.late += late.length
  c.deadLettered += dead.length
  c.chunks++
  c.scriptMsTotal += scriptMs
  if (scriptMs > c.scriptMsMax) c.scriptMsMax = scriptMs
  // A retry answered "already applied" has no server time; it is not a sample of the cost.
  const serverMs = reply[0] === 1 && typeof reply[2] === 'number' ? reply[2] / 1_000 : 0
  if (reply[0] === 1) {
    if (Number(reply[1]) > state.versionSeen) state.versionSeen = Number(reply[1])
    c.scriptServerMsTotal += serverMs
    if (serverMs > c.scriptServerMsMax) c.scriptServerMsMax = serverMs
    state.sizer.observe(chunk.length, serverMs * 1_000)
  }
  if (state.events.listenerCount('applied') > 0) {
    const event: AppliedEvent = {
      topic,
      partition,
      offset: lastOffset,
      version: reply[0] === 1 ? Number(reply[1]) : 0,
      events: applied,
      scriptMs,
      serverMs,
      latencyMs: Number.isFinite(oldest) ? Date.now() - oldest : 0,
    }
    state.events.emit('applied', event)
  }
  return true
}

/** A record as it goes to the dead-letter or late topic: its source named in headers. @internal */
export function forward(
  message: SourceMessage,
  topic: string,
  partition: number,
  extra: Record<string, string>,
): OutgoingMessage {
  return {
    key: message.key,
    value: message.value,
    headers: {
      'x-source-topic': topic,
      'x-source-partition': String(partition),
      'x-source-offset': message.offset,
      'x-source-timestamp': message.timestamp,
      ...extra,
    },
  }
}
