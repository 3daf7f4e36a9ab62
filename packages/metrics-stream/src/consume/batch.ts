/**
 * One record batch of one partition, from the source to Redis: ownership, where to resume, the
 * chunks, the filtered tail, the undecodable batch.
 *
 * 1. The partition is claimed first for this assignment (`claim.ts`), which tells the last
 *    offset applied to Redis: Redis, not Kafka's committed offset, is the truth.
 * 2. Records at or below the stored offset are skipped (counted as duplicates). When Kafka starts
 *    the batch beyond the stored offset + 1 (Redis lost data, or a new generation on an old
 *    group), the member seeks back to it; when a whole batch lies below it (a new group, or a
 *    lost Kafka commit), it seeks forward to it (once per claim and offset). "Starts" means where
 *    the source fetched from (`fetchedOffset`), not the first record: a transactional topic has
 *    offsets that hold no record for us (commit/abort markers, aborted records, which the source
 *    filters out), so a gap after the fetch offset is not data loss and costs no seek; a gap
 *    that remains after a seek back is data Kafka no longer has (`noteGap`, `recovery.ts`).
 * 3. The rest is cut into chunks of at most `batchSize` records, fewer when the scripts run
 *    longer than `scriptBudget` on the server (`chunk-sizer.ts`); each chunk is applied by one
 *    script (`apply.ts`, `entity-chunk.ts` for an entity-mode view, `changelog-chunk.ts` for a
 *    changelog topic of the view), and only then resolved in
 *    Kafka, and the member heartbeats. A Redis or Kafka failure is retried with backoff while
 *    the member still owns the batch (`retry.ts`); a chunk that could not be applied (fenced,
 *    Redis moved) drops the rest of the batch, which is fetched again.
 * 4. Offsets after the last record (filtered ones) are stepped over (`advance.ts`); a batch the
 *    source could not decode comes last (`undecodable.ts`).
 */
import { advance } from './advance.js'
import { applyChunk } from './apply.js'
import { applyChangelogChunk } from './changelog-chunk.js'
import { claim } from './claim.js'
import { applyEntityChunk } from './entity-chunk.js'
import { noteGap } from './recovery.js'
import { retrying } from './retry.js'
import type { SourceBatch, SourceBatchContext, SourceMessage, UndecodableBatch } from './source.js'
import type { ConsumerState } from './state.js'
import { onUndecodable } from './undecodable.js'

/** Handle one batch (the source calls it one batch at a time per partition). @internal */
export async function handleBatch(
  state: ConsumerState,
  batch: SourceBatch,
  context: SourceBatchContext,
): Promise<void> {
  const { topic, partition, messages, undecodable } = batch
  const first = messages[0]
  // The last offset the batch covers (records after its last message were filtered out).
  const through = batch.lastOffset ?? messages[messages.length - 1]?.offset
  if ((through === undefined && undecodable === undefined) || state.stopping) return
  if (!state.source.isAssigned(topic, partition)) return
  const id = `${topic}:${partition}`
  let owned = state.owned.get(id)
  if (!owned || owned.assignment !== context.assignment) {
    if (state.lost.get(id) === context.assignment) return
    owned = await retrying(state, context, () => claim(state, topic, partition, context.assignment))
    if (!owned) return
    state.owned.set(id, owned)
  }
  const next = owned.offset + 1n
  const from = BigInt(batch.fetchedOffset ?? first?.offset ?? (undecodable as UndecodableBatch).firstOffset)
  if (from > next && owned.soughtTo !== next) {
    // Kafka is ahead of Redis: Redis is the truth, go back (once; a gap that remains after the
    // seek is data Kafka no longer has).
    owned.soughtTo = next
    state.counters.seeks++
    context.seek(String(next))
    return
  }
  if (from > next) noteGap(state, topic, partition, next)
  let start = 0
  while (start < messages.length && BigInt((messages[start] as SourceMessage).offset) < next) start++
  state.counters.duplicates += start
  if (
    start === messages.length &&
    undecodable === undefined &&
    BigInt(through as string) + 1n < next &&
    owned.soughtTo !== next
  ) {
    // Redis is ahead of Kafka (Kafka committed rarely before a crash): jump instead of
    // fetching and skipping every record in between (once per claim).
    owned.soughtTo = next
    state.counters.seeks++
    context.seek(String(next))
    return
  }
  const apply = state.view.changelogs.has(topic)
    ? applyChangelogChunk
    : state.view.mode === 'entity'
      ? applyEntityChunk
      : applyChunk
  let committed: string | undefined
  for (let i = start; i < messages.length; ) {
    if (!context.isActive() || state.stopping) return
    const chunk = messages.slice(i, i + state.sizer.size)
    i += chunk.length
    const done = await retrying(state, context, () => apply(state, topic, partition, owned, chunk, context))
    if (done !== true) return
    committed = (chunk[chunk.length - 1] as SourceMessage).offset
    await context.commit(committed)
    await context.heartbeat()
  }
  if (through !== undefined && through !== committed) {
    if (BigInt(through) > owned.offset) {
      // Filtered records close the batch (a commit marker, aborted records): step over them.
      const done = await retrying(state, context, () =>
        advance(state, topic, partition, owned, through, 0, context),
      )
      if (done !== true) return
    }
    await context.commit(through)
  }
  if (undecodable !== undefined) await onUndecodable(state, topic, partition, owned, undecodable, context)
  else if (state.problems.has(id)) {
    state.problems.delete(id)
    state.pauseDelays.delete(id)
  }
}
