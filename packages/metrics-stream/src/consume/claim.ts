/**
 * Ownership of a partition, and fencing. Per partition, the member first *claims* the partition
 * in Redis (the `claim` script: a fresh owner token, see `scripts.ts`) and learns the last offset
 * applied to Redis and the watermark; it claims again at every new group assignment. Every apply
 * and advance script checks that token first: a script that answers "fenced" means another member
 * claimed the partition since (kafkajs may still run `eachBatch` for a partition it lost), so this
 * member drops the batch and leaves the partition alone until its next assignment.
 *
 * A claim is granted within the view state's current epoch only: a claim refused for another
 * epoch (Redis lost the state, or another member created it again) makes the member create or
 * adopt the state first (`recovery.ts`), then claim within it.
 */
import { randomUUID } from 'node:crypto'
import { MetricsStreamError } from '../errors.js'
import { recover } from './recovery.js'
import { withTimeout } from './retry.js'
import { CLAIM, Script } from './scripts.js'
import type { ConsumerState, Owned } from './state.js'

const claimScript = new Script(CLAIM)

/** Claim `topic`/`partition` for this member's `assignment`: a fresh token, the stored offset. */
export async function claim(
  state: ConsumerState,
  topic: string,
  partition: number,
  assignment: number,
): Promise<Owned> {
  const keys = state.requireKeys()
  for (let attempt = 1; ; attempt++) {
    const token = randomUUID()
    const reply = (await withTimeout(
      claimScript.run(
        state.redis,
        [keys.partition(topic, partition), keys.meta],
        [token, state.options.owner, state.epoch ?? ''],
      ),
      state.options.scriptTimeout,
    )) as [number, string, string, string, string]
    if (reply[0] === -4) {
      // The view's state is not the one this member knows: Redis lost it, or another member
      // created it again. Create or adopt it, then claim within it.
      if (attempt >= 3) {
        throw new MetricsStreamError(
          'E_STREAM_REDIS',
          `The state of view ${state.view.name} changed while claiming ${topic}/${partition}`,
          { topic, partition, view: state.view.name, retriable: true },
        )
      }
      await recover(state)
      continue
    }
    const watermark = reply[2] === '' ? Number.NEGATIVE_INFINITY : Number(reply[2])
    return {
      assignment,
      token,
      offset: BigInt(reply[1]),
      watermark,
      soughtTo: undefined,
      target: reply[3] === '' ? undefined : BigInt(reply[3]),
      done: reply[4] === '1',
    }
  }
}

/**
 * A script answered "fenced" (`reply[1]`: the token Redis holds now): forget this claim only (a
 * newer claim of the same member, in a later assignment, stays), count and tell it. An empty
 * token means the state vanished (Redis lost its data): the partition is claimed again at once,
 * not left alone until the next assignment.
 */
export function fenced(
  state: ConsumerState,
  topic: string,
  partition: number,
  owned: Owned,
  holder: string | number,
): void {
  const id = `${topic}:${partition}`
  state.counters.fenced++
  if (state.owned.get(id) === owned) state.owned.delete(id)
  if (holder !== '') state.lost.set(id, owned.assignment)
  if (state.events.listenerCount('fenced') > 0) state.events.emit('fenced', { topic, partition })
}
