/**
 * Scenario (d): `getMany` of 100 keys with a cold L1 (all 100 evicted from L1 before each call,
 * untimed). Time per call, plus Redis commands and round trips per call counted through a proxy.
 * Goals (issue 19): ours in one round trip and within 1.3x of `mgetBuffer` + 100 `unpack`s. Our
 * second row holds tagged entries (each its own tag and two shared ones) that no L1 record names:
 * their tag versions cost one more MGET (2 round trips, 2 server-side commands). The server-side
 * command counts (INFO commandstats, a script's inner calls included) are asserted by the test
 * packages/cache/test/integration/read/server-commands.test.ts on a private Redis.
 * bentocache has no multi-get: `Promise.all` of 100 `get`s.
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

/** The tags every entry of our tagged row carries beside its own (`invoice:<n>`). */
const SHARED_TAGS: readonly string[] = ['client:7', 'tenant:1']

/** Our row over tagged entries (see the module note). */
const AYALA_TAGGED = `${AYALA}, tagged entries (tags unknown to L1)`

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
      // Its own namespace (the harness names it by `tags`): its entries are written tagged.
      { factory: ayalaContender(), name: AYALA_TAGGED, tags: SHARED_TAGS },
      { factory: bentocacheContender(true), name: 'bentocache (serialized L1), Promise.all of get' },
      { factory: bentocacheContender(false), name: 'bentocache (serialize: false), Promise.all of get' },
      { factory: cacheableContender(false), name: 'cacheable getMany' },
      { factory: cacheManagerContender(), name: 'cache-manager mget' },
    ],
    async prepare(cache, entry) {
      for (let i = 0; i < KEY_COUNT; i++)
        await cache.getOrSet(
          keys[i] as string,
          loaders[i] as () => Promise<unknown>,
          entry.tags === undefined ? undefined : [keys[i] as string, ...entry.tags],
        )
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
          `${AYALA} p50 / mgetBuffer + unpack p50`,
          p50Ratio(rows, AYALA, 'baseline: ioredis mgetBuffer + msgpackr unpack'),
          1.3,
        ),
        ratioGoal(
          `${AYALA_TAGGED} p50 / mgetBuffer + unpack p50 (informative: 2 round trips)`,
          p50Ratio(rows, AYALA_TAGGED, 'baseline: ioredis mgetBuffer + msgpackr unpack'),
          1.3,
        ),
      ]
    },
  })
}
