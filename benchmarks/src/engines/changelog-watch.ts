/**
 * Reading a JVM engine's changelog topic in the metrics-engines benchmark: upsert rows keyed
 * `{"status": ...}` with `invoices` and `amount_cents` in the value (the last row per key wins, a
 * null value deletes it), read committed by a kafkajs consumer of this process, which notes the
 * moment the rows first hold the ground truth.
 */
import { FAST_GROUP, kafka } from '../metrics/settings.js'
import { normalized, type StatusFigures, sameFigures } from './figures.js'

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
