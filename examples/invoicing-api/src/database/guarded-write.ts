/**
 * What every write of the API shares around its transaction (`transactions.ts`):
 *
 * - The version guard: a request that names the `version` it read gets 409 when the row is at
 *   another one, and nothing is written ({@link checkVersion}). A read-then-write whose row moved
 *   between its read and its `WHERE version = ?` write (another write committed in between) is
 *   run again from the read ({@link guardedWrite}); the request that named its version then gets
 *   its 409 from the new read.
 * - The immediate half of a committed write ({@link afterCommit}): the outbox holds the effects
 *   (search document, event, cache tags) and delivers them whatever happens next; for latency the
 *   write also invalidates its tags on every instance at once, awaiting the peers' answers, and
 *   wakes the relay so the rest leaves within a round trip instead of the next poll. A copy that
 *   is down never turns a committed write into an error; what the wait found is the response's
 *   `Cache-Coherence` header (`cache-coherence.ts`).
 */
import type { Cache, PeerAcknowledgement } from '@ayala/cache'
import type { OutboxRelay } from '@ayala/outbox'
import { ConflictException, type Logger } from '@nestjs/common'
import { cacheCoherence, reportCacheCoherence } from './cache-coherence.ts'
import type { Database } from './connection.ts'
import { type Tx, writeTransaction } from './transactions.ts'

/** Another write of the row committed between the read and the write: read and write again. */
export class RowMoved extends Error {}

/** Read-then-write attempts before a write that keeps finding its row moved gives up (409). */
const MOVED_ATTEMPTS = 8

/** 409 when a write names a version (`expected`) that is not the row's (`current`). */
export function checkVersion(kind: string, id: number, current: number, expected: number | undefined): void {
  if (expected !== undefined && expected !== current) {
    throw new ConflictException(`${kind} ${id} is at version ${current}, not ${expected}: read it again`)
  }
}

/**
 * Run a read-then-write of one `kind` row (`work` throws {@link RowMoved} when its guarded write
 * touched no row), again from the start while another write came in between; 409 after
 * {@link MOVED_ATTEMPTS} attempts.
 */
export async function guardedWrite<T>(db: Database, kind: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeTransaction(db, work)
    } catch (error) {
      if (!(error instanceof RowMoved)) throw error
      if (attempt >= MOVED_ATTEMPTS)
        throw new ConflictException(`the ${kind} changed concurrently too often; retry`)
    }
  }
}

/** The immediate half of a committed write: drop `tags` on every instance now, wake the relay. */
export async function afterCommit(
  tags: readonly string[],
  relay: OutboxRelay | null,
  cache: Cache,
  logger: Logger,
): Promise<void> {
  relay?.wake()
  let ack: PeerAcknowledgement | undefined
  try {
    // Answered once every live instance dropped its L1 copy (or peerAckTimeout passed): a read
    // on another instance right after this write's response is served the new version.
    ack = await cache.invalidateTags(tags, { awaitPeers: true })
    if (ack.unconfirmed > 0)
      logger.warn(`${ack.unconfirmed} instance(s) did not confirm the invalidation in time`)
  } catch (error) {
    // Committed: the outbox's cache effect invalidates them when Redis answers again.
    logger.warn(`tags left to the outbox: ${error instanceof Error ? error.message : String(error)}`)
  }
  // What the wait found, on the response (`Cache-Coherence`, see cache-coherence.ts).
  reportCacheCoherence(cacheCoherence(ack))
}
