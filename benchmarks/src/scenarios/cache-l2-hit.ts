/**
 * Scenario (c): an L2 hit with a cold L1. Before each call (untimed) the key is evicted from
 * the contender's L1 alone, so the call reads Redis, decodes, and refills L1 - the real path of
 * a first read on another instance. Goal: ours within 1.1x of raw ioredis `getBuffer` + msgpackr
 * `unpack` of the same invoice. Our `get()` runs as an extra row (goal 1.15x, issue 19): cold, one
 * MGET of the entry and the generation, the same read as `getOrSet`'s (no Lua script since
 * issue 19).
 */
import {
  AYALA,
  ayalaContender,
  bentocacheContender,
  cacheableContender,
  cacheManagerContender,
  RAW_BASELINE,
  rawRedisBaseline,
} from '../cache/contenders.js'
import { dataset, KEY_COUNT, loadersFor } from '../cache/fixtures.js'
import { expectValue, runCacheScenario } from '../cache/harness.js'
import { p50Ratio, ratioGoal, type ScenarioResult } from '../report.js'

/** Row of our `get()` (the other rows time `getOrSet`). */
const AYALA_GET = `${AYALA} get()`

/** Run the scenario (see the module note) and write its results. */
export async function run(): Promise<ScenarioResult> {
  const { keys, values } = dataset()
  const loaders = loadersFor(values)
  const evicted: string[] = ['']
  return runCacheScenario({
    id: 'cache-l2-hit',
    title: 'Cache (c): L2 hit with a cold L1',
    description:
      'Sequential awaited `getOrSet` (and, on its own row, our `get`) of keys present in Redis but evicted from the L1 of the same instance before each call (untimed); 100 keys, ~600-byte invoice.',
    baseline: RAW_BASELINE,
    entries: [
      { factory: rawRedisBaseline() },
      { factory: ayalaContender() },
      { factory: ayalaContender(), name: AYALA_GET },
      { factory: bentocacheContender(true) },
      { factory: bentocacheContender(false) },
      { factory: cacheableContender(false) },
      { factory: cacheManagerContender() },
    ],
    async prepare(cache) {
      for (let i = 0; i < KEY_COUNT; i++)
        await cache.getOrSet(keys[i] as string, loaders[i] as () => Promise<unknown>, undefined)
    },
    beforeEach(cache, index) {
      evicted[0] = keys[index % KEY_COUNT] as string
      return cache.evictL1(evicted)
    },
    op: (cache, index, entry) =>
      entry.name === AYALA_GET
        ? cache.get(keys[index % KEY_COUNT] as string)
        : cache.getOrSet(
            keys[index % KEY_COUNT] as string,
            loaders[index % KEY_COUNT] as () => Promise<unknown>,
            undefined,
          ),
    check: (result, index) => expectValue(result, values[index % KEY_COUNT]),
    goals: (rows) => [
      ratioGoal(`${AYALA} p50 / raw getBuffer + unpack p50`, p50Ratio(rows, AYALA, RAW_BASELINE), 1.1),
      ratioGoal(
        `${AYALA_GET} p50 / raw getBuffer + unpack p50`,
        p50Ratio(rows, AYALA_GET, RAW_BASELINE),
        1.15,
      ),
    ],
    notes: [
      'L1 eviction before each call is untimed: bentocache through its memory driver, cacheable and cache-manager through their primary Keyv store, ours through its L1 (`cache.l1`).',
    ],
  })
}
