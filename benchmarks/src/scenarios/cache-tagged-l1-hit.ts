/**
 * Scenario (b): an L1 hit on an entry with 3 tags against the same contender's untagged hit.
 * Goal: ours tagged as fast as ours untagged (reported against 1.1x). cache-manager has no tags;
 * cacheable checks tag freshness in Redis on every get once `tags: true`.
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
import { dataset, KEY_COUNT, loadersFor, TAGS } from '../cache/fixtures.js'
import { type Entry, expectValue, runCacheScenario } from '../cache/harness.js'
import { p50Ratio, ratioGoal, type ScenarioResult } from '../report.js'

/** Run the scenario (see the module note) and write its results. */
export async function run(): Promise<ScenarioResult> {
  const { keys, values } = dataset()
  const loaders = loadersFor(values)
  const ours = ayalaContender()
  const bento = bentocacheContender(true)
  const bentoRaw = bentocacheContender(false)
  const pair = (factory: Entry['factory'], name = factory.name): Entry[] => [
    { factory, name: `${name}, untagged` },
    { factory, name: `${name}, 3 tags`, tags: TAGS },
  ]
  return runCacheScenario({
    id: 'cache-tagged-l1-hit',
    title: 'Cache (b): tagged L1 hit (3 tags) vs untagged',
    description:
      'Sequential awaited `getOrSet` of keys cached with 3 tags, against the same contender without tags; 100 keys in L1, ~600-byte invoice.',
    baseline: LRU_BASELINE,
    entries: [
      { factory: lruBaseline() },
      ...pair(ours),
      ...pair(bento),
      ...pair(bentoRaw),
      { factory: cacheableContender(false), name: 'cacheable, untagged' },
      { factory: cacheableContender(true), name: 'cacheable (tags: true), 3 tags', tags: TAGS },
      { factory: cacheManagerContender(), name: 'cache-manager, 3 tags', tags: TAGS },
    ],
    async prepare(cache, entry) {
      for (let i = 0; i < KEY_COUNT; i++) {
        await cache.getOrSet(keys[i] as string, loaders[i] as () => Promise<unknown>, entry.tags)
      }
    },
    op: (cache, index, entry) =>
      cache.getOrSet(
        keys[index % KEY_COUNT] as string,
        loaders[index % KEY_COUNT] as () => Promise<unknown>,
        entry.tags,
      ),
    check: (result, index) => expectValue(result, values[index % KEY_COUNT]),
    goals: (rows) => [
      ratioGoal(
        `${AYALA} 3 tags p50 / ${AYALA} untagged p50`,
        p50Ratio(rows, `${AYALA}, 3 tags`, `${AYALA}, untagged`),
        1.1,
      ),
      ratioGoal(
        `${bento.name} 3 tags p50 / ${AYALA} 3 tags p50 (informative)`,
        p50Ratio(rows, `${bento.name}, 3 tags`, `${AYALA}, 3 tags`),
        10,
        true,
      ),
      ratioGoal(
        `cacheable (tags: true) 3 tags p50 / ${AYALA} 3 tags p50 (informative)`,
        p50Ratio(rows, 'cacheable (tags: true), 3 tags', `${AYALA}, 3 tags`),
        10,
        true,
      ),
    ],
  })
}
