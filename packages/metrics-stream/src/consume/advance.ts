/**
 * The ADVANCE path: moving a partition's stored offset over records that count for nothing.
 *
 * A transactional topic (Flink, Kafka Streams, any `transactional.id` producer) has offsets that
 * hold no record for the consumer: commit/abort markers and aborted records, which the source
 * filters out. The offsets a batch covers after its last record (a trailing commit marker,
 * `lastOffset`), and fetches that held filtered records only, move the stored offset with the
 * small `advance` script (owner token and offset checked, as for `apply`): Redis's offset stays
 * where Kafka's position is, lag reaches 0 and the next batch starts at stored + 1. An
 * undecodable batch sent whole to the dead-letter topic moves it the same way (`undecodable.ts`),
 * counting its records as dead. No version bump and no notice: the figures did not change.
 */
import { reapplied, redisBehind } from './behind.js'
import { fenced } from './claim.js'
import { withTimeout } from './retry.js'
import { ADVANCE, Script } from './scripts.js'
import type { SourceBatchContext } from './source.js'
import type { ConsumerState, Owned } from './state.js'

const advanceScript = new Script(ADVANCE)

/**
 * Move the stored offset to `offset` over records that count for nothing (filtered ones) or,
 * with `dead` > 0, that were dead-lettered whole (an undecodable batch). Resolves like
 * `applyChunk`. No version bump: the figures did not change.
 */
export async function advance(
  state: ConsumerState,
  topic: string,
  partition: number,
  owned: Owned,
  offset: string,
  dead: number,
  context: SourceBatchContext,
): Promise<boolean> {
  const keys = state.requireKeys()
  const reply = (await withTimeout(
    advanceScript.run(
      state.redis,
      [keys.partition(topic, partition)],
      [owned.token, String(owned.offset + 1n), offset, String(dead)],
    ),
    state.options.scriptTimeout,
  )) as [number, string, string?, string?]
  if (reply[0] === -1) {
    fenced(state, topic, partition, owned, reply, context.seek)
    return false
  }
  if (reply[0] === -5) {
    redisBehind(state, topic, partition, owned, BigInt(reply[1]), 'apply', context.seek)
    return false
  }
  if (reply[0] === -2 && BigInt(reply[1]) < BigInt(offset)) {
    owned.offset = BigInt(reply[1])
    return false
  }
  owned.offset = BigInt(offset)
  if (state.reapplying.size > 0) reapplied(state, topic, partition, owned.offset)
  state.counters.deadLettered += reply[0] === 1 ? dead : 0
  return true
}
