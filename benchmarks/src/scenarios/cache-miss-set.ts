/**
 * Scenario (e): a miss + set. `getOrSet` of a key never seen before: the L1 and L2 lookups miss,
 * the loader runs (returns a prebuilt invoice at once) and the value is written to both tiers.
 * Baseline: raw ioredis `getBuffer` (miss) then `SET PX` of the msgpack bytes, the two round
 * trips any two-tier cache needs without a script.
 */
import {
  AYALA,
  ayalaContender,
  bentocacheContender,
  cacheableContender,
  cacheManagerContender,
  rawRedisBaseline,
} from '../cache/contenders.js'
import { dataset, KEY_COUNT, loadersFor } from '../cache/fixtures.js'
import { expectValue, runCacheScenario } from '../cache/harness.js'
import { p50Ratio, ratioGoal, type ScenarioResult } from '../report.js'

/** Run the scenario (see the module note) and write its results. */
export async function run(): Promise<ScenarioResult> {
  const { values } = dataset()
  const loaders = loadersFor(values)
  const raw = 'baseline: ioredis getBuffer (miss) + SET PX of msgpack'
  return runCacheScenario({
    id: 'cache-miss-set',
    title: 'Cache (e): miss + set (getOrSet of a new key)',
    description:
      'Sequential awaited `getOrSet` of a new key per call (`miss:<n>`); the loader returns a prebuilt ~600-byte invoice; the value is written to L1 and L2 with a 10-minute TTL.',
    baseline: raw,
    entries: [
      { factory: rawRedisBaseline(), name: raw },
      { factory: ayalaContender() },
      { factory: bentocacheContender(true) },
      { factory: bentocacheContender(false) },
      { factory: cacheableContender(false) },
      { factory: cacheManagerContender() },
    ],
    hits: false,
    async prepare() {
      // Nothing cached beforehand: every call is a miss on a new key.
    },
    op: (cache, index) =>
      cache.getOrSet(`miss:${index}`, loaders[index % KEY_COUNT] as () => Promise<unknown>, undefined),
    check: (result, index) => expectValue(result, values[index % KEY_COUNT]),
    goals: (rows) => [
      ratioGoal(`${AYALA} p50 / raw miss + set p50 (informative)`, p50Ratio(rows, AYALA, raw), 1.1),
    ],
    notes: [
      'Each contender writes a few thousand keys here; all are deleted at the end of the scenario (SCAN + UNLINK of the run prefix).',
    ],
  })
}
