/**
 * Scenario (a): an L1 hit. `getOrSet` of a key already in the in-process tier, cycling through
 * 100 cached invoices. Goals: ours within 2x of an async function returning `lruCache.get(key)`,
 * and at least 10x faster than bentocache's L1 hit (its default, serialized L1).
 */

import {
  AYALA,
  ayalaContender,
  bentocacheContender,
  cacheableContender,
  cacheManagerContender,
  LRU_BASELINE,
  lruBaseline,
} from '../cache/contenders.js'
import { dataset, KEY_COUNT, loadersFor } from '../cache/fixtures.js'
import { expectValue, runCacheScenario } from '../cache/harness.js'
import { p50Ratio, ratioGoal, type ScenarioResult } from '../report.js'

/** Run the scenario (see the module note) and write its results. */
export async function run(): Promise<ScenarioResult> {
  const { keys, values } = dataset()
  const loaders = loadersFor(values)
  const bento = bentocacheContender(true)
  const bentoRaw = bentocacheContender(false)
  return runCacheScenario({
    id: 'cache-l1-hit',
    title: 'Cache (a): L1 hit, getOrSet of a cached key',
    description:
      'Sequential awaited `getOrSet` calls cycling through 100 keys already in L1 (and L2); ~600-byte invoice; 10-minute TTL.',
    baseline: LRU_BASELINE,
    entries: [
      { factory: lruBaseline() },
      { factory: ayalaContender() },
      { factory: bento },
      { factory: bentoRaw },
      { factory: cacheableContender(false) },
      { factory: cacheManagerContender() },
    ],
    async prepare(cache) {
      for (let i = 0; i < KEY_COUNT; i++)
        await cache.getOrSet(keys[i] as string, loaders[i] as () => Promise<unknown>, undefined)
    },
    op: (cache, index) =>
      cache.getOrSet(
        keys[index % KEY_COUNT] as string,
        loaders[index % KEY_COUNT] as () => Promise<unknown>,
        undefined,
      ),
    check: (result, index) => expectValue(result, values[index % KEY_COUNT]),
    goals: (rows) => [
      ratioGoal(`${AYALA} p50 / lru-cache baseline p50`, p50Ratio(rows, AYALA, LRU_BASELINE), 2),
      ratioGoal(`${bento.name} p50 / ${AYALA} p50`, p50Ratio(rows, bento.name, AYALA), 10, true),
      ratioGoal(
        `${bentoRaw.name} p50 / ${AYALA} p50 (informative)`,
        p50Ratio(rows, bentoRaw.name, AYALA),
        10,
        true,
      ),
    ],
  })
}
