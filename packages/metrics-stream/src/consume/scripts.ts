/**
 * The two Lua scripts of the exactly-once effect, and how they are called (EVALSHA, falling back
 * to EVAL when the script cache is empty, e.g. after a Redis restart).
 *
 * `claim` makes the caller the partition's owner: it stores a fresh owner token (a random id, so a
 * token can never repeat, even after Redis lost its data), bumps the epoch counter and returns the
 * partition's applied offset and watermark.
 *
 * `apply` is one chunk, atomically: check the owner token (a member that lost the partition is
 * fenced), check that the chunk starts after the stored offset (a redelivered chunk is refused),
 * for an entity-mode view check that every entity the chunk changes still has the version the
 * chunk was planned against (a compare-and-set: the deltas were computed in Node from the stored
 * contributions, so another partition's script that changed one of those entities in between
 * answers "conflict" and the consumer reads and plans again), apply the increments, store the
 * entities' new versions and contributions, store the new offset and watermark, add the
 * counters, bump the view version and PUBLISH the change notice. Either all of it happens or
 * none: every check runs before the first write.
 *
 * Redis does not roll a script back when a command inside it fails, so the script must not fail
 * half way: the `#!lua` shebang makes Redis 7 refuse the whole script up front when it is over
 * `maxmemory` (instead of at the first write), every key is declared (cluster-safe), and a failure
 * reply (e.g. WRONGTYPE from a foreign key in the namespace) is not retried by the consumer, since a
 * retry could apply the first half twice.
 */
import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

/** KEYS: state. ARGV: token, owner label. Returns [epoch, offset, watermark]. */
export const CLAIM = `#!lua
local e = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'owner', ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'offset', 'watermark')
return {e, s[1] or '-1', s[2] or ''}
`

/**
 * KEYS: state, meta, entities, aggregate keys... ARGV: token, firstOffset, lastOffset, watermark,
 * applied, late, dead, channel, notice tail, entity count e, duplicate versions, stale versions,
 * then e x (entity key, expected version or '' for none, new value), then ops
 * `kind keyIndex expireAt n (field delta)*n | member*n`.
 * Returns [1, version, serverMicros] applied, [-1, token] fenced, [-2, storedOffset] already
 * applied, [-3, entity key, stored version] conflict (nothing written). `serverMicros` is the
 * script's own run time by the server clock (TIME at both ends; Redis 7 replicates a script's
 * effects, so reading the clock in it is allowed). Lua's `unpack` is bounded by the C stack
 * (~8000 values), hence the entity HMGET/HSET in slices of 1000.
 */
export const APPLY = `#!lua
local t0 = redis.call('TIME')
local cur = redis.call('HMGET', KEYS[1], 'token', 'offset')
if cur[1] ~= ARGV[1] then return {-1, cur[1] or ''} end
local stored = tonumber(cur[2] or '-1')
if tonumber(ARGV[2]) <= stored then return {-2, cur[2]} end
local e = tonumber(ARGV[10])
local i = 13
if e > 0 then
  local names = {}
  for k = 1, e do names[k] = ARGV[i + 3 * (k - 1)] end
  for s = 1, e, 1000 do
    local last = math.min(s + 999, e)
    local found = redis.call('HMGET', KEYS[3], unpack(names, s, last))
    for k = s, last do
      local value = found[k - s + 1]
      local version = ''
      if value then version = string.match(value, '^[^:]*') end
      if version ~= ARGV[i + 3 * (k - 1) + 1] then return {-3, names[k], version} end
    end
  end
  for s = 1, e, 1000 do
    local last = math.min(s + 999, e)
    local kv = {}
    for k = s, last do
      kv[#kv + 1] = names[k]
      kv[#kv + 1] = ARGV[i + 3 * (k - 1) + 2]
    end
    redis.call('HSET', KEYS[3], unpack(kv))
  end
  i = i + 3 * e
end
local n = #ARGV
while i <= n do
  local kind = ARGV[i]
  local key = KEYS[tonumber(ARGV[i + 1])]
  local at = ARGV[i + 2]
  local count = tonumber(ARGV[i + 3])
  i = i + 4
  if kind == 'h' then
    for _ = 1, count do
      if redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1]) == 0 then redis.call('HDEL', key, ARGV[i]) end
      i = i + 2
    end
  elseif kind == 'z' then
    for _ = 1, count do
      if tonumber(redis.call('ZINCRBY', key, ARGV[i + 1], ARGV[i])) <= 0 then redis.call('ZREM', key, ARGV[i]) end
      i = i + 2
    end
  else
    redis.call('PFADD', key, unpack(ARGV, i, i + count - 1))
    i = i + count
  end
  if at ~= '0' then redis.call('PEXPIREAT', key, at) end
end
redis.call('HSET', KEYS[1], 'offset', ARGV[3], 'watermark', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'applied', ARGV[5])
if ARGV[6] ~= '0' then redis.call('HINCRBY', KEYS[1], 'late', ARGV[6]) end
if ARGV[7] ~= '0' then redis.call('HINCRBY', KEYS[1], 'dead', ARGV[7]) end
if ARGV[11] ~= '0' then redis.call('HINCRBY', KEYS[1], 'dupes', ARGV[11]) end
if ARGV[12] ~= '0' then redis.call('HINCRBY', KEYS[1], 'stale', ARGV[12]) end
local v = redis.call('HINCRBY', KEYS[2], 'version', 1)
redis.call('PUBLISH', ARGV[8], v .. ' ' .. ARGV[9])
local t1 = redis.call('TIME')
return {1, v, (t1[1] - t0[1]) * 1000000 + (t1[2] - t0[2])}
`

/**
 * KEYS: meta. ARGV: the signature of an entity view's aggregates (`aggregateSignature`, joined by
 * spaces). Stores it when there is none or when it extends the stored one (aggregates appended);
 * returns '' when compatible (equal, extended, or a prefix of the stored one: a member still on
 * the previous definition), else the stored signature.
 */
export const ENTITY_SIGNATURE = `#!lua
local cur = redis.call('HGET', KEYS[1], 'entityAggregates')
local sig = ARGV[1]
if not cur or (#sig > #cur and string.sub(sig, 1, #cur + 1) == cur .. ' ') then
  redis.call('HSET', KEYS[1], 'entityAggregates', sig)
  return ''
end
if cur == sig or (#cur > #sig and string.sub(cur, 1, #sig + 1) == sig .. ' ') then return '' end
return cur
`

/** A script with its SHA1, run by EVALSHA with an EVAL fallback. @internal */
export class Script {
  readonly sha: string
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run(redis: Redis | Cluster, keys: readonly string[], argv: readonly string[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...argv)
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return await redis.eval(this.source, keys.length, ...keys, ...argv)
      }
      throw error
    }
  }
}

/**
 * KEYS: state. ARGV: token, firstOffset (stored + 1), lastOffset, dead. Moves the stored offset
 * over records that change no figure: transaction markers and aborted records the source filtered
 * out, or (dead > 0) an undecodable batch sent whole to the dead-letter topic. Same checks as
 * `apply` (owner token, offset); no version bump or change notice. Returns [1, offset] moved,
 * [-1, token] fenced, [-2, storedOffset] already there.
 */
export const ADVANCE = `#!lua
local cur = redis.call('HMGET', KEYS[1], 'token', 'offset')
if cur[1] ~= ARGV[1] then return {-1, cur[1] or ''} end
local stored = tonumber(cur[2] or '-1')
if tonumber(ARGV[2]) <= stored then return {-2, cur[2]} end
redis.call('HSET', KEYS[1], 'offset', ARGV[3])
if ARGV[4] ~= '0' then redis.call('HINCRBY', KEYS[1], 'dead', ARGV[4]) end
return {1, ARGV[3]}
`
