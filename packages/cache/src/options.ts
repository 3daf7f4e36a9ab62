/**
 * Options are validated once, in `createCache`, from {@link DEFAULT_CACHE_OPTIONS} into a frozen
 * {@link ResolvedCacheOptions}. Per-call options ({@link SetOptions}) follow one rule:
 * call > instance (`createCache` options) > package default, applied by call-options.ts.
 */
import { type OptionRename, renamedOption } from '@ayala/internal'
import type { Cluster, Redis, RedisOptions } from 'ioredis'
import { type Duration, toMilliseconds } from './duration.js'
import { InvalidOptionError } from './errors.js'
import { bool, oneOf, positiveInteger, stripUndefined } from './option-values.js'
import type { Codec } from './serialization/msgpack-codec.js'

export type {
  GetOrSetOptions,
  InvalidateOptions,
  InvalidationOptions,
  ReadyOptions,
  SetManyOptions,
  SetOptions,
} from './call-option-types.js'

import { RESERVED_REDIS_OPTIONS } from './tiers/redis-connection.js'

/**
 * What `redis` accepts: a `redis://` or `rediss://` (TLS) URL, with an ACL user and password if
 * needed (`rediss://app:secret@host:6380/0`), an ioredis `Redis` or an ioredis `Cluster`.
 */
export type RedisInput = string | Redis | Cluster

/** Options of {@link createCache}. Every duration is milliseconds as a number, or a string with a unit. */
export interface CacheOptions {
  /**
   * The L2 tier. A URL (`redis://host:port/db`) makes the cache own its connections (closed by
   * `close()`); an ioredis `Redis` or `Cluster` is borrowed (not closed). Absent: L1 only.
   * @default undefined (L1 only)
   */
  redis?: RedisInput | undefined
  /**
   * ioredis options of the connection the cache opens from a `redis` URL: what a URL cannot
   * carry, e.g. `{ tls: { ca: readFileSync('ca.pem') } }` for a private CA, or `{ username,
   * password }` kept out of the URL (they win over the URL's). The cache's own connection
   * settings (`enableOfflineQueue`, `autoResendUnfulfilledCommands`, `maxRetriesPerRequest`,
   * `retryStrategy`, `lazyConnect`) are refused by name. Only with a URL: a borrowed client
   * keeps its own options. Wrong credentials: `E_CACHE_L2_AUTH` events naming the server and
   * the user, never the password (docs/cache-tiers.md).
   * @default undefined
   */
  redisOptions?: RedisOptions | undefined
  /**
   * Names this cache's keys, tags and bus. Instances with the same namespace on the same Redis
   * share entries and invalidations. No `{`, `}` or `:`.
   * @default 'cache'
   */
  namespace?: string | undefined
  /** Prefix put before every Redis key (e.g. `'app1:'`), never added twice. @default '' */
  prefix?: string | undefined
  /** How long an entry is fresh (the L2 TTL). @default '5m' */
  ttl?: Duration | undefined
  /** How long an entry stays in L1; never longer than the entry's own freshness. @default '1m' */
  l1Ttl?: Duration | undefined
  /**
   * How long an L1 entry that has tags is trusted before it is re-checked against Redis: the
   * bound on staleness if a bus message is lost. Only with `redis`. @default '10s'
   */
  tagTrust?: Duration | undefined
  /** Fraction (0-1) of the TTL removed at random from each write, to spread expiries. @default 0 */
  jitter?: number | undefined
  /** TTL of a cached `undefined` or `null` loader result; `false` does not cache them. @default '10s' */
  negativeTtl?: Duration | false | undefined
  /**
   * How long past its freshness an entry is kept as a fallback, served when the loader fails or
   * is slower than `softTimeout`, or while Redis is down. `false`: no grace. @default false
   */
  grace?: Duration | false | undefined
  /**
   * With a stale value at hand, a loader slower than this serves the stale value and finishes in
   * the background. `false`: wait for the loader. @default false
   */
  softTimeout?: Duration | false | undefined
  /** A loader slower than this fails the call with `E_CACHE_LOADER_TIMEOUT` (or serves stale). @default false */
  hardTimeout?: Duration | false | undefined
  /** Maximum number of L1 entries. @default 10_000 */
  l1MaxEntries?: number | undefined
  /** Maximum L1 size in bytes (estimated; see README). `0`: bounded by entries only. @default 64 MiB */
  l1MaxBytes?: number | undefined
  /**
   * Deadline of every Redis operation but an invalidation's ({@link CacheOptions.invalidationTimeout});
   * past it the cache acts as on a miss. @default '50ms'
   */
  redisTimeout?: Duration | undefined
  /**
   * How long operations wait for the first Redis connection (and its failover check) of a new
   * instance, never less than `redisTimeout`; once it was ready, `redisTimeout` applies, and a
   * connection that is down fails at once. Also the deadline of `cache.ready()`. @default '2s'
   */
  connectTimeout?: Duration | undefined
  /**
   * Deadline of an invalidation's Redis operations (`delete`, `expire`, `invalidateTags`,
   * `expireTags`, `clear`: the bump or delete, and the bus notice), never less than
   * `redisTimeout`. Longer than a read's: a read past its deadline falls back to the loader and
   * costs one caller a miss, while an invalidation past its deadline is deferred for a replay
   * and every other instance keeps serving the value it replaced until then. A Redis that is
   * down still fails at once (its connection is not ready). @default '250ms'
   */
  invalidationTimeout?: Duration | undefined
  /** Consecutive Redis failures that open the circuit breaker. @default 5 */
  breakerThreshold?: number | undefined
  /** How long the breaker stays open before one probe is let through. @default '2s' */
  breakerCooldown?: Duration | undefined
  /** Run the bus (Redis pub/sub) that keeps other instances' L1s coherent. Only with `redis`. @default true */
  bus?: boolean | undefined
  /**
   * While the bus is disconnected, L1 entries written live at most this long (entries present
   * at the disconnect are demoted to stale at once). @default '1s'
   */
  busDownL1Ttl?: Duration | undefined
  /**
   * Cross-process stampede protection: a miss takes a lease in Redis (`SET NX PX`); other
   * processes wait up to `leaseWaitTimeout` for the value instead of running the loader.
   * @default false
   */
  lease?: boolean | undefined
  /** How long a lease is held at most (should exceed the loader's time). @default '5s' */
  leaseTtl?: Duration | undefined
  /**
   * How long a process waits for another's lease before running the loader itself (the deadline
   * of the wait; the call then loads). @default '3s'
   */
  leaseWaitTimeout?: Duration | undefined
  /** @deprecated Renamed {@link CacheOptions.leaseWaitTimeout} (same meaning); removed in the next minor version. */
  leaseWait?: Duration | undefined
  /**
   * Lease waiters are woken by a release notice on the bus; while the bus is down (or with
   * `bus: false`) they poll Redis instead, first after this long, then doubling up to 8x.
   * @default '25ms'
   */
  leasePollInterval?: Duration | undefined
  /** @deprecated Renamed {@link CacheOptions.leasePollInterval} (same meaning); removed in the next minor version. */
  leasePoll?: Duration | undefined
  /**
   * Protect values shared by L1 callers: `'none'` shares them as is (never mutate them),
   * `'freeze'` deep-freezes them once when stored, `'clone'` gives each caller a structuredClone.
   * @default 'none'
   */
  l1Values?: 'none' | 'freeze' | 'clone' | undefined
  /** Encodes values for Redis. @default msgpackCodec() */
  codec?: Codec | undefined
  /**
   * What an invalidation (`delete`, `expire`, `invalidateTags`, `expireTags`, `clear`) does when
   * it cannot reach Redis. Either way it is applied to this instance at once and kept for a
   * replay as soon as Redis answers (auto-recovery, docs/cache-recovery.md); `'resolve'` then
   * resolves (the instance reports itself degraded until the replay), `'reject'` rejects with
   * `L2UnavailableError` (retriable; retrying is harmless). Per call: the call's
   * {@link InvalidationOptions.onL2Unavailable} > this > the default.
   * @default 'resolve'
   */
  onL2Unavailable?: 'resolve' | 'reject' | undefined
  /**
   * Most invalidations (distinct keys and tags) kept for a replay. Past it they collapse into one
   * namespace generation bump (a `clear()` when replayed: correct, every entry reloads once),
   * counted in `pendingOverflows`. @default 10_000
   */
  recoveryMaxItems?: number | undefined
  /**
   * While invalidations wait for a replay, or after the link to Redis was lost, how often the
   * instance tries Redis again (a fixed period, besides at once when the connection comes back).
   * @default '100ms'
   */
  recoveryRetryInterval?: Duration | undefined
  /** @deprecated Renamed {@link CacheOptions.recoveryRetryInterval} (same meaning); removed in the next minor version. */
  recoveryRetryDelay?: Duration | undefined
  /**
   * After its link to Redis returns, how long the instance still bypasses L2 reads, so that
   * peers that lost Redis too replay THEIR pending invalidations first (their owned connections
   * retry every 100 ms while they hold some; keep it above the reconnect delay of borrowed
   * clients, up to 2 s with ioredis' default `retryStrategy`). `false`: read L2 as soon as the
   * link is back.
   * @default '2s'
   */
  recoveryHold?: Duration | false | undefined
  /**
   * At each (re)connection, compare Redis's replication id with the one the namespace was last
   * written under (operations wait for it). A different one (a replica promoted by Sentinel, which
   * may lack invalidations the old primary had acknowledged) is treated as a loss of Redis: the
   * namespace generation is bumped once (every entry reloads once), L1 and the local tag table
   * start over (docs/cache-recovery.md). `true`: for any connection; `'sentinel'`: when the client
   * connects through Sentinel (ioredis `sentinels`); `false`: never. Off for a Cluster client.
   * @default 'sentinel'
   */
  failoverCheck?: boolean | 'sentinel' | undefined
  /**
   * How often the bus subscriber is PINGed; one PING unanswered for this long marks the bus down
   * (L1 demoted, subscriber reconnected), so a hung link is noticed, not only a closed one.
   * `false`: no heartbeat. @default '1s'
   */
  busHeartbeatInterval?: Duration | false | undefined
  /** @deprecated Renamed {@link CacheOptions.busHeartbeatInterval} (same meaning); removed in the next minor version. */
  busHeartbeat?: Duration | false | undefined
  /** How long an invalidation with `awaitPeers: true` waits for its peers' confirmations. @default '100ms' */
  peerAckTimeout?: Duration | undefined
}

/** Default values of {@link CacheOptions}. */
export const DEFAULT_CACHE_OPTIONS = Object.freeze({
  namespace: 'cache',
  prefix: '',
  ttl: '5m',
  l1Ttl: '1m',
  tagTrust: '10s',
  jitter: 0,
  negativeTtl: '10s',
  grace: false,
  softTimeout: false,
  hardTimeout: false,
  l1MaxEntries: 10_000,
  l1MaxBytes: 64 * 1024 * 1024,
  redisTimeout: '50ms',
  connectTimeout: '2s',
  invalidationTimeout: '250ms',
  breakerThreshold: 5,
  breakerCooldown: '2s',
  bus: true,
  busDownL1Ttl: '1s',
  lease: false,
  leaseTtl: '5s',
  leaseWaitTimeout: '3s',
  leasePollInterval: '25ms',
  l1Values: 'none',
  onL2Unavailable: 'resolve',
  recoveryMaxItems: 10_000,
  recoveryRetryInterval: '100ms',
  recoveryHold: '2s',
  failoverCheck: 'sentinel',
  busHeartbeatInterval: '1s',
  peerAckTimeout: '100ms',
  /** @deprecated The default of `leaseWaitTimeout`, under its old name. */
  leaseWait: '3s',
  /** @deprecated The default of `leasePollInterval`, under its old name. */
  leasePoll: '25ms',
  /** @deprecated The default of `recoveryRetryInterval`, under its old name. */
  recoveryRetryDelay: '100ms',
  /** @deprecated The default of `busHeartbeatInterval`, under its old name. */
  busHeartbeat: '1s',
} as const satisfies Defined)

type Defined = {
  [K in Exclude<keyof CacheOptions, 'redis' | 'redisOptions' | 'codec'>]-?: Exclude<
    CacheOptions[K],
    undefined
  >
}

/**
 * Options renamed to the one vocabulary (docs/architecture.md): the old name is a deprecated
 * alias for one minor version (its value, one `DeprecationWarning` per process with the code
 * below; both names given: `E_CACHE_INVALID_OPTION`). See `renamedOption` (@ayala/internal).
 */
const RENAMED = [
  { from: 'leaseWait', to: 'leaseWaitTimeout', code: 'AYALA_CACHE_LEASEWAIT' },
  { from: 'leasePoll', to: 'leasePollInterval', code: 'AYALA_CACHE_LEASEPOLL' },
  { from: 'recoveryRetryDelay', to: 'recoveryRetryInterval', code: 'AYALA_CACHE_RECOVERYRETRYDELAY' },
  { from: 'busHeartbeat', to: 'busHeartbeatInterval', code: 'AYALA_CACHE_BUSHEARTBEAT' },
] as const satisfies readonly OptionRename[]

/** {@link CacheOptions} after validation: durations in milliseconds, `false` as `0`. */
export interface ResolvedCacheOptions {
  readonly namespace: string
  readonly prefix: string
  readonly ttl: number
  readonly l1Ttl: number
  readonly tagTrust: number
  readonly jitter: number
  /** `-1` when negative results are not cached. */
  readonly negativeTtl: number
  readonly grace: number
  readonly softTimeout: number
  readonly hardTimeout: number
  readonly l1MaxEntries: number
  readonly l1MaxBytes: number
  readonly redisTimeout: number
  readonly connectTimeout: number
  /** Never less than {@link ResolvedCacheOptions.redisTimeout}. */
  readonly invalidationTimeout: number
  readonly breakerThreshold: number
  readonly breakerCooldown: number
  readonly bus: boolean
  readonly busDownL1Ttl: number
  readonly lease: boolean
  readonly leaseTtl: number
  readonly leaseWaitTimeout: number
  readonly leasePollInterval: number
  /** @deprecated The same as {@link ResolvedCacheOptions.leaseWaitTimeout}. */
  readonly leaseWait: number
  /** @deprecated The same as {@link ResolvedCacheOptions.leasePollInterval}. */
  readonly leasePoll: number
  readonly l1Values: 'none' | 'freeze' | 'clone'
  readonly onL2Unavailable: 'resolve' | 'reject'
  readonly recoveryMaxItems: number
  readonly recoveryRetryInterval: number
  /** @deprecated The same as {@link ResolvedCacheOptions.recoveryRetryInterval}. */
  readonly recoveryRetryDelay: number
  /** `0` when off. */
  readonly recoveryHold: number
  readonly failoverCheck: boolean | 'sentinel'
  /** `0` when off. */
  readonly busHeartbeatInterval: number
  /** @deprecated The same as {@link ResolvedCacheOptions.busHeartbeatInterval}. */
  readonly busHeartbeat: number
  readonly peerAckTimeout: number
}

const KNOWN = new Set<string>([...Object.keys(DEFAULT_CACHE_OPTIONS), 'redis', 'redisOptions', 'codec'])

/**
 * Refuse the keys of `options` that are not in `known`, naming every one of them
 * (`E_CACHE_INVALID_OPTION`). What every factory of the package does with its options object.
 */
export function rejectUnknownOptions(options: object, known: ReadonlySet<string>): void {
  const unknown = Object.keys(options).filter((name) => !known.has(name))
  if (unknown.length > 0)
    throw new InvalidOptionError(
      unknown.join(', '),
      unknown.length === 1 ? 'unknown option' : 'unknown options',
    )
}

/** `redisOptions`: an object, only with a URL, without the keys the cache owns. */
function checkRedisOptions(options: CacheOptions): void {
  const value = options.redisOptions
  if (value === undefined) return
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InvalidOptionError('redisOptions', 'expected an object of ioredis options')
  if (typeof options.redis !== 'string')
    throw new InvalidOptionError(
      'redisOptions',
      'only with a redis:// URL (a borrowed client keeps its own options)',
    )
  for (const key of RESERVED_REDIS_OPTIONS) {
    if (key in value)
      throw new InvalidOptionError(
        `redisOptions.${key}`,
        'set by the cache (its connection never queues nor resends commands)',
      )
  }
}

/** A duration option, or `false` (returned as `0`). */
export function durationOrOff(value: Duration | false, name: string): number {
  return value === false ? 0 : toMilliseconds(value, name)
}

/** Validate `options` (unknown options are rejected by name) and freeze the result. */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', 'expected an object')
  }
  rejectUnknownOptions(options, KNOWN)
  checkRedisOptions(options)
  const given = stripUndefined(options)
  // A renamed option is read under either name, and validated under the name given.
  const named = {} as Record<(typeof RENAMED)[number]['to'], string>
  for (const rename of RENAMED) {
    const value = renamedOption(given, rename, (message) => new InvalidOptionError(rename.from, message))
    named[rename.to] = given[rename.from] !== undefined ? rename.from : rename.to
    delete given[rename.from]
    if (value !== undefined) given[rename.to] = value
  }
  const o = { ...DEFAULT_CACHE_OPTIONS, ...given } as Defined
  const leaseWaitTimeout = toMilliseconds(o.leaseWaitTimeout, named.leaseWaitTimeout)
  const leasePollInterval = Math.max(1, toMilliseconds(o.leasePollInterval, named.leasePollInterval))
  const recoveryRetryInterval = Math.max(
    1,
    toMilliseconds(o.recoveryRetryInterval, named.recoveryRetryInterval),
  )
  const busHeartbeatInterval = durationOrOff(o.busHeartbeatInterval, named.busHeartbeatInterval)
  if (typeof o.namespace !== 'string' || o.namespace === '' || /[{}:]/.test(o.namespace)) {
    throw new InvalidOptionError('namespace', 'expected a non-empty string without "{", "}" or ":"')
  }
  if (typeof o.prefix !== 'string' || /[{}]/.test(o.prefix)) {
    throw new InvalidOptionError(
      'prefix',
      'expected a string without "{" or "}" (the namespace is the hash tag)',
    )
  }
  if (typeof o.jitter !== 'number' || !(o.jitter >= 0 && o.jitter <= 1)) {
    throw new InvalidOptionError('jitter', `expected a number between 0 and 1, got ${String(o.jitter)}`)
  }
  const ttl = toMilliseconds(o.ttl, 'ttl')
  if (ttl === 0) throw new InvalidOptionError('ttl', 'must be greater than 0')
  const redisTimeout = toMilliseconds(o.redisTimeout, 'redisTimeout')
  if (redisTimeout === 0) throw new InvalidOptionError('redisTimeout', 'must be greater than 0')
  return Object.freeze({
    namespace: o.namespace,
    prefix: o.prefix,
    ttl,
    l1Ttl: toMilliseconds(o.l1Ttl, 'l1Ttl'),
    tagTrust: toMilliseconds(o.tagTrust, 'tagTrust'),
    jitter: o.jitter,
    negativeTtl: o.negativeTtl === false ? -1 : toMilliseconds(o.negativeTtl, 'negativeTtl'),
    grace: durationOrOff(o.grace, 'grace'),
    softTimeout: durationOrOff(o.softTimeout, 'softTimeout'),
    hardTimeout: durationOrOff(o.hardTimeout, 'hardTimeout'),
    l1MaxEntries: positiveInteger(o.l1MaxEntries, 'l1MaxEntries', false),
    l1MaxBytes: positiveInteger(o.l1MaxBytes, 'l1MaxBytes', true),
    redisTimeout,
    connectTimeout: toMilliseconds(o.connectTimeout, 'connectTimeout'),
    invalidationTimeout: Math.max(redisTimeout, toMilliseconds(o.invalidationTimeout, 'invalidationTimeout')),
    breakerThreshold: positiveInteger(o.breakerThreshold, 'breakerThreshold', false),
    breakerCooldown: toMilliseconds(o.breakerCooldown, 'breakerCooldown'),
    bus: bool(o.bus, 'bus'),
    busDownL1Ttl: toMilliseconds(o.busDownL1Ttl, 'busDownL1Ttl'),
    lease: bool(o.lease, 'lease'),
    leaseTtl: toMilliseconds(o.leaseTtl, 'leaseTtl'),
    leaseWaitTimeout,
    leasePollInterval,
    leaseWait: leaseWaitTimeout,
    leasePoll: leasePollInterval,
    l1Values: oneOf(o.l1Values, 'l1Values', ['none', 'freeze', 'clone'] as const),
    onL2Unavailable: oneOf(o.onL2Unavailable, 'onL2Unavailable', ['resolve', 'reject'] as const),
    recoveryMaxItems: positiveInteger(o.recoveryMaxItems, 'recoveryMaxItems', false),
    recoveryRetryInterval,
    recoveryRetryDelay: recoveryRetryInterval,
    recoveryHold: durationOrOff(o.recoveryHold, 'recoveryHold'),
    failoverCheck:
      typeof o.failoverCheck === 'boolean'
        ? o.failoverCheck
        : oneOf(o.failoverCheck, 'failoverCheck', ['sentinel'] as const),
    busHeartbeatInterval,
    busHeartbeat: busHeartbeatInterval,
    peerAckTimeout: toMilliseconds(o.peerAckTimeout, 'peerAckTimeout'),
  })
}
