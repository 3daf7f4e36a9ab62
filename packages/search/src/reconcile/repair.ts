/**
 * Repairs, race-safe against the outbox writing at the same time: missing and stale documents
 * are loaded again and indexed through the bulk indexer with their version as an external
 * version (an event applied meanwhile with a newer version wins: 409, skipped); an extra
 * document is looked up again and deleted only if still absent, with the version the index holds
 * plus one (a newer write landing in between wins). `ahead` ones are looked up again and only
 * reported (an external version cannot go back; a database restored from an older backup is an
 * operator's decision).
 */
import type { BulkFailure } from '../errors.js'
import type { DocOf } from '../query/types.js'
import type { FieldMap } from '../schema/fields.js'
import { applyIndexEvents } from '../sync/apply-index-events.js'
import type { OutboxEvent } from '../sync/outbox-event.js'
import type { ResolvedReconcileOptions } from './options.js'
import type { SourceSide } from './source-side.js'
import type { Diff, ReconcileReport } from './types.js'

const MAX_FAILURES = 100

function recordFailure(report: ReconcileReport, failure: BulkFailure): void {
  report.repaired.failed++
  if (report.failures.length < MAX_FAILURES) report.failures.push(failure)
}

/** Repair what `diff` found, counting into `report`. */
export async function repair<F extends FieldMap>(
  o: Readonly<ResolvedReconcileOptions<F>>,
  db: SourceSide,
  engine: { requests: number },
  diff: Diff,
  report: ReconcileReport,
): Promise<void> {
  const toIndex = [...diff.missing, ...diff.stale]
  // Extra and ahead documents are looked up again: a row created (or updated) after its range
  // was listed is not deleted (or reported) by mistake.
  const recheck = [...diff.extra.map((d) => d.key), ...diff.ahead.map((d) => d.key)]
  const current = new Map<string, number>()
  for (let start = 0; start < recheck.length; start += o.loadBatchSize) {
    for (const doc of await db.load(recheck.slice(start, start + o.loadBatchSize)))
      current.set(String(doc.key), Number(doc.version))
  }
  const deletes: OutboxEvent[] = []
  for (const doc of diff.extra) {
    const now = current.get(String(doc.key))
    if (now === undefined)
      deletes.push({ op: 'delete', index: o.writeIndex, id: doc.id, version: doc.version + 1 })
    else if (now > doc.version) toIndex.push(doc.key)
    else report.repaired.skipped++
  }
  let ahead = 0
  for (const doc of diff.ahead) {
    const now = current.get(String(doc.key))
    if (now !== undefined && now > doc.version) toIndex.push(doc.key)
    else if (now !== undefined && now === doc.version) report.repaired.skipped++
    else ahead++
  }
  report.ahead = ahead
  if (toIndex.length > 0) {
    const versions = new Map<string, number>()
    const { definition, loadBatchSize } = o
    const loaded = async function* (): AsyncGenerator<DocOf<F>> {
      for (let start = 0; start < toIndex.length; start += loadBatchSize) {
        const docs = await db.load(toIndex.slice(start, start + loadBatchSize))
        for (const doc of docs) {
          versions.set(definition.idOf(doc.document as DocOf<F>), Number(doc.version))
          yield doc.document as DocOf<F>
        }
      }
    }
    const bulk = await o.search.bulk(definition, loaded(), {
      index: o.writeIndex,
      versionOf: (doc) => versions.get(definition.idOf(doc)) ?? 0,
      refresh: true,
    })
    // Bulk requests plus the indexer's final refresh.
    engine.requests += bulk.requests + 1
    report.repaired.indexed += bulk.indexed
    report.repaired.skipped += bulk.skipped + (toIndex.length - bulk.read)
    for (const failure of bulk.failures) recordFailure(report, failure)
  }
  for (let start = 0; start < deletes.length; start += 1_000) {
    const chunk = deletes.slice(start, start + 1_000)
    engine.requests++
    const results = await applyIndexEvents(o.search, chunk)
    for (const [i, result] of results.entries()) {
      if (result.status === 'applied') report.repaired.deleted++
      else if (result.status === 'stale') report.repaired.skipped++
      else
        recordFailure(report, {
          id: (chunk[i] as OutboxEvent).id,
          status: 0,
          type: result.status === 'retry' ? 'retry' : 'rejected',
          reason: result.error ?? result.status,
        })
    }
  }
  if (deletes.length > 0) {
    engine.requests++
    await o.search.refresh(o.writeIndex)
  }
}
