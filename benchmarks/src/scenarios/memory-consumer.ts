/**
 * Scenario: the stream consumer's RSS over a large backlog, sampled over time: flat or growing.
 * A topic is filled with `METRICS_BENCH_MEMORY_EVENTS` invoice events (default 5,000,000;
 * 100,000 in `--quick` mode; produced in chunks, never held whole), then one consumer child
 * (`metrics/child.ts`, ours with its defaults, delta mode) applies it into a private redis-server
 * while this process reads the child's VmRSS from /proc every second (200 ms in quick mode).
 *
 * Verdict: the samples of the applying window, the first 10% left out (warm-up), are split in
 * quarters; the RSS is "growing" when the median of the last quarter exceeds the median of the
 * second by more than max(16 MB, 10%), "flat" otherwise. The rows are those medians and the
 * maximum, as ratios to the second quarter's median (the baseline row). An applying window under
 * 20 s (quick mode) is reported without a verdict on the goal: it shows the warm-up, not a trend.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { memoryRow } from '../memory/measure.js'
import { makeEvents } from '../metrics/events.js'
import { kafka, PARTITIONS, startPrivateRedis } from '../metrics/settings.js'
import { spawnChild, stop } from '../metrics/spawn.js'
import { type ResultRow, runConfig, writeResult } from '../report.js'

const MB = 1024 * 1024
const SECOND_QUARTER = 'RSS, median of the 2nd quarter'

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN
}

/** The verdict over `[t seconds, rss bytes]` samples of the applying window. */
export function rssVerdict(samples: readonly (readonly [number, number])[]) {
  const kept = samples.slice(Math.floor(samples.length / 10))
  const q = Math.max(1, Math.floor(kept.length / 4))
  const second = median(kept.slice(q, 2 * q).map(([, rss]) => rss))
  const last = median(kept.slice(-q).map(([, rss]) => rss))
  const max = Math.max(...kept.map(([, rss]) => rss))
  const growth = last - second
  const growing = growth > Math.max(16 * MB, 0.1 * second)
  return { second, last, max, growth, growing, samples: kept.length }
}

export async function run() {
  const quick = runConfig().quick
  const total = Number(process.env.METRICS_BENCH_MEMORY_EVENTS ?? (quick ? 100_000 : 5_000_000))
  const every = quick ? 200 : 1_000
  const suffix = randomBytes(4).toString('hex')
  const topic = `bench-memory-consumer-${suffix}`
  const client = kafka()
  const admin = client.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] })
  const server = await startPrivateRedis({ args: [] })
  // Plain sends of 10,000 records, one at a time (an entity's correction stays behind its first
  // event: same key, same partition, in order); createEventProducer's one request per key is
  // right for live traffic and far too slow for millions of backlog records.
  const producer = client.producer({ maxInFlightRequests: 1 })
  let child: ReturnType<typeof spawnChild> | undefined
  const samples: [number, number][] = []
  let produceMs = 0
  let applyMs = 0
  let report: Awaited<ReturnType<typeof spawnChild>['done']> | undefined
  try {
    await producer.connect()
    const t0 = performance.now()
    for (let from = 0; from < total; from += 30_000) {
      const chunk = makeEvents(Math.min(30_000, total - from), from)
      for (let i = 0; i < chunk.length; i += 10_000) {
        const messages = chunk.slice(i, i + 10_000).map((e) => ({ key: e.id, value: JSON.stringify(e) }))
        await producer.send({ topic, acks: 1, messages })
      }
    }
    produceMs = performance.now() - t0
    child = spawnChild('ours', {
      BENCH_TOPIC: topic,
      BENCH_NS: `bench-memory-consumer-${suffix}`,
      BENCH_TOTAL: String(total),
      BENCH_REDIS: server.url,
      BENCH_SPEC: '{}',
    })
    const spawned = child
    await spawned.applying
    const started = performance.now()
    const sampler = setInterval(() => {
      try {
        samples.push([(performance.now() - started) / 1_000, rssOf(spawned.process.pid as number)])
      } catch {
        // The child exited between two samples: the window is over.
        clearInterval(sampler)
      }
    }, every)
    try {
      report = await spawned.done
    } finally {
      clearInterval(sampler)
    }
    applyMs = performance.now() - started
  } finally {
    if (child) await stop(child.process)
    await producer.disconnect()
    await admin.deleteTopics({ topics: [topic] })
    await admin.disconnect()
    await server.dispose()
  }
  const v = rssVerdict(samples)
  const rows: ResultRow[] = [
    memoryRow(SECOND_QUARTER, v.second, `${(v.second / MB).toFixed(1)} MB`),
    memoryRow('RSS, median of the last quarter', v.last, `${(v.last / MB).toFixed(1)} MB`),
    memoryRow('RSS, maximum', v.max, `${(v.max / MB).toFixed(1)} MB`),
  ]
  for (const row of rows) row.ratioToBaseline = (row.heapBytes ?? Number.NaN) / v.second
  const step = Math.max(1, Math.ceil(samples.length / 20))
  const series = samples.filter((_, i) => i % step === 0 || i === samples.length - 1)
  const verdict = v.growing ? 'GROWING' : 'flat'
  return writeResult(
    'memory-consumer',
    `Memory: the stream consumer's RSS over a ${total.toLocaleString('en')}-event backlog (${verdict})`,
    rows,
    SECOND_QUARTER,
    {
      description: `One consumer child (ours, defaults, delta mode, ${PARTITIONS} partitions) applies the backlog into a private redis-server; its VmRSS read every ${every} ms. First 10% of the samples left out; growing = last-quarter median above the 2nd quarter's by more than max(16 MB, 10%). "p50 / baseline" is RSS / the 2nd quarter's median.`,
      goals: [
        {
          goal: 'RSS over the backlog',
          measured: `${verdict} (${v.growth >= 0 ? '+' : ''}${(v.growth / MB).toFixed(1)} MB, last vs 2nd quarter)`,
          target: 'flat',
          // A window of a few seconds (quick mode) shows the warm-up, not a trend.
          met: applyMs >= 20_000 && samples.length >= 8 ? !v.growing : undefined,
        },
      ],
      notes: [
        `Produced in ${(produceMs / 1_000).toFixed(1)} s; applied in ${(applyMs / 1_000).toFixed(1)} s (${report ? Math.round(report.eventsPerSec).toLocaleString('en') : '-'} events/s as the child counts them); ${samples.length} samples.`,
      ],
      appendix: [
        '| t (s) | RSS (MB) |',
        '|---:|---:|',
        ...series.map(([t, rss]) => `| ${t.toFixed(1)} | ${(rss / MB).toFixed(1)} |`),
      ].join('\n'),
      data: { samples, growthBytes: v.growth },
    },
  )
}
