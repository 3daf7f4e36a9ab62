/**
 * One chunk of an upsert changelog topic (`aggregates/changelog.ts`), applied by the same ONE
 * `apply` script as an event chunk: owner token and offset checked, then the rows' values stored
 * (`HSET`, absolute) and tombstones' fields removed (`HDEL`), the offset, counters, version bump
 * and change notice, atomically.
 *
 * A chunk is compacted in Node first: per figure and group, the last record of the chunk wins
 * (the order within a partition is the engine's order of updates for that key), so the script
 * writes each field once. A record is taken all or nothing: a missing key, a key or value that
 * does not decode, or a figure column that is not an integer dead-letters the whole record
 * before any of its figures is planned. The record's timestamp is not an event time: a changelog
 * row states a figure, it is never late, and the partition's watermark is left as it was.
 */
import type { ChangelogSource } from '../aggregates/define.js'
import { MetricsStreamError } from '../errors.js'
import { fixedArgs, forward, runApply, settle, type Tally } from './apply.js'
import type { OutgoingMessage, SourceBatchContext, SourceMessage } from './source.js'
import type { ConsumerState, Owned } from './state.js'

/** Fields per script op: Lua's `unpack` is bounded by the C stack (~8000 values). */
const SLICE = 1_000

/** The integer a figure column holds, `null` for none; throws for anything else. */
function figureValue(row: Record<string, unknown>, column: string): string | null {
  const value = row[column]
  if (value === null) return null
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  if (typeof value === 'string' && /^-?\d{1,16}$/.test(value) && Number.isSafeInteger(Number(value))) {
    return String(Number(value))
  }
  throw new MetricsStreamError(
    'E_STREAM_INVALID_EVENT',
    value === undefined
      ? `Changelog row has no column ${JSON.stringify(column)}`
      : `Changelog column ${JSON.stringify(column)} is not a safe integer: ${JSON.stringify(value)?.slice(0, 100)}`,
  )
}

/** Apply one chunk of a changelog topic. Resolves like `applyChunk`. */
export async function applyChangelogChunk(
  state: ConsumerState,
  topic: string,
  partition: number,
  owned: Owned,
  chunk: SourceMessage[],
  context: SourceBatchContext,
): Promise<boolean> {
  const keys = state.requireKeys()
  const names = state.view.changelogs.get(topic) ?? []
  const figures = names.map((name) => ({
    key: keys.aggregate(name),
    source: (state.view.aggregates[name] as { changelog: ChangelogSource }).changelog,
  }))
  // Per figure: group -> value ('' for a tombstone or a null column). Last record wins.
  const planned = figures.map(() => new Map<string, string>())
  const pending: string[] = []
  const dead: OutgoingMessage[] = []
  let applied = 0
  let oldest = Number.POSITIVE_INFINITY
  for (const message of chunk) {
    const ts = Number(message.timestamp)
    if (ts < oldest) oldest = ts
    pending.length = 0
    try {
      if (message.key === null) {
        throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Changelog record has no key', { topic })
      }
      let row: Record<string, unknown> | undefined
      if (message.value !== null) {
        const parsed: unknown = JSON.parse(message.value.toString('utf8'))
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Changelog value is not a JSON object', {
            topic,
          })
        }
        row = parsed as Record<string, unknown>
      }
      for (const { source } of figures) {
        pending.push(
          source.group(message.key),
          row === undefined ? '' : (figureValue(row, source.column) ?? ''),
        )
      }
    } catch (error) {
      const code = error instanceof MetricsStreamError ? error.code : 'E_STREAM_INVALID_EVENT'
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      dead.push(
        forward(message, topic, partition, { 'x-error-code': code, 'x-error': reason.slice(0, 1_000) }),
      )
      continue
    }
    for (let f = 0; f < figures.length; f++) {
      ;(planned[f] as Map<string, string>).set(pending[2 * f] as string, pending[2 * f + 1] as string)
    }
    applied++
  }
  if (dead.length > 0) await state.source.send(state.config.deadLetterTopic ?? `${topic}.dlq`, dead)
  if (!context.isActive()) return false

  const scriptKeys = [keys.partition(topic, partition), keys.meta, keys.entities]
  const tally: Tally = { watermark: owned.watermark, applied, late: [], dead, oldest }
  const argv = fixedArgs(keys, topic, partition, owned, chunk, tally)
  argv.push('0', '0', '0')
  figures.forEach(({ key }, f) => {
    const sets: string[] = []
    const deletes: string[] = []
    for (const [group, value] of planned[f] as Map<string, string>) {
      if (value === '') deletes.push(group)
      else sets.push(group, value)
    }
    if (sets.length === 0 && deletes.length === 0) return
    scriptKeys.push(key)
    const index = String(scriptKeys.length)
    for (let i = 0; i < sets.length; i += 2 * SLICE) {
      const slice = sets.slice(i, i + 2 * SLICE)
      argv.push('s', index, '0', String(slice.length / 2), ...slice)
    }
    for (let i = 0; i < deletes.length; i += SLICE) {
      const slice = deletes.slice(i, i + SLICE)
      argv.push('x', index, '0', String(slice.length), ...slice)
    }
  })
  const began = performance.now()
  const reply = await runApply(state, scriptKeys, argv)
  return settle(state, topic, partition, owned, chunk, reply, performance.now() - began, tally, context)
}
