/**
 * Read-committed filtering that holds with concurrent transactional producers, for kafkajs
 * 2.2.4. With `READ_COMMITTED` the broker returns, per partition, the records below the last
 * stable offset and the list of aborted transactions among them (producer id, first offset),
 * ordered by when each was aborted. kafkajs's filter (`filterAbortedMessages`) assumes that list
 * is ordered by first offset and opens at most one aborted transaction per record, so when two
 * producers' transactions interleave in a partition (two Flink sink subtasks, two Kafka Streams
 * threads) and the one that began first aborts last, or a fetch starts inside two aborted
 * transactions, records of an aborted transaction come through as committed (seen here: 47 of
 * 400 aborted invoices counted).
 *
 * The fix applies the Java consumer's rule instead, per record batch in offset order: open every
 * aborted transaction whose first offset is at or below the batch's last offset, close the
 * producer's at its ABORT marker, skip a transactional batch of an open aborted producer. It runs
 * on the decoded fetch response, inside the Fetch response decoders kafkajs selects by version
 * (`src/protocol/requests/fetch/v4..v11/response.js`, whose `decode` kafkajs looks up on each
 * request): aborted records are flagged as control records, which kafkajs then leaves out like
 * markers (so its offset bookkeeping still sees them), and the aborted list is emptied so
 * kafkajs's own filter has nothing left to do. Only fetches of a `kafkaSource` consumer
 * (`sourceScope`) are touched; other kafkajs clients of the process are left as kafkajs made them.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { sourceScope } from './codecs.js'

interface DecodedRecord {
  key: Buffer | null
  isControlRecord: boolean
  batchContext: {
    firstOffset: string
    lastOffsetDelta: number
    producerId: string
    inTransaction: boolean
    isControlBatch: boolean
  }
}
interface DecodedPartition {
  abortedTransactions?: Array<{ producerId: string; firstOffset: string }> | null
  messages: DecodedRecord[]
}
interface DecodedFetch {
  responses: Array<{ partitions: DecodedPartition[] }>
}
type Decode = ((raw: Buffer) => Promise<DecodedFetch>) & { [PATCHED]?: true }

const PATCHED = Symbol.for('@ayala/metrics-stream.read-committed')
const ABORT_MARKER = Buffer.from([0, 0, 0, 0]) // control record key: version 0, type 0 (ABORT)
let installed = false

/**
 * Install the read-committed fix (module header) into the kafkajs copy this package resolves;
 * once per process, from `kafkaSource`. A kafkajs whose files are not where 2.2.4 has them is
 * left alone.
 */
export function installReadCommittedFix(): void {
  if (installed) return
  installed = true
  const main = createRequire(import.meta.url).resolve('kafkajs')
  const load = createRequire(main)
  for (let version = 4; version <= 11; version++) {
    const file = path.join(
      path.dirname(main),
      'src',
      'protocol',
      'requests',
      'fetch',
      `v${version}`,
      'response.js',
    )
    if (!existsSync(file)) continue
    const response = load(file) as { decode?: Decode }
    const decode = response.decode
    if (typeof decode !== 'function' || decode[PATCHED]) continue
    const fixed: Decode = async (raw) => {
      const result = await decode(raw)
      if (sourceScope.getStore() === true) {
        for (const topic of result.responses) for (const partition of topic.partitions) dropAborted(partition)
      }
      return result
    }
    fixed[PATCHED] = true
    response.decode = fixed
  }
}

/** The Java consumer's read-committed rule over one partition's decoded records. */
export function dropAborted(partition: DecodedPartition): void {
  const list = partition.abortedTransactions
  if (!list || list.length === 0) return
  const aborted = list
    .map((t) => ({ producerId: t.producerId, firstOffset: BigInt(t.firstOffset) }))
    .sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
  const open = new Set<string>()
  let next = 0
  let batch: DecodedRecord['batchContext'] | undefined
  let skip = false
  for (const record of partition.messages) {
    const context = record.batchContext
    if (context !== batch) {
      batch = context
      const last = BigInt(context.firstOffset) + BigInt(context.lastOffsetDelta)
      while (next < aborted.length && (aborted[next] as (typeof aborted)[number]).firstOffset <= last) {
        open.add((aborted[next] as (typeof aborted)[number]).producerId)
        next++
      }
      skip = false
      if (context.isControlBatch) {
        if (record.key !== null && ABORT_MARKER.equals(record.key)) open.delete(context.producerId)
      } else if (context.inTransaction && open.has(context.producerId)) {
        skip = true
      }
    }
    if (skip) record.isControlRecord = true
  }
  partition.abortedTransactions = []
}
