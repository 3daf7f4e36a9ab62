/**
 * The Lua scripts of the L2 tier, and the client type that carries them. Every script touches only
 * keys of one namespace (they share the `{ns}` hash tag), so each is valid on Redis Cluster.
 *
 * - `ayalaCacheRead`: entries with the versions of the tags named in their headers (and of the
 *   tags the caller is about to snapshot): `getMany` and a cold `get`/`has` in one round trip.
 *   It reads those version keys (and the generation) without declaring them: their names are in
 *   the entries it reads. Redis Cluster checks only declared keys, so while the namespace's slot
 *   is being migrated a script sent to the target by `ASK` (its declared entries moved already)
 *   would read a version key still on the source as absent, version 0, and serve an entry whose
 *   tag was invalidated (seen on a private cluster: tests tiers/redis-cluster-reshard). Hence
 *   the guard: a declared key that never exists (`KeySpace.guard`). On a migrating or importing
 *   slot, a declared key that is missing makes Redis refuse the script before it runs: `TRYAGAIN`
 *   when other declared keys are there, `ASK` when none is, and then `TRYAGAIN` on the target
 *   (a multi-key request with a key missing). So the script runs only on a slot that is not
 *   split, where every key it reads is local; ioredis retries `TRYAGAIN` (`retryDelayOnTryAgain`)
 *   within `redisTimeout`, and a read refused past it is a miss like any unavailable L2.
 * - `ayalaCacheBump` / `ayalaCacheBumpEach`: `INCRBY` of several tag versions, atomic together
 *   (one step for all, or one per tag for auto-recovery's replay).
 * - `ayalaCacheCas`: `expire`'s compare-and-set, keeping the TTL (a concurrent write wins).
 * - `ayalaCacheRelease`: release a lease only if this caller still holds it.
 * - `ayalaCacheLineage`: the failover check's compare-and-bump (recovery/failover-check.ts).
 */
import type { Cluster, Redis } from 'ioredis'

/** Lua: versions of the tags listed in an envelope header (see serialization/envelope.ts). */
const PARSE_HEADER = `
local function header_versions(v, base)
  local out = {}
  if (not v) or #v < 4 or string.byte(v, 1) ~= 172 then return out end
  local n = string.byte(v, 3) * 256 + string.byte(v, 4)
  local pos = 5
  for i = 1, n do
    if pos + 1 > #v then return out end
    local len = string.byte(v, pos) * 256 + string.byte(v, pos + 1)
    if pos + 1 + len > #v then return out end
    out[i] = tonumber(redis.call('GET', base .. string.sub(v, pos + 2, pos + 1 + len)) or '0')
    pos = pos + 2 + len
  end
  return out
end
local function requested(base, from)
  local out = {}
  for i = from, #ARGV do out[#out + 1] = tonumber(redis.call('GET', base .. ARGV[i]) or '0') end
  return out
end
`

/**
 * KEYS = entries, then the guard (never exists: see the module note); ARGV = base, requested tag
 * suffixes. -> {generation, requested, (entry, versions)...}
 */
const READ_SCRIPT = `${PARSE_HEADER}
local base = ARGV[1]
local out = { tonumber(redis.call('GET', base .. 'g') or '0'), requested(base, 2) }
for i = 1, #KEYS - 1 do
  local v = redis.call('GET', KEYS[i])
  out[#out + 1] = v or false
  out[#out + 1] = header_versions(v, base)
end
return out
`

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
  ayalaCacheRead(...args: Array<string | number>): Promise<unknown>
  ayalaCacheReadBuffer(...args: Array<string | number>): Promise<unknown[]>
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
  ['ayalaCacheRead', undefined, READ_SCRIPT],
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
