/**
 * Rebuilds. A view's figures can be recomputed from the log (a new aggregate, a fixed bug): a
 * consumer on a NEW generation (its own key space under the view's hash tag, its own consumer
 * group) replays the topic from the earliest offset while the old generation keeps serving. When
 * its lag is small enough, one script switches the pointer readers follow, with a compare-and-set
 * on the generation it replaces, and makes the new generation's version exceed the old one's, so
 * subscribers see versions keep rising across the switch. Readers re-read with the new generation
 * on the next read (every read checks the pointer in the same round trip).
 */
import type { Cluster, Redis } from 'ioredis'
import type { Aggregates, View } from './aggregates/define.js'
import { createMetricsConsumer, type MetricsConsumer } from './consume/consumer.js'
import {
  CONSUMER_OPTION_KEYS,
  type MetricsConsumerOptions,
  resolveConsumerOptions,
} from './consume/options.js'
import { Script } from './consume/scripts.js'
import { MetricsStreamError } from './errors.js'
import { viewKeys } from './keys.js'
import { checkOptionKeys } from './option-keys.js'

/** The consumer's option keys but `generation`: a rebuild chooses its generation. */
const REBUILD_OPTION_KEYS: ReadonlySet<string> = new Set(
  [...CONSUMER_OPTION_KEYS].filter((name) => name !== 'generation'),
)
const PROMOTE_OPTION_KEYS: ReadonlySet<string> = new Set(['maxLag'])

const PROMOTE = new Script(`#!lua
local current = redis.call('GET', KEYS[1]) or '1'
if current ~= ARGV[1] then return {-1, current} end
local old = tonumber(redis.call('HGET', KEYS[3], 'version') or '0')
local v = redis.call('HINCRBY', KEYS[2], 'version', old + 1)
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], v .. ' ' .. ARGV[2] .. ' - -1 -1 0')
return {1, v}
`)

/** The generation readers of a view use (1 when never promoted). */
export async function currentGeneration(
  redis: Redis | Cluster,
  namespace: string,
  view: string,
): Promise<number> {
  const pointer = await redis.get(viewKeys(namespace, view, 1).pointer)
  return pointer === null ? 1 : Number(pointer)
}

/**
 * Switch readers from generation `from` to `to` atomically.
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` when the pointer is not at `from` any more
 * (someone else promoted)
 */
export async function promoteGeneration(
  redis: Redis | Cluster,
  namespace: string,
  view: string,
  from: number,
  to: number,
): Promise<number> {
  const fromKeys = viewKeys(namespace, view, from)
  const toKeys = viewKeys(namespace, view, to)
  const reply = (await PROMOTE.run(
    redis,
    [toKeys.pointer, toKeys.meta, fromKeys.meta],
    [String(from), String(to), toKeys.channel],
  )) as [number, number | string]
  if (reply[0] !== 1) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `View ${view} is at generation ${String(reply[1])}, not ${from}: not promoted`,
      { view },
    )
  }
  return Number(reply[1])
}

/** Delete every key of one generation of a view (SCAN + UNLINK). Returns how many were deleted. */
export async function dropGeneration(
  redis: Redis,
  namespace: string,
  view: string,
  generation: number,
): Promise<number> {
  const keys = viewKeys(namespace, view, generation)
  if ((await currentGeneration(redis, namespace, view)) === generation) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `Generation ${generation} is the one readers use`,
      { view },
    )
  }
  let cursor = '0'
  let deleted = 0
  const pattern = `${keys.slot.replace(/[*?[\]]/g, '\\$&')}:g${generation}:*`
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
    cursor = next
    if (found.length > 0) deleted += await redis.unlink(...found)
  } while (cursor !== '0')
  return deleted
}

/** Options of {@link startRebuild}: those of the consumer, without the generation. */
export type RebuildOptions<E> = Omit<MetricsConsumerOptions<E>, 'generation'>

/** Options of {@link Rebuild.promote}. */
export interface PromoteOptions {
  /** Most records the new generation may still lag behind Kafka, summed over partitions. @default 0 */
  maxLag?: number | undefined
}

/** A running rebuild. */
export interface Rebuild<E> {
  /** The generation being built. */
  readonly generation: number
  /** The generation readers used when the rebuild started. */
  readonly from: number
  /** The consumer replaying into the new generation (keep it running after `promote()`). */
  readonly consumer: MetricsConsumer<E>
  /** Records not yet applied to the new generation, summed over partitions. */
  lag(): Promise<number>
  /**
   * Switch readers to the new generation.
   * @throws MetricsStreamError `E_STREAM_NOT_CAUGHT_UP` when the lag is above `maxLag`
   */
  promote(options?: PromoteOptions): Promise<void>
}

/**
 * Start replaying the topic into a new generation of the view. Give it a source on a NEW consumer
 * group (e.g. `<group>-g<n>`), which therefore starts at the earliest offset.
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for an unknown option (`generation`
 * included: the rebuild chooses it) or an invalid one, before anything is written to Redis
 */
export async function startRebuild<E>(options: RebuildOptions<E>): Promise<Rebuild<E>> {
  checkOptionKeys(options, REBUILD_OPTION_KEYS, 'startRebuild')
  // Every value checked too before the generation counter moves (the consumer checks them again).
  resolveConsumerOptions(options, 'startRebuild')
  const { redis, namespace, view } = options as {
    redis: Redis | Cluster
    namespace: string
    view: View<E, any, Aggregates<any>>
  }
  const keys = viewKeys(namespace, view.name, 1)
  const from = await currentGeneration(redis, namespace, view.name)
  // A counter of generations ever started, so two rebuilds never share a key space.
  const counter = `${keys.slot}:generations`
  await redis.set(counter, String(from), 'NX')
  const generation = await redis.incr(counter)
  const consumer = createMetricsConsumer({ ...options, generation })
  await consumer.start()
  const lag = async () => (await consumer.lag()).reduce((total, partition) => total + partition.lag, 0)
  return {
    generation,
    from,
    consumer,
    lag,
    async promote(promoteOptions) {
      if (promoteOptions !== undefined) checkOptionKeys(promoteOptions, PROMOTE_OPTION_KEYS, 'promote')
      const behind = await lag()
      const maxLag = promoteOptions?.maxLag ?? 0
      if (behind > maxLag) {
        throw new MetricsStreamError(
          'E_STREAM_NOT_CAUGHT_UP',
          `Generation ${generation} is ${behind} records behind (max ${maxLag})`,
          { view: view.name, retriable: true },
        )
      }
      await promoteGeneration(redis, namespace, view.name, from, generation)
    },
  }
}
