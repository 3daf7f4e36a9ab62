/**
 * The L2 tier: every Redis operation of the cache, each bounded by `redisTimeout` and guarded by a
 * circuit breaker, so a hung or dead Redis costs a caller at most the timeout (and nothing once
 * the breaker is open). Failures are reported, never thrown at readers: the cache treats an
 * unavailable L2 as a miss and falls back to L1 and the loader.
 *
 * Single-key reads (`readOne`) are one MGET of the entry, the generation and the tags the caller
 * expects. Multi-key reads (`read`, for `getMany`) are one MGET of the entries, the generation
 * and the tags the caller is about to snapshot, plus one MGET of the versions of header tags
 * nobody named (only then): no script, so a read costs Redis one or two commands whatever the
 * number of keys. All keys of a namespace share the `{ns}` hash tag, which keeps these
 * multi-key commands and the scripts valid on Redis Cluster. The scripts are in
 * redis-scripts.ts, the reply parsing in redis-replies.ts. The cache's mechanisms
 * send no command on the client themselves: `expire`'s compare-and-set is
 * {@link RedisTier.demoteEntry} (shared with auto-recovery's replay), and auto-recovery's other
 * replay commands go through {@link RedisTier.runRecovery}.
 *
 * Auto-recovery (recovery/auto-recovery.ts) sets two gates on the tier: `gate` refuses every
 * operation at once while the instance holds unreplayed invalidations or has lost its link, and
 * `readGate` refuses entry reads (also during `recoveryHold`). The recovery's own probes and
 * replays go through {@link RedisTier.runRecovery}, past both gates and an open breaker.
 *
 * A verifier (recovery/failover-check.ts) may be set: it runs at every `ready` of the connection
 * (and at once on a connection already ready), and every operation waits for it, within its own
 * deadline, before it is sent on that connection. Waiting for a connection still being set up, and
 * for the verifier, is tiers/readiness.ts: `connectTimeout` until the connection was ever ready,
 * `redisTimeout` afterwards.
 *
 * Credentials and TLS (redis-connection.ts): the owned connection takes `redisOptions` under the
 * cache's own settings; every error is scrubbed of secrets before it is wrapped. Refused
 * credentials are `E_CACHE_L2_AUTH` (naming the server and the user), and while they are refused
 * the owned connection retries every {@link AUTH_RETRY_DELAY_MS} (each attempt one event), and a
 * call fails at once with that error rather than "not connected".
 */
import { Cluster, Command, Redis, type RedisOptions } from 'ioredis'
import { L2UnavailableError } from '../errors.js'
import type { KeySpace } from '../keys.js'
import type { RedisInput } from '../options.js'
import { type BreakerState, CircuitBreaker } from './circuit-breaker.js'
import { Readiness } from './readiness.js'
import { authFailure, l2Error } from './redis-connection.js'
import {
  completeRead,
  isCommandTimeout,
  parseManyRead,
  parseRead,
  parseVersion,
  type ReadResult,
} from './redis-replies.js'
import { defineScripts, type ScriptClient } from './redis-scripts.js'
import { timeoutError, Watchdog } from './watchdog.js'

/** Reconnection delay of the owned connection while Redis refuses its credentials (ms). */
export const AUTH_RETRY_DELAY_MS = 5_000

/** The single-key read's reply: the entry, the generation and the versions of the tags named. */
type OneRead = { bytes: Buffer | null; generation: number; requested: number[] }

/** Options of an ioredis `Command`. */
type CommandOptions = NonNullable<ConstructorParameters<typeof Command>[2]>

/** ioredis' options the tier's own commands follow, as its generated methods do. */
interface CommandSettings {
  enableAutoPipelining?: boolean | undefined
  keyPrefix?: string | undefined
  showFriendlyErrorStack?: boolean | undefined
}

/** Callbacks of the tier into the cache (events and stats). */
export interface RedisTierHooks {
  onError(operation: string, error: L2UnavailableError): void
  onBreaker(state: BreakerState): void
}

/** See the module note. */
export class RedisTier {
  readonly client: ScriptClient
  readonly breaker: CircuitBreaker
  /** True when the cache created the connection (from a URL) and must close it. */
  private readonly owned: boolean
  /** Waiting for the connection and its verifier (tiers/readiness.ts). */
  readonly readiness: Readiness
  /** Bounds every operation by `redisTimeout` (tiers/watchdog.ts)... */
  private readonly watchdog: Watchdog
  /** ...but an invalidation's, by `invalidationTimeout` (one watchdog per timeout: send order stays deadline order). */
  private readonly invalidationWatchdog: Watchdog
  private readonly circuitOpen: L2UnavailableError
  /** True when ioredis' `commandTimeout` bounds every command within `redisTimeout`. */
  private readonly commandBounded: boolean
  /**
   * The reads' MGETs are sent as ioredis `Command`s of the tier's own ({@link mgetBounded}), which
   * the watchdog rejects itself at their deadline: not with auto-pipelining, which only the
   * client's generated methods apply (those reads then take {@link runSingle}).
   */
  private readonly direct: boolean
  /** Options of the tier's own commands (replies as Buffers, the client's key prefix). */
  private readonly bufferReply: CommandOptions
  private readonly friendlyStacks: boolean
  /**
   * Set by auto-recovery (recovery/auto-recovery.ts) while the instance holds unreplayed
   * invalidations or has lost its link: every operation but the recovery's own
   * ({@link runRecovery}) is refused with this error at once, without touching the breaker.
   */
  gate: L2UnavailableError | undefined = undefined
  /** Like {@link gate}, for entry reads only (`read`, `readOne`); also set during `recoveryHold`. */
  readGate: L2UnavailableError | undefined = undefined
  /** While true, the owned connection's reconnection attempts are at most 100 ms apart. */
  reconnectSoon = false

  /** The last connection error was refused credentials (cleared when the connection is ready). */
  private authRefused: L2UnavailableError | undefined = undefined

  constructor(
    input: RedisInput,
    readonly keys: KeySpace,
    private readonly timeoutMs: number,
    breakerThreshold: number,
    breakerCooldownMs: number,
    private readonly hooks: RedisTierHooks,
    redisOptions?: RedisOptions | undefined,
    connectTimeoutMs = timeoutMs,
    invalidationTimeoutMs = timeoutMs,
  ) {
    if (typeof input === 'string') {
      this.owned = true
      this.client = new Redis(input, {
        // TLS, the ACL user, timeouts...; the settings below are the cache's own (and refused
        // in redisOptions by name, see options.ts).
        ...redisOptions,
        // No ioredis commandTimeout: it arms a timer per command (~10 us of a ~70 us read on a
        // loaded host); every operation is bounded by the tier's shared watchdog instead.
        // Never queue commands while disconnected: a late SET or INCR replayed after a reconnect
        // could write an old value. A command is sent now or reported as unavailable.
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        retryStrategy: (times) =>
          this.authRefused !== undefined
            ? AUTH_RETRY_DELAY_MS
            : Math.min(times * 50, this.reconnectSoon ? 100 : 1_000),
      }) as ScriptClient
    } else if (input instanceof Redis || input instanceof Cluster) {
      this.owned = false
      this.client = input as ScriptClient
    } else {
      throw new TypeError('redis must be a URL, an ioredis Redis or an ioredis Cluster')
    }
    const commandTimeout = this.client instanceof Redis ? this.client.options.commandTimeout : undefined
    const settings = (this.client as { options?: CommandSettings }).options ?? {}
    this.direct = settings.enableAutoPipelining !== true
    this.bufferReply = Object.freeze(
      settings.keyPrefix ? { replyEncoding: null, keyPrefix: settings.keyPrefix } : { replyEncoding: null },
    )
    this.friendlyStacks = settings.showFriendlyErrorStack === true
    this.commandBounded =
      typeof commandTimeout === 'number' && commandTimeout > 0 && commandTimeout <= Math.max(timeoutMs, 1)
    this.watchdog = new Watchdog(timeoutMs)
    this.invalidationWatchdog = new Watchdog(Math.max(timeoutMs, invalidationTimeoutMs))
    defineScripts(this.client)
    this.readiness = new Readiness(this.client, timeoutMs, connectTimeoutMs, () => this.authRefused)
    this.client.on('ready', this.handleReady)
    // ioredis re-emits connection errors as 'error' events; without a listener Node would crash.
    this.client.on('error', this.handleClientError)
    this.breaker = new CircuitBreaker(breakerThreshold, breakerCooldownMs, hooks.onBreaker)
    this.circuitOpen = new L2UnavailableError('E_CACHE_CIRCUIT_OPEN', 'Redis circuit breaker is open')
  }

  private readonly handleReady = (): void => {
    this.authRefused = undefined
    this.readiness.onReady()
  }

  private readonly handleClientError = (error: unknown): void => {
    const reported = l2Error(this.client, 'Redis connection error', error)
    if (reported.code === 'E_CACHE_L2_AUTH' && authFailure(error) === 'credentials')
      this.authRefused = reported
    this.hooks.onError('connection', reported)
  }

  /**
   * Install `verify` (it must not reject): run at every `ready`, and now when the connection is
   * ready already; operations wait for it (see the module note).
   */
  setVerifier(verify: () => Promise<void>): void {
    this.readiness.setVerifier(verify)
  }

  /**
   * Run one operation with the deadline and the breaker. Resolves with the result, or rejects
   * with an {@link L2UnavailableError} no later than `redisTimeout` after the call.
   */
  async run<T>(operation: string, op: () => Promise<T>, watchdog = this.watchdog): Promise<T> {
    // Gated because Redis refuses the credentials: the caller sees that reason.
    if (this.gate !== undefined) throw this.authRefused ?? this.gate
    if (!this.breaker.allow()) throw this.circuitOpen
    try {
      if (this.client.status !== 'ready' || this.readiness.verifying !== undefined)
        await this.readiness.ensure()
      const result = await watchdog.bound(op(), operation)
      this.breaker.success()
      return result
    } catch (cause) {
      throw this.failed(operation, cause)
    }
  }

  /** {@link run} with the `invalidationTimeout` deadline (an invalidation's effect or notice). */
  runInvalidation<T>(operation: string, op: () => Promise<T>): Promise<T> {
    return this.run(operation, op, this.invalidationWatchdog)
  }

  /**
   * {@link run} for auto-recovery's probes and replays: past the gates, and past an open breaker
   * (a background attempt costs no caller anything; its success closes the breaker, its failure
   * is counted like any other).
   */
  async runRecovery<T>(operation: string, op: () => Promise<T>): Promise<T> {
    try {
      if (this.client.status !== 'ready' || this.readiness.verifying !== undefined)
        await this.readiness.ensure()
      const result = await this.bounded(op(), operation)
      this.breaker.success()
      return result
    } catch (cause) {
      throw this.failed(operation, cause)
    }
  }

  /**
   * {@link run} for an operation that is ONE ioredis command. A borrowed client whose own
   * `commandTimeout` bounds it within `redisTimeout` needs nothing more; otherwise (the cache's
   * own connection, or a borrowed client without `commandTimeout`) the shared watchdog bounds it,
   * so a hung Redis never blocks a caller past `redisTimeout`.
   */
  runSingle<T>(operation: string, op: () => Promise<T>): Promise<T> {
    // Connection set-up and open-circuit paths go through run(); the hot path is one promise
    // chain (no async frames, no timer per call).
    if (this.client.status !== 'ready' || this.readiness.verifying !== undefined)
      return this.run(operation, op)
    if (this.gate !== undefined) return Promise.reject(this.authRefused ?? this.gate)
    if (!this.breaker.allow()) return Promise.reject(this.circuitOpen)
    let pending: Promise<T>
    try {
      pending = op()
    } catch (cause) {
      return Promise.reject(this.failed(operation, cause))
    }
    if (!this.commandBounded) pending = this.bounded(pending, operation)
    return pending.then(this.succeeded as (result: T) => T, this.failureHandler(operation))
  }

  /**
   * `promise`, or a timeout error once `redisTimeout` has passed. One watchdog timer serves every
   * pending operation of the tier (all share the same timeout, so insertion order is deadline
   * order): no timer is armed or cleared per call.
   */
  bounded<T>(promise: Promise<T>, operation: string): Promise<T> {
    return this.watchdog.bound(promise, operation)
  }

  /**
   * An MGET of `keys` (replies as Buffers), bounded and guarded like {@link runSingle}, in the
   * fewest promise layers: the command is the tier's own ioredis `Command`, watched by the
   * watchdog directly (no wrapper promise, no closure per call), and `done` (which must call
   * `watchdog.release()` and `breaker.success()`) or `failed` settle the caller's promise. Before the connection is ready
   * (or while it is verified, gated, or with auto-pipelining) it goes through {@link runSingle},
   * then `parse`.
   */
  private mgetBounded<T>(
    operation: string,
    keys: string[],
    done: (reply: Array<Buffer | null>) => T | PromiseLike<T>,
    failed: (cause: unknown) => never,
    parse: (reply: Array<Buffer | null>) => T | PromiseLike<T>,
  ): Promise<T> {
    if (!this.direct || this.client.status !== 'ready' || this.readiness.verifying !== undefined || this.gate)
      return this.runSingle(operation, () => this.client.mgetBuffer(keys)).then(parse)
    if (!this.breaker.allow()) return Promise.reject(this.circuitOpen)
    let pending: Promise<Array<Buffer | null>>
    try {
      const command = new Command(
        'mget',
        keys,
        this.friendlyStacks ? { ...this.bufferReply, errorStack: new Error() } : this.bufferReply,
      )
      pending = this.client.sendCommand(command) as Promise<Array<Buffer | null>>
      if (!this.commandBounded) this.watchdog.watch(command, operation)
    } catch (cause) {
      return Promise.reject(this.failed(operation, cause))
    }
    return pending.then(done, failed)
  }

  private readonly readOneDone = (reply: Array<Buffer | null>): OneRead => {
    this.watchdog.release()
    this.breaker.success()
    return parseRead(reply)
  }

  private readonly versionsDone = (reply: Array<Buffer | null>): number[] => {
    this.watchdog.release()
    this.breaker.success()
    return parseVersions(reply)
  }

  private readonly succeeded = (result: unknown): unknown => {
    this.breaker.success()
    return result
  }

  private readonly failureHandlers = new Map<string, (cause: unknown) => never>()

  private failureHandler(operation: string): (cause: unknown) => never {
    let handler = this.failureHandlers.get(operation)
    if (handler === undefined) {
      handler = (cause: unknown): never => {
        throw this.failed(operation, cause)
      }
      this.failureHandlers.set(operation, handler)
    }
    return handler
  }

  /** Count a failure of `operation` (breaker, hooks) and return the error to reject with. */
  private failed(operation: string, cause: unknown): L2UnavailableError {
    const error =
      cause instanceof L2UnavailableError
        ? cause
        : isCommandTimeout(cause)
          ? timeoutError(operation, this.timeoutMs)
          : l2Error(this.client, `Redis ${operation} failed`, cause)
    this.breaker.failure()
    this.hooks.onError(operation, error)
    return error
  }

  /**
   * The multi-key read (`getMany`, `getOrSetMany`, `expiresAt`): ONE `MGET` of the
   * entries, the generation and `requestedTags` (one server-side command, one consistent
   * snapshot), then the entries' header tags matched with the versions read. Header tags the
   * caller did not name cost ONE more `MGET` of their versions, for all entries together (a
   * second round trip, only when a key carries tags the process did not know). Checking them
   * after the entry is sound: versions only grow, so a version read later that still equals the
   * entry's snapshot was that value when the entry was read. On Redis Cluster every key is
   * declared (all share the `{ns}` hash tag): on a slot being migrated a node serves the MGET only
   * when it holds every key, else answers `TRYAGAIN`/`ASK`, so no version is read from the wrong
   * node (see docs/cache-tiers.md, resharding).
   */
  read(entryKeys: readonly string[], requestedTags: readonly string[]): Promise<ReadResult> {
    if (this.readGate !== undefined) return Promise.reject(this.readGate)
    const count = entryKeys.length
    const keys = new Array<string>(count + 1 + requestedTags.length)
    for (let i = 0; i < count; i++) keys[i] = entryKeys[i] as string
    keys[count] = this.keys.generation
    for (let i = 0; i < requestedTags.length; i++) keys[count + 1 + i] = this.keys.base + requestedTags[i]
    const complete = (reply: Array<Buffer | null>): ReadResult | Promise<ReadResult> => {
      const partial = parseManyRead(reply, count, requestedTags)
      if (partial.missing.length === 0) return partial.result
      const tagKeys = partial.missing.map((suffix) => this.keys.base + suffix)
      return this.runSingle('versions', () => this.client.mgetBuffer(tagKeys)).then((versions) =>
        completeRead(partial, versions),
      )
    }
    return this.mgetBounded(
      'read',
      keys,
      (reply) => {
        this.watchdog.release()
        this.breaker.success()
        return complete(reply)
      },
      this.failureHandler('read'),
      complete,
    )
  }

  /**
   * The getOrSet read: ONE `MGET entry generation ...requestedTags` (all keys share the `{ns}`
   * hash tag, so it is valid on Redis Cluster). MGET is atomic, so the entry and the versions are
   * one consistent snapshot. Versions of tags the entry has but the caller did not name are
   * fetched by {@link versions} (a second round trip, only when a key's tags changed between
   * call sites).
   */
  readOne(entryKey: string, requestedTags: readonly string[]): Promise<OneRead> {
    if (this.readGate !== undefined) return Promise.reject(this.readGate)
    let keys: string[]
    if (requestedTags.length === 0) keys = [entryKey, this.keys.generation]
    else {
      keys = new Array<string>(requestedTags.length + 2)
      keys[0] = entryKey
      keys[1] = this.keys.generation
      for (let i = 0; i < requestedTags.length; i++) keys[i + 2] = this.keys.base + requestedTags[i]
    }
    return this.mgetBounded('read', keys, this.readOneDone, this.failureHandler('read'), parseRead)
  }

  /** Current versions of tag suffixes (one MGET). */
  versions(tagSuffixes: readonly string[]): Promise<number[]> {
    const keys = tagSuffixes.map((s) => this.keys.base + s)
    return this.mgetBounded(
      'versions',
      keys,
      this.versionsDone,
      this.failureHandler('versions'),
      parseVersions,
    )
  }

  write(key: string, bytes: Buffer, ttlMs: number): Promise<unknown> {
    return this.runSingle('write', () => this.client.set(key, bytes, 'PX', Math.max(1, Math.ceil(ttlMs))))
  }

  writeMany(items: ReadonlyArray<{ key: string; bytes: Buffer; ttlMs: number }>): Promise<unknown> {
    return this.run('writeMany', async () => {
      const pipeline = this.client.pipeline()
      for (const item of items) pipeline.set(item.key, item.bytes, 'PX', Math.max(1, Math.ceil(item.ttlMs)))
      const results = (await pipeline.exec()) ?? []
      for (const [error] of results) if (error) throw error
    })
  }

  /** An invalidation's DEL (`invalidationTimeout`). */
  delete(keys: readonly string[]): Promise<unknown> {
    return this.runInvalidation('delete', () => this.client.del(...keys))
  }

  /** Atomically add `step` to each tag version; returns the new versions (`invalidationTimeout`). */
  bump(tagKeys: readonly string[], step: number): Promise<number[]> {
    return this.runInvalidation('bump', () => this.client.ayalaCacheBump(tagKeys.length, ...tagKeys, step))
  }

  /**
   * `expire`'s compare-and-set: GET the entry, let `demote` build its stale copy (undefined: the
   * entry is absent from the reply, unreadable or not fresh, nothing to write), then write it back
   * only if the entry still holds the bytes read, keeping its TTL (`ayalaCacheCas`). A write that
   * lands in between wins: the demotion is dropped, never the newer value. Two round trips, the
   * second only when there is something to demote. `replay`: auto-recovery's replay, through
   * {@link runRecovery} (past the gates and an open breaker).
   */
  async demoteEntry(
    entryKey: string,
    demote: (bytes: Buffer) => Buffer | undefined,
    replay = false,
  ): Promise<void> {
    const get = () => this.client.getBuffer(entryKey)
    const bytes = replay ? await this.runRecovery('replay', get) : await this.runInvalidation('expire', get)
    if (bytes === null) return
    const demoted = demote(bytes)
    if (demoted === undefined) return
    const cas = () => this.client.ayalaCacheCas(entryKey, bytes, demoted)
    if (replay) await this.runRecovery('replay', cas)
    else await this.runInvalidation('compareAndSet', cas)
  }

  /** Take the lease of `key` for `ttlMs`; true when this caller holds it. */
  async acquireLease(leaseKey: string, token: string, ttlMs: number): Promise<boolean> {
    const reply = await this.run('lease', () =>
      this.client.set(leaseKey, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'),
    )
    return reply === 'OK'
  }

  releaseLease(leaseKey: string, token: string): Promise<number> {
    return this.run('releaseLease', () => this.client.ayalaCacheRelease(leaseKey, token))
  }

  leaseHeld(leaseKey: string): Promise<boolean> {
    return this.run('leaseHeld', async () => (await this.client.exists(leaseKey)) === 1)
  }

  /** A bus notice (`invalidationTimeout`: most notices are invalidations; the others are best effort). */
  publish(channel: string, message: string): Promise<unknown> {
    return this.runInvalidation('publish', () => this.client.publish(channel, message))
  }

  async close(): Promise<void> {
    this.watchdog.stop()
    this.invalidationWatchdog.stop()
    this.client.off('ready', this.handleReady)
    this.readiness.wake()
    if (this.owned) {
      this.client.disconnect()
    }
    this.client.off('error', this.handleClientError)
    if (!this.owned) return
    // Keep a no-op listener: a late socket error after disconnect must not crash the process.
    this.client.on('error', ignoreAfterClose)
  }
}

function parseVersions(reply: ReadonlyArray<Buffer | null>): number[] {
  return reply.map(parseVersion)
}

function ignoreAfterClose(): void {
  // The connection is closed on purpose; errors it reports afterwards concern no caller.
}
