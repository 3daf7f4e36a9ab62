/**
 * The Lua scripts of the L2 tier, and the client type that carries them. Every script touches only
 * keys of one namespace (they share the `{ns}` hash tag) and declares every key it touches, so
 * each is valid on Redis Cluster, also while the namespace's slot is being migrated. No read goes
 * through a script: a script's inner calls are server-side commands each (an L2 read of 100
 * entries with their header tags was about 200 of them), while a read's MGET is one (see
 * tiers/redis-tier.ts `read`).
 *
 * - `ayalaCacheBump` / `ayalaCacheBumpEach`: `INCRBY` of several tag versions, atomic together
 *   (one step for all, or one per tag for auto-recovery's replay).
 * - `ayalaCacheCas`: `expire`'s compare-and-set, keeping the TTL (a concurrent write wins).
 * - `ayalaCacheRelease`: release a lease only if this caller still holds it.
 * - `ayalaCacheLineage`: the failover check's compare-and-bump (recovery/failover-check.ts).
 */
import type { Cluster, Redis } from 'ioredis'

/** KEYS = tag version keys; ARGV[1] = step. Atomic across the tags. -> new versions */
const BUMP_SCRIPT = `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('INCRBY', KEYS[i], ARGV[1]) end
return out
`

/** KEYS = tag version keys; ARGV = one step per key (auto-recovery's replay). -> new versions */
const BUMP_EACH_SCRIPT = `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('INCRBY', KEYS[i], ARGV[i]) end
return out
`

/** KEYS[1] = entry; ARGV = expected bytes, replacement. Compare-and-set, keeping the TTL. */
const CAS_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
`

/** KEYS[1] = lease; ARGV[1] = token. Release only our own lease. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

/**
 * KEYS = the replication marker, the generation; ARGV = the server's replication id, the step.
 * The marker names another history: bump the generation once and set it. -> {bumped, generation}
 */
const LINEAGE_SCRIPT = `
local m = redis.call('GET', KEYS[1])
if m == ARGV[1] then return {0, tonumber(redis.call('GET', KEYS[2]) or '0')} end
redis.call('SET', KEYS[1], ARGV[1])
if not m then return {0, tonumber(redis.call('GET', KEYS[2]) or '0')} end
return {1, redis.call('INCRBY', KEYS[2], ARGV[2])}
`

/** The tier's client with the scripts defined on it (see {@link defineScripts}). */
export type ScriptClient = (Redis | Cluster) & {
  ayalaCacheBump(...args: Array<string | number>): Promise<number[]>
  ayalaCacheBumpEach(...args: Array<string | number>): Promise<number[]>
  ayalaCacheCas(key: string, expected: Buffer, replacement: Buffer): Promise<number>
  ayalaCacheRelease(key: string, token: string): Promise<number>
  ayalaCacheLineage(
    marker: string,
    generation: string,
    replid: string,
    step: number,
  ): Promise<[number, number]>
}

const SCRIPTS: Array<[string, number | undefined, string]> = [
  ['ayalaCacheBump', undefined, BUMP_SCRIPT],
  ['ayalaCacheBumpEach', undefined, BUMP_EACH_SCRIPT],
  ['ayalaCacheCas', 1, CAS_SCRIPT],
  ['ayalaCacheRelease', 1, RELEASE_SCRIPT],
  ['ayalaCacheLineage', 2, LINEAGE_SCRIPT],
]

/** Define the scripts on `client` (once: a borrowed client may carry them already). */
export function defineScripts(client: Redis | Cluster): ScriptClient {
  for (const [name, numberOfKeys, lua] of SCRIPTS) {
    if (typeof (client as unknown as Record<string, unknown>)[name] !== 'function') {
      client.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys })
    }
  }
  return client as ScriptClient
}
