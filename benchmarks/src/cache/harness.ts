/**
 * Runs one cache scenario: every contender side by side in this process, on the same data, then
 * an untimed pass through a counting proxy for Redis commands and round trips per call.
 *
 * Per contender, in order (a failure at any step becomes an `error` row; the run goes on):
 * 1. `missing`: our cache is skipped (with the reason printed) until its dist exports createCache.
 * 2. create it on the shared Redis, in its own namespace under the run prefix;
 * 3. `prepare` it (fill the caches, outside any timing);
 * 4. check the operation once: it must return the expected value (a contender that returns the
 *    wrong thing is reported as an error, not timed);
 * 5. add a tinybench task: `beforeEach` (untimed, e.g. evict from L1) then one awaited call.
 *
 * After tinybench has run every task sequentially, each contender is built again behind the
 * counting proxy, prepared, and the operation is run three times to count commands and round
 * trips per call. Every contender is closed, then every key containing the run prefix is
 * deleted (SCAN + UNLINK), so the process exits and the shared Redis is left as it was.
 */
import { isDeepStrictEqual } from 'node:util'
import { Redis } from 'ioredis'
import { Bench, type Fn, type FnOptions } from 'tinybench'
import {
  emptyRow,
  type Goal,
  type ResultRow,
  roundsPlan,
  rowFromSamples,
  type ScenarioResult,
  withRatios,
  writeResult,
} from '../report.js'
import { AYALA, type Contender, type ContenderFactory } from './contenders.js'
import { loaderCalls, runPrefix } from './fixtures.js'
import { startCountingProxy } from './round-trips.js'

/** One row of a scenario: a contender, optionally a variant of it (e.g. with tags). */
export interface Entry {
  factory: ContenderFactory
  /** Row name; the factory's name when absent. */
  name?: string | undefined
  /** Tags used by this row's operations (the contender must support tags). */
  tags?: readonly string[] | undefined
}

/** A cache scenario. */
export interface CacheScenario {
  /** File name of the results (`cache-l1-hit`). */
  id: string
  title: string
  description: string
  /** Row name of the baseline. */
  baseline: string
  entries: Entry[]
  /** Fill the contender's caches before timing. */
  prepare(contender: Contender, entry: Entry): Promise<void>
  /** Untimed step before each call, given the call's index. */
  beforeEach?: ((contender: Contender, index: number) => Promise<void> | void) | undefined
  /** The timed call. `index` grows by one per call (warm-up included). */
  op(contender: Contender, index: number, entry: Entry): Promise<unknown>
  /** Why the call's result is wrong, or `undefined` when it is right. */
  check(result: unknown, index: number): string | undefined
  /** Goals computed from the rows. */
  goals?: ((rows: ResultRow[]) => Goal[]) | undefined
  notes?: string[] | undefined
  /** Count Redis traffic per call through the proxy. @default true */
  countTraffic?: boolean | undefined
  /**
   * Calls per sample: each sample times `batch` back-to-back awaited calls and records their mean,
   * which takes the timer's own cost out of sub-microsecond figures (no `beforeEach` then).
   * @default 1
   */
  batch?: number | undefined
  /**
   * Every timed call should be a hit: a loader call while a contender is timed is reported on
   * its row (it missed). @default true
   */
  hits?: boolean | undefined
  /** Redis URL. @default REDIS_URL or redis://127.0.0.1:6379 */
  redisUrl?: string | undefined
}

/** Whether `actual` deep-equals `expected`; a short reason when not. */
export function expectValue(actual: unknown, expected: unknown): string | undefined {
  if (isDeepStrictEqual(actual, expected)) return undefined
  const shown = JSON.stringify(actual)
  return `returned ${shown === undefined ? 'undefined' : `${shown.slice(0, 80)}${shown.length > 80 ? '...' : ''}`} instead of the cached value`
}

/** Namespace of an entry: variants with and without tags never share keys (or bus messages). */
function namespaceOf(prefix: string, entry: Entry): string {
  return `${prefix}-${entry.factory.slug}${entry.tags ? '-tagged' : ''}`
}

function rowName(entry: Entry): string {
  return entry.name ?? entry.factory.name
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Close a contender, reporting (not throwing) a failure to close. */
async function closeQuietly(name: string, contender: Contender): Promise<void> {
  try {
    await contender.close()
  } catch (error) {
    console.warn(`[bench] closing ${name} failed: ${message(error)}`)
  }
}

/** Delete every key containing `prefix`, in batches. */
async function deleteKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl)
  let deleted = 0
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) deleted += await redis.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    await redis.quit()
  }
  return deleted
}

/** Run a scenario and write its results; its Redis keys are deleted even if it crashes. */
export async function runCacheScenario(scenario: CacheScenario): Promise<ScenarioResult> {
  const redisUrl = scenario.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const prefix = runPrefix(scenario.id)
  console.log(`\n[bench] ${scenario.id}: ${scenario.entries.length} contenders, prefix ${prefix}`)
  let data: ResultRow[]
  try {
    data = await measure(scenario, redisUrl, prefix)
  } finally {
    const deleted = await deleteKeys(redisUrl, prefix)
    console.log(`[bench] ${scenario.id}: deleted ${deleted} keys under ${prefix}`)
  }
  const notes = [...(scenario.notes ?? [])]
  const ours = data.filter((row) => row.name.startsWith(AYALA))
  if (ours.length > 0 && ours.every((row) => row.status === 'missing')) {
    notes.unshift(`${AYALA} was not measured: ${ours[0]?.error ?? 'missing'}`)
  }
  return writeResult(scenario.id, scenario.title, data, scenario.baseline, {
    description: scenario.description,
    goals: scenario.goals?.(data),
    notes,
  })
}

/** Time every contender, then count its Redis traffic; the rows of the result table. */
async function measure(scenario: CacheScenario, redisUrl: string, prefix: string): Promise<ResultRow[]> {
  const fixed = new Map<string, ResultRow>()
  const tasks: { name: string; fn: Fn; options: FnOptions }[] = []
  const live: { entry: Entry; contender: Contender }[] = []
  const batch = scenario.batch ?? 1
  /** Loader calls while each task was timed (warm-up included). */
  const loads = new Map<string, number>()
  const timed = new Map<string, ResultRow>()
  try {
    for (const entry of scenario.entries) {
      const name = rowName(entry)
      const namespace = namespaceOf(prefix, entry)
      const missing = await entry.factory.missing?.()
      if (missing !== undefined) {
        console.log(`[bench] ${name} is missing: ${missing}`)
        fixed.set(name, emptyRow(name, 'missing', missing))
        continue
      }
      if (entry.tags && !entry.factory.tags) {
        fixed.set(name, emptyRow(name, 'unsupported', 'no tag support'))
        continue
      }
      let contender: Contender
      try {
        contender = await entry.factory.create({ url: redisUrl, namespace })
      } catch (error) {
        fixed.set(name, emptyRow(name, 'error', `create: ${message(error)}`))
        continue
      }
      live.push({ entry, contender })
      try {
        await scenario.prepare(contender, entry)
        // Checked twice: the first call may take a different path (e.g. an L2 hit filling L1).
        for (const index of [0, 1]) {
          await scenario.beforeEach?.(contender, index)
          const wrong = scenario.check(await scenario.op(contender, index, entry), index)
          if (wrong) throw new Error(`check: ${wrong}`)
        }
      } catch (error) {
        fixed.set(name, emptyRow(name, 'error', message(error)))
        continue
      }
      let index = 2
      const op = scenario.op
      const beforeEach = scenario.beforeEach
      const fn: Fn =
        batch > 1
          ? async () => {
              const started = performance.now()
              for (let call = 0; call < batch; call++) await op(contender, index++, entry)
              const elapsed = performance.now() - started
              // The sample is the mean per call; the time budget is charged the whole batch.
              return { overriddenDuration: elapsed / batch, overriddenIterationCost: elapsed }
            }
          : () => op(contender, index++, entry)
      let loadsAtStart = 0
      tasks.push({
        name,
        fn,
        options: {
          async: true,
          beforeAll: () => {
            loadsAtStart = loaderCalls.count
          },
          afterAll: () => {
            loads.set(name, (loads.get(name) ?? 0) + loaderCalls.count - loadsAtStart)
          },
          ...(beforeEach && batch === 1 ? { beforeEach: () => beforeEach(contender, index) } : {}),
        },
      })
    }

    // Rounds: every task runs briefly in each, the order rotated, the samples merged.
    const plan = roundsPlan()
    const samples = new Map<string, number[]>(tasks.map((task) => [task.name, []]))
    const failed = new Map<string, string>()
    for (let round = 0; round < plan.rounds; round++) {
      const bench = new Bench({
        time: plan.time,
        warmupTime: round === 0 ? plan.warmupTime : Math.ceil(plan.warmupTime / 10),
        iterations: plan.iterations,
        warmupIterations: Math.max(1, Math.floor(plan.iterations / 4)),
        retainSamples: true,
        throws: false,
      })
      for (let k = 0; k < tasks.length; k++) {
        const task = tasks[(k + round) % tasks.length]
        if (task && !failed.has(task.name)) bench.add(task.name, task.fn, task.options)
      }
      await bench.run()
      for (const task of bench.tasks) {
        const result = task.result
        if (result.state === 'errored') failed.set(task.name, result.error.message)
        else if ('latency' in result && result.latency.samples) {
          const list = samples.get(task.name)
          // A loop, not push(...samples): a sub-us task yields far more samples than call arguments allow.
          if (list) for (const sample of result.latency.samples) list.push(sample)
        }
      }
    }
    for (const [name, list] of samples) {
      const error = failed.get(name)
      timed.set(name, error !== undefined ? emptyRow(name, 'error', error) : rowFromSamples(name, list))
    }
  } finally {
    await Promise.all(live.map(({ entry, contender }) => closeQuietly(rowName(entry), contender)))
  }

  const data = withRatios(
    scenario.entries.map((entry) => {
      const name = rowName(entry)
      const row = timed.get(name) ?? fixed.get(name) ?? emptyRow(name, 'error', 'not run')
      const note = entry.factory.note
      if (note && !row.note) row.note = note
      const missed = loads.get(name) ?? 0
      if ((scenario.hits ?? true) && missed > 0) {
        row.note = [row.note, `loader ran ${missed} times while timed: some calls missed`]
          .filter(Boolean)
          .join('; ')
      }
      return row
    }),
    scenario.baseline,
  )

  if (scenario.countTraffic ?? true) {
    const proxy = await startCountingProxy(redisUrl)
    try {
      for (const entry of scenario.entries) {
        const row = data.find((r) => r.name === rowName(entry))
        if (!row || (row.status ?? 'ok') !== 'ok') continue
        let contender: Contender | undefined
        try {
          contender = await entry.factory.create({
            url: proxy.url,
            namespace: namespaceOf(prefix, entry),
          })
          await scenario.prepare(contender, entry)
          // One uncounted call first: connection set-up (ready checks, script loads) is not per call.
          await scenario.beforeEach?.(contender, 2_000_000_000)
          await scenario.op(contender, 2_000_000_000, entry)
          let commands = 0
          let roundTrips = 0
          const calls = 3
          for (let call = 0; call < calls; call++) {
            // Far above the timed pass's indexes: a miss scenario gets fresh keys here too.
            const index = 1_000_000_000 + call
            await scenario.beforeEach?.(contender, index)
            await sleep(20)
            proxy.reset()
            await scenario.op(contender, index, entry)
            // Writes some libraries do in the background after answering still count.
            await sleep(30)
            const counts = proxy.counts()
            commands += counts.commands
            roundTrips += counts.roundTrips
          }
          row.commandsPerCall = commands / calls
          row.roundTripsPerCall = roundTrips / calls
        } catch (error) {
          row.note = [row.note, `traffic count failed: ${message(error)}`].filter(Boolean).join('; ')
        } finally {
          if (contender) await closeQuietly(rowName(entry), contender)
        }
      }
    } finally {
      await proxy.close()
    }
  }

  return data
}
