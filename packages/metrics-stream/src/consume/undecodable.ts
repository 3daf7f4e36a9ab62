/**
 * A record batch the source could not decode (`undecodable`: an unknown or failing compression
 * codec, corrupt bytes) is never a silent stall: the records before it are applied (`batch.ts`),
 * then it is counted (`stats().undecodableBatches`), emitted (`sourceError`) and listed by
 * `sourceErrors()` until the partition gets past it. With `undecodableBatches: 'pause'` (default)
 * the partition stops at it and fetches it again after a backoff (`retryDelay` doubling to
 * `maxRetryDelay`), so nothing is skipped and the CPU is not spun; the other partitions go on.
 * With `'dead-letter'` its bytes go to the dead-letter topic and the stored offset moves past it
 * (`advance.ts`; its records counted as `dead`).
 *
 * The same list holds the source's own problems (the Kafka client crashed: `E_STREAM_KAFKA`,
 * under the id ''), until it fetches again.
 */
import type { MetricsStreamError } from '../errors.js'
import { advance } from './advance.js'
import { retrying } from './retry.js'
import type { OutgoingMessage, SourceBatchContext, UndecodableBatch } from './source.js'
import type { ConsumerState, Owned, SourceProblem } from './state.js'

/** A batch the source could not decode: see `undecodableBatches` and the module note (2b). */
export async function onUndecodable(
  state: ConsumerState,
  topic: string,
  partition: number,
  owned: Owned,
  bad: UndecodableBatch,
  context: SourceBatchContext,
): Promise<void> {
  if (!context.isActive()) return
  if (BigInt(bad.lastOffset) <= owned.offset) {
    // Applied before (when it still decoded): a redelivery like any other.
    state.counters.duplicates += bad.records
    await context.commit(bad.lastOffset)
    return
  }
  const id = `${topic}:${partition}`
  state.counters.undecodableBatches++
  reportSourceError(state, id, bad.error)
  if (state.options.undecodableBatches === 'dead-letter') {
    const letter: OutgoingMessage = {
      key: null,
      value: bad.raw,
      headers: {
        'x-error-code': bad.error.code,
        'x-error': bad.error.message.slice(0, 1_000),
        'x-source-topic': topic,
        'x-source-partition': String(partition),
        'x-source-offset': bad.firstOffset,
        'x-source-last-offset': bad.lastOffset,
        'x-records': String(bad.records),
      },
    }
    const sent = await retrying(state, context, async () => {
      await state.source.send(state.config.deadLetterTopic ?? `${topic}.dlq`, [letter])
      return true
    })
    if (sent !== true || !context.isActive()) return
    const done = await retrying(state, context, () =>
      advance(state, topic, partition, owned, bad.lastOffset, bad.records, context),
    )
    if (done !== true) return
    await context.commit(bad.lastOffset)
    state.problems.delete(id)
    return
  }
  const delay = state.pauseDelays.get(id) ?? state.options.retryDelay
  state.pauseDelays.set(id, Math.min(delay * 2, state.options.maxRetryDelay))
  context.pause?.(delay)
}

/** Record a source problem (counted, emitted as `sourceError`, listed until it clears). */
export function reportSourceError(state: ConsumerState, id: string, error: MetricsStreamError): void {
  const known = state.problems.get(id)
  state.problems.set(id, {
    error,
    since: known?.since ?? Date.now(),
    attempts: (known?.attempts ?? 0) + 1,
  })
  state.counters.sourceErrors++
  if (state.events.listenerCount('sourceError') > 0) state.events.emit('sourceError', error)
}

/**
 * Source problems holding now: a partition stopped at a batch it cannot decode (until it
 * decodes, or is dead-lettered, or the partition is revoked), the Kafka client down (until it
 * fetches again). Empty when the source is healthy; health is down while it is not.
 */
export function sourceErrors(state: ConsumerState): SourceProblem[] {
  const holding: SourceProblem[] = []
  for (const [id, problem] of state.problems) {
    const { topic, partition } = problem.error
    if (
      id !== '' &&
      (topic === undefined || partition === undefined || !state.source.isAssigned(topic, partition))
    ) {
      state.problems.delete(id)
      continue
    }
    holding.push(problem)
  }
  return holding
}
