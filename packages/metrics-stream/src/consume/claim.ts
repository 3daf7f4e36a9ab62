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
 *
 * "Fenced" is told apart from "Redis lost this claim" by the partition's claim count: every claim
 * raises it, so a count below the one this claim got means Redis went back to a copy from before
 * the claim (a failover to a lagging replica), not that another member claimed since: the member
 * then goes back to Redis's offset and claims again (`behind.ts`).
 */
import { randomUUID } from 'node:crypto'
import { MetricsStreamError } from '../errors.js'
import { redisBehind } from './behind.js'
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
        [token, state.options.owner, state.epoch ?? '', String(state.versionSeen)],
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
      claims: reply[0],
      offset: BigInt(reply[1]),
      watermark,
      soughtTo: undefined,
      target: reply[3] === '' ? undefined : BigInt(reply[3]),
      done: reply[4] === '1',
    }
  }
}

/**
 * A script answered "fenced" (`reply[1]`: the token Redis holds now, `reply[2]`: the partition's
 * claim count, `reply[3]`: its stored offset). An older token with a claim count below this
 * claim's means Redis lost the claim (see the module note): back to Redis's offset, through
 * `seek`. Otherwise forget this claim only (a newer claim of the same member stays), count and
 * tell it. An empty token means the state vanished (Redis lost its data) or predates every claim
 * of the partition: it is claimed again at once, not left alone until the next assignment, and
 * the claim tells where to resume (`batch.ts`) or that the state must be rebuilt (`recovery.ts`).
 */
export function fenced(
  state: ConsumerState,
  topic: string,
  partition: number,
  owned: Owned,
  reply: readonly unknown[],
  seek: (offset: string) => void,
): void {
  const holder = String(reply[1] ?? '')
  if (holder !== '' && Number(reply[2] ?? 0) < owned.claims) {
    redisBehind(state, topic, partition, owned, BigInt(String(reply[3] ?? '-1')), 'claim', seek)
    return
  }
  const id = `${topic}:${partition}`
  state.counters.fenced++
  if (state.owned.get(id) === owned) state.owned.delete(id)
  if (holder !== '' && holder !== state.owned.get(id)?.token) state.lost.set(id, owned.assignment)
  if (state.events.listenerCount('fenced') > 0) state.events.emit('fenced', { topic, partition })
}
