/**
 * Failover check: a Redis that went back in time has lost invalidations, and is treated as lost.
 *
 * Redis replicates asynchronously: a primary acknowledges a write before its replicas have it.
 * When the primary dies, Sentinel promotes a replica that may lack the last writes, among them
 * invalidations the cache was told had landed (a `DEL`, a tag bump, a `clear()`). Auto-recovery
 * cannot help: those calls succeeded, nothing was kept. The promoted copy still holds the entries
 * they removed, with the tag versions from before, and every instance that reads them serves old
 * values until their TTL: an instance started after the failover, or any instance once its L1
 * is gone.
 *
 * The check. At every (re)connection, before any operation of the cache goes through on it (the
 * tier waits for it, `RedisTier.setVerifier`), it reads the server's replication id (`INFO
 * replication`, `master_replid`: a promoted replica takes a new one, as does a server restarted
 * without its replication state) and runs ONE script comparing it with the id the namespace was
 * last written under (the `<base>r` key). Equal: nothing happened. Different: the namespace is
 * treated as lost, its generation is bumped once by a hard step (every entry of the namespace
 * reloads once, so no invalidation that did not survive can leave an old entry readable) and the
 * key is set to the new id, atomically, so the first instance to get there bumps and the others
 * find it done. An instance whose own last id differs (or that bumped) also drops its L1 and its
 * local tag table and keeps loads in flight from storing (they may hold versions the server no
 * longer has). No key: the first check of the namespace (or Redis lost everything, with nothing
 * left to serve stale): it is set, nothing bumped.
 *
 * A check that fails (a timeout, the connection lost again) counts as a lost link: L2 stays
 * refused and auto-recovery's next attempt runs the check again before it opens the gate. INFO
 * refused by the ACL (`NOPERM`) turns the check off for good, reported once.
 *
 * The trade-off, and the other way. The alternative was to make every invalidation wait for a
 * replica (`WAIT 1 <timeout>`) and keep it for a replay when unacknowledged: exact (nothing
 * reloads after a clean failover), but a round trip more on every write, and once the replica is
 * gone (the promoted node has none until the old primary comes back) every invalidation would
 * time out and the instance stay degraded, L2 off, for as long as the topology runs without a
 * replica. The check costs nothing per operation, covers every lost write of every instance
 * (including one that died since), and its price is paid once per failover: every entry of the
 * namespace reloads (loads coalesce per key, and leases across processes when on). A restart
 * that changes the replication id costs the same.
 *
 * Not covered: Redis Cluster (each shard fails over on its own; the check is off for a Cluster
 * client), a replica that is written to directly, and a split brain where the old primary keeps
 * accepting writes from clients that did not follow the failover.
 */
import type { Cluster } from 'ioredis'
import { L2UnavailableError } from '../errors.js'
import { GENERATION_SUFFIX } from '../keys.js'
import { HARD_STEP } from '../tags/tag-versions.js'
import { l2Error } from '../tiers/redis-connection.js'
import type { RedisTier } from '../tiers/redis-tier.js'

/** The suffix of the key holding the replication id the namespace was last written under. */
export const REPLICATION_SUFFIX = 'r'

/** Callbacks of the check into the cache. */
export interface FailoverHooks {
  /**
   * The server's history differs from the one this instance (or the namespace) knew: drop L1 and
   * the local tag table, then observe `generation` (already bumped on the server); tell it.
   */
  changed(generation: number): void
  /** The check could not run on this connection: treat the link as lost (L2 refused). */
  unverified(error: L2UnavailableError): void
  /** A failure worth counting (the tier's error hook). */
  failed(error: L2UnavailableError): void
}

/**
 * Whether the check runs for `client` under `setting` (`'sentinel'`: when it connects through
 * Sentinel). Never for a Cluster client.
 */
export function failoverCheckWanted(client: RedisTier['client'], setting: boolean | 'sentinel'): boolean {
  if (setting === false || isCluster(client)) return false
  if (setting === true) return true
  const sentinels = (client as { options?: { sentinels?: unknown[] | null } }).options?.sentinels
  return Array.isArray(sentinels) && sentinels.length > 0
}

function isCluster(client: RedisTier['client']): client is RedisTier['client'] & Cluster {
  return (client as { isCluster?: boolean }).isCluster === true
}

/** See the module note. */
export class FailoverCheck {
  /** The replication id this instance saw at its last check. */
  private replid: string | undefined
  /** Off for good (INFO refused by the ACL). */
  private off = false
  /** The last check of this connection failed: run it again before L2 opens (auto-recovery). */
  needed = false
  /** Times the server's history changed under this instance. */
  changes = 0

  constructor(
    private readonly tier: RedisTier,
    private readonly hooks: FailoverHooks,
  ) {
    tier.setVerifier(this.verify)
  }

  /** The tier's verifier: the check, its failure turned into a lost link. Never rejects. */
  private readonly verify = async (): Promise<void> => {
    try {
      await this.check()
    } catch (error) {
      this.needed = true
      const reported =
        error instanceof L2UnavailableError
          ? error
          : l2Error(this.tier.client, 'Redis failover check failed', error)
      this.hooks.failed(reported)
      this.hooks.unverified(reported)
    }
  }

  /** Run the check now (see the module note); rejects when it could not run. */
  async check(): Promise<void> {
    if (this.off) return
    const tier = this.tier
    let info: string
    try {
      info = await tier.bounded(tier.client.info('replication'), 'failoverCheck')
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOPERM')) {
        this.off = true
        this.needed = false
        this.hooks.failed(l2Error(tier.client, 'Redis refused INFO: the failover check is off', error))
        return
      }
      throw error
    }
    const role = /^role:(\w+)/m.exec(info)?.[1]
    const id = /^master_replid:(\w+)/m.exec(info)?.[1]
    // A replica cannot take the bump, and is not what the cache writes to: nothing to compare.
    if (role !== 'master' || id === undefined) {
      this.needed = false
      return
    }
    const [bumped, generation] = await tier.bounded(
      tier.client.ayalaCacheLineage(
        tier.keys.tag(REPLICATION_SUFFIX),
        tier.keys.tag(GENERATION_SUFFIX),
        id,
        HARD_STEP,
      ),
      'failoverCheck',
    )
    const before = this.replid
    this.replid = id
    this.needed = false
    if (bumped === 1 || (before !== undefined && before !== id)) {
      this.changes++
      this.hooks.changed(Number(generation))
    }
  }
}
