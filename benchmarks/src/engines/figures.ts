/**
 * The figures every engine of the metrics-engines benchmark must end with, and how they are read:
 * count and sum of cents per status over the invoices' latest states, from the produced backlog
 * (the ground truth); from a changelog topic (Kafka Streams, Flink: upsert rows keyed
 * `{"status": ...}` with `invoices` and `amount_cents`, the last row per key wins, a null value
 * deletes it), read committed, by a kafkajs consumer of this process.
 *
 * A mismatch throws: the scenario fails, it does not print a wrong figure.
 */
import type { BenchEvent } from '../metrics/events.js'
import { FAST_GROUP, kafka } from '../metrics/settings.js'

/** Count and sum of cents per status. */
export interface StatusFigures {
  byStatus: Record<string, number>
  amountByStatus: Record<string, number>
}

/** The figures of `backlog`: each invoice's latest state (a correction retracts its previous one). */
export function groundTruth(backlog: readonly BenchEvent[]): StatusFigures {
  const byStatus: Record<string, number> = {}
  const amountByStatus: Record<string, number> = {}
  const add = (status: string, sign: number, cents: number) => {
    byStatus[status] = (byStatus[status] ?? 0) + sign
    amountByStatus[status] = (amountByStatus[status] ?? 0) + sign * cents
  }
  for (const event of backlog) {
    add(event.status, 1, event.amountCents)
    if (event.previous) add(event.previous.status, -1, event.previous.amountCents)
  }
  return normalized({ byStatus, amountByStatus })
}

/** Zero entries dropped, keys sorted: engines differ in whether they keep a status at 0. */
export function normalized(figures: StatusFigures): StatusFigures {
  const clean = (record: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(record)
        .map(([key, value]) => [key, Number(value)] as const)
        .filter(([, value]) => value !== 0)
        .sort(([a], [b]) => a.localeCompare(b)),
    )
  return { byStatus: clean(figures.byStatus), amountByStatus: clean(figures.amountByStatus) }
}

/** Whether two (normalized) figures are equal. */
export function sameFigures(a: StatusFigures, b: StatusFigures): boolean {
  return JSON.stringify(normalized(a)) === JSON.stringify(normalized(b))
}

/** Throw unless `engine`'s final figures equal the ground truth. */
export function assertFigures(engine: string, got: StatusFigures, truth: StatusFigures): void {
  if (!sameFigures(got, truth)) {
    throw new Error(
      `metrics-engines: ${engine} ended with figures that differ from the ground truth of the produced events: got ${JSON.stringify(normalized(got))}, expected ${JSON.stringify(truth)}`,
    )
  }
}

/** A consumer of a changelog topic, waiting for its rows to hold `truth`. */
export interface ChangelogWatch {
  /** Resolves with performance.now() of the batch after which the rows held `truth`. */
  reached: Promise<number>
  /** The figures the rows hold now. */
  figures(): StatusFigures
  /** Rows read so far. */
  rows(): number
  stop(): Promise<void>
}

/**
 * Read `topic` from the beginning in group `groupId` (read committed: a transactional writer's
 * rows count once their transaction commits); resolves once the group is joined, so that a job
 * started afterwards is watched from its first row.
 */
export async function watchChangelog(
  topic: string,
  groupId: string,
  truth: StatusFigures,
): Promise<ChangelogWatch> {
  const consumer = kafka().consumer({ groupId, ...FAST_GROUP })
  const counts = new Map<string, number>()
  const sums = new Map<string, number>()
  let rows = 0
  const figures = (): StatusFigures =>
    normalized({ byStatus: Object.fromEntries(counts), amountByStatus: Object.fromEntries(sums) })
  let reach: (at: number) => void = () => undefined
  const reached = new Promise<number>((resolve) => {
    reach = resolve
  })
  let done = false
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const joined = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, () => resolve())
  })
  await consumer.run({
    eachBatch: async ({
      batch,
    }: {
      batch: { messages: Array<{ key: Buffer | null; value: Buffer | null }> }
    }) => {
      for (const message of batch.messages) {
        rows++
        const status = (JSON.parse(String(message.key)) as { status: string }).status
        if (message.value === null) {
          counts.delete(status)
          sums.delete(status)
          continue
        }
        const row = JSON.parse(message.value.toString('utf8')) as { invoices: number; amount_cents: number }
        counts.set(status, Number(row.invoices))
        sums.set(status, Number(row.amount_cents))
      }
      if (!done && sameFigures(figures(), truth)) {
        done = true
        reach(performance.now())
      }
    },
  })
  await joined
  return { reached, figures, rows: () => rows, stop: () => consumer.disconnect() }
}
