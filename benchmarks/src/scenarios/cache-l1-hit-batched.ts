/**
 * Scenario (a, batched): the L1 hit of scenario (a), timed 100 back-to-back awaited calls per
 * sample (the sample is their mean). Timing each call alone adds the timer's and the harness's
 * own cost (a fraction of a microsecond) to every contender, which flatters ratios near 1; here
 * that cost is spread over 100 calls, so the ratio to the lru-cache baseline is the real one.
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
    id: 'cache-l1-hit-batched',
    title: 'Cache (a, batched): L1 hit, mean of 100 back-to-back calls per sample',
    description:
      'The same calls as scenario (a) - awaited `getOrSet` of 100 keys cached in L1 - timed in batches of 100 sequential awaited calls; p50/p99 are over the per-batch means.',
    baseline: LRU_BASELINE,
    batch: 100,
    countTraffic: false,
    entries: [
      { factory: lruBaseline() },
      { factory: ayalaContender() },
      { factory: bento },
      { factory: bentoRaw },
      { factory: cacheableContender(false) },
      { factory: cacheManagerContender() },
    ],
    async prepare(cache) {
      for (let i = 0; i < KEY_COUNT; i++) {
        await cache.getOrSet(keys[i] as string, loaders[i] as () => Promise<unknown>, undefined)
      }
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
