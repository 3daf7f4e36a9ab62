/**
 * Scenario (d): `getMany` of 100 keys with a cold L1 (all 100 evicted from L1 before each call,
 * untimed). Time per call, plus Redis commands and round trips per call counted through a proxy.
 * Goal: ours in one round trip. bentocache has no multi-get: `Promise.all` of 100 `get`s.
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
import { type Goal, p50Ratio, ratioGoal, type ScenarioResult } from '../report.js'

/** Run the scenario (see the module note) and write its results. */
export async function run(): Promise<ScenarioResult> {
  const { keys, values } = dataset()
  const loaders = loadersFor(values)
  return runCacheScenario({
    id: 'cache-get-many',
    title: 'Cache (d): getMany of 100 keys, cold L1',
    description:
      'Sequential awaited multi-gets of the same 100 keys, present in Redis and evicted from L1 before each call (untimed); ~600-byte invoices.',
    baseline: 'baseline: ioredis mgetBuffer + msgpackr unpack',
    entries: [
      { factory: rawRedisBaseline(), name: 'baseline: ioredis mgetBuffer + msgpackr unpack' },
      { factory: ayalaContender() },
      { factory: bentocacheContender(true), name: 'bentocache (serialized L1), Promise.all of get' },
      { factory: bentocacheContender(false), name: 'bentocache (serialize: false), Promise.all of get' },
      { factory: cacheableContender(false), name: 'cacheable getMany' },
      { factory: cacheManagerContender(), name: 'cache-manager mget' },
    ],
    async prepare(cache) {
      for (let i = 0; i < KEY_COUNT; i++)
        await cache.getOrSet(keys[i] as string, loaders[i] as () => Promise<unknown>, undefined)
    },
    beforeEach: (cache) => cache.evictL1(keys),
    op: (cache) => cache.getMany(keys),
    check: (result) => expectValue(result, values),
    goals: (rows): Goal[] => {
      const ours = rows.find((row) => row.name === AYALA)
      const trips = ours?.roundTripsPerCall
      return [
        {
          goal: `${AYALA} getMany(100 keys) Redis round trips per call`,
          measured: trips === undefined ? 'n/a' : `${trips}`,
          target: '1',
          met: trips === undefined ? undefined : trips <= 1,
        },
        ratioGoal(
          `${AYALA} p50 / mgetBuffer + unpack p50 (informative)`,
          p50Ratio(rows, AYALA, 'baseline: ioredis mgetBuffer + msgpackr unpack'),
          1.1,
        ),
      ]
    },
  })
}
