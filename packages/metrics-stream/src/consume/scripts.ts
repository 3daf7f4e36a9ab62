/**
 * The Lua scripts of the exactly-once effect and of the view's state, and how they are called
 * (EVALSHA, falling back to EVAL when the script cache is empty, e.g. after a Redis restart).
 *
 * `init` creates a generation's state when Redis holds none (first start, or Redis lost its data):
 * a random epoch marker, the replay target of every partition and the status `rebuilding`, all at
 * once; `complete` switches it to `live` when every partition reached its target (see
 * `health/view-state.ts`).
 *
 * `claim` makes the caller the partition's owner, within the current state only (it checks the
 * view's epoch marker): it stores a fresh owner token (a random id, so a token can never repeat,
 * even after Redis lost its data), bumps the claim counter and returns the partition's applied
 * offset and watermark. Since a token is only granted within the current state, and `init` refuses
 * to create a state over surviving partition offsets, the token check of `apply` also guarantees
 * that a chunk never lands in a state other than the one it was planned in: `apply` itself needs
 * no epoch check.
 *
 * `apply` is one chunk, atomically: check the owner token (a member that lost the partition is
 * fenced), check that the chunk starts after the stored offset (a redelivered chunk is refused)
 * and that the stored offset is the one the member applied last (Redis gone back to an older copy,
 * e.g. a promoted replica that had not received the last scripts, is refused rather than skipped
 * over: `rewind.ts`), for an entity-mode view check that every entity the chunk changes still has the version the
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

/**
 * KEYS: state, meta. ARGV: token, owner label, the view epoch the member works in, the highest
 * view version the member saw applied. Returns [claims, offset, watermark, target, done], or [-4,
 * current view epoch or ''] when the view's state is not the one the member knows (Redis lost it,
 * or another member rebuilt it): a claim is only granted within the current state, so nothing is
 * written to a state that has no marker. The partition hash's own `epoch` field counts claims
 * (for operators, and to tell a newer claim from a claim Redis lost: see `rewind.ts`). A view
 * version below the one the member saw (Redis went back to an older copy of the state) is raised
 * to it, so versions never repeat for readers; a state with no version yet is left alone.
 */
export const CLAIM = `#!lua
local m = redis.call('HMGET', KEYS[2], 'epoch', 'version')
if m[1] ~= ARGV[3] then return {-4, m[1] or ''} end
if m[2] and tonumber(m[2]) < tonumber(ARGV[4]) then redis.call('HSET', KEYS[2], 'version', ARGV[4]) end
local e = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'owner', ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'offset', 'watermark', 'target', 'done')
return {e, s[1] or '-1', s[2] or '', s[3] or '', s[4] or ''}
`

/**
 * KEYS: meta, pointer, generations counter, then the state hash of every partition the view reads.
 * ARGV: new epoch, now (ms), generation, restore pointer ('1'/'0'), cause, truncation code ('' for
 * none), truncation message, tracked partitions (`topic:partition` list), channel, then per
 * partition its high and low watermark.
 *
 * Creates the generation's state when it has none, atomically: the epoch marker, `rebuilding`
 * (`live` when no partition holds a record) with each partition's replay target, the pointer when
 * it vanished and this consumer is the one readers followed, and a status notice. Returns
 * [0, epoch] when a state exists (adopted), [1, epoch] for state written by a version without
 * epochs (adopted as live), [2, epoch, status] created, [-1, key] when partition states survive
 * without the marker (a partial loss, e.g. evicted keys: replaying into them would count twice).
 */
export const INIT = `#!lua
local cur = redis.call('HMGET', KEYS[1], 'epoch', 'version')
if cur[1] then return {0, cur[1]} end
if cur[2] then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'status', 'live')
  return {1, ARGV[1]}
end
for k = 4, #KEYS do
  if redis.call('HEXISTS', KEYS[k], 'offset') == 1 then return {-1, KEYS[k]} end
end
local pending = 0
for k = 4, #KEYS do
  local high = ARGV[10 + 2 * (k - 4)]
  local low = ARGV[11 + 2 * (k - 4)]
  redis.call('DEL', KEYS[k])
  if tonumber(high) > tonumber(low) then
    pending = pending + 1
    redis.call('HSET', KEYS[k], 'target', high, 'low', low)
  else
    redis.call('HSET', KEYS[k], 'target', high, 'low', low, 'done', '1')
  end
end
local status = 'live'
if pending > 0 then status = 'rebuilding' end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'status', status, 'pending', pending, 'startedAt', ARGV[2],
  'cause', ARGV[5], 'partitions', ARGV[8])
if pending == 0 then redis.call('HSET', KEYS[1], 'liveAt', ARGV[2]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'truncated', ARGV[6], 'truncatedWhy', ARGV[7]) end
if ARGV[4] == '1' and not redis.call('GET', KEYS[2]) then redis.call('SET', KEYS[2], ARGV[3]) end
if tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[3]) then redis.call('SET', KEYS[3], ARGV[3]) end
local shown = status
if ARGV[6] ~= '' then shown = 'incomplete' end
redis.call('PUBLISH', ARGV[9], '0 ' .. ARGV[3] .. ' - -1 ' .. shown .. ' 0')
return {2, ARGV[1], status}
`

/**
 * KEYS: meta, then the state hash of every partition the rebuild tracks. ARGV: epoch, channel,
 * generation, now (ms). Marks the partitions whose applied offset reached their target; when none
 * is left, switches the state to `live` and publishes a status notice. Returns [-4, epoch] when
 * the state changed, [0, status] when not rebuilding, [1, pending] still rebuilding, [2] live.
 */
export const COMPLETE = `#!lua
local m = redis.call('HMGET', KEYS[1], 'epoch', 'status', 'version')
if m[1] ~= ARGV[1] then return {-4, m[1] or ''} end
if m[2] ~= 'rebuilding' then return {0, m[2] or ''} end
local pending = 0
for k = 2, #KEYS do
  local s = redis.call('HMGET', KEYS[k], 'offset', 'target', 'done')
  if s[2] and not s[3] then
    if tonumber(s[1] or '-1') + 1 >= tonumber(s[2]) then
      redis.call('HSET', KEYS[k], 'done', '1')
    else
      pending = pending + 1
    end
  end
end
redis.call('HSET', KEYS[1], 'pending', pending)
if pending > 0 then return {1, pending} end
redis.call('HSET', KEYS[1], 'status', 'live', 'liveAt', ARGV[4])
redis.call('PUBLISH', ARGV[2], (m[3] or '0') .. ' ' .. ARGV[3] .. ' - -1 live 0')
return {2, 0}
`

/**
 * KEYS: meta. ARGV: epoch, code, message, channel, generation. Marks the state incomplete (the
 * topic lost events it needs) once, with a status notice. Returns 1 marked, 0 already, -4 other
 * state.
 */
export const TRUNCATE = `#!lua
local m = redis.call('HMGET', KEYS[1], 'epoch', 'truncated', 'version')
if m[1] ~= ARGV[1] then return -4 end
if m[2] then return 0 end
redis.call('HSET', KEYS[1], 'truncated', ARGV[2], 'truncatedWhy', ARGV[3])
redis.call('PUBLISH', ARGV[4], (m[3] or '0') .. ' ' .. ARGV[5] .. ' - -1 incomplete 0')
return 1
`

/**
 * KEYS: state, meta, entities, aggregate keys... ARGV: token, firstOffset, lastOffset, watermark,
 * applied, late, dead, channel, notice tail, the offset the member knows Redis holds (its last
 * applied one), entity count e, duplicate versions, stale versions, then e x (entity key, expected
 * version or '' for none, new value), then ops `kind keyIndex expireAt n (field delta)*n |
 * member*n`; kinds `h` (HINCRBY), `z` (ZINCRBY), `p` (PFADD), and for changelog figures `s`
 * (HSET `(field value)*n`, absolute values) and `x` (HDEL `field*n`, tombstones).
 * Returns [1, version, serverMicros] applied, [-1, token, claims, storedOffset] fenced, [-2, storedOffset]
 * already applied, [-3, entity key, stored version] conflict, [-5, storedOffset] behind: Redis
 * holds an offset below the one this member applied (a failover to a replica that had not
 * received the last scripts): applying would skip the records in between (`rewind.ts`). Nothing
 * is written unless applied. `serverMicros` is the
 * script's own run time by the server clock (TIME at both ends; Redis 7 replicates a script's
 * effects, so reading the clock in it is allowed). Lua's `unpack` is bounded by the C stack
 * (~8000 values), hence the entity HMGET/HSET in slices of 1000.
 */
export const APPLY = `#!lua
local t0 = redis.call('TIME')
local cur = redis.call('HMGET', KEYS[1], 'token', 'offset', 'epoch')
if cur[1] ~= ARGV[1] then return {-1, cur[1] or '', cur[3] or '0', cur[2] or '-1'} end
local stored = tonumber(cur[2] or '-1')
if tonumber(ARGV[2]) <= stored then return {-2, cur[2]} end
if stored < tonumber(ARGV[10]) then return {-5, cur[2] or '-1'} end
local e = tonumber(ARGV[11])
local i = 14
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
  elseif kind == 's' then
    redis.call('HSET', key, unpack(ARGV, i, i + 2 * count - 1))
    i = i + 2 * count
  elseif kind == 'x' then
    redis.call('HDEL', key, unpack(ARGV, i, i + count - 1))
    i = i + count
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
if ARGV[12] ~= '0' then redis.call('HINCRBY', KEYS[1], 'dupes', ARGV[12]) end
if ARGV[13] ~= '0' then redis.call('HINCRBY', KEYS[1], 'stale', ARGV[13]) end
local v = redis.call('HINCRBY', KEYS[2], 'version', 1)
redis.call('PUBLISH', ARGV[8], v .. ' ' .. ARGV[9])
local t1 = redis.call('TIME')
return {1, v, (t1[1] - t0[1]) * 1000000 + (t1[2] - t0[2])}
`

/**
 * KEYS: meta. ARGV: the signature of an entity view's aggregates (`aggregateSignature`, joined by
 * spaces). Stores it when there is none or when it extends the stored one (aggregates appended);
 * returns '' when compatible (equal, extended, or a prefix of the stored one: a member still on
 * the previous definition), `delta` when the generation was built in delta mode (chunks applied,
 * no signature: no entity has a stored contribution to retract), else the stored signature.
 */
export const ENTITY_SIGNATURE = `#!lua
local cur = redis.call('HGET', KEYS[1], 'entityAggregates')
local sig = ARGV[1]
if not cur and redis.call('HEXISTS', KEYS[1], 'version') == 1 then return 'delta' end
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
 * KEYS: state. ARGV: token, firstOffset (the member's stored offset + 1), lastOffset, dead. Moves
 * the stored offset over records that change no figure: transaction markers and aborted records
 * the source filtered out, or (dead > 0) an undecodable batch sent whole to the dead-letter topic.
 * Same checks as `apply` (owner token, offset, Redis not behind the member); no version bump or
 * change notice. Returns [1, offset] moved, [-1, token, claims, storedOffset] fenced, [-2,
 * storedOffset] already there, [-5, storedOffset] behind.
 */
export const ADVANCE = `#!lua
local cur = redis.call('HMGET', KEYS[1], 'token', 'offset', 'epoch')
if cur[1] ~= ARGV[1] then return {-1, cur[1] or '', cur[3] or '0', cur[2] or '-1'} end
local stored = tonumber(cur[2] or '-1')
if tonumber(ARGV[2]) <= stored then return {-2, cur[2]} end
if stored + 1 < tonumber(ARGV[2]) then return {-5, cur[2] or '-1'} end
redis.call('HSET', KEYS[1], 'offset', ARGV[3])
if ARGV[4] ~= '0' then redis.call('HINCRBY', KEYS[1], 'dead', ARGV[4]) end
return {1, ARGV[3]}
`
