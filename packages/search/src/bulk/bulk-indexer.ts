/**
 * Bulk indexing from any async iterable.
 *
 * Mechanism:
 * - Batching is adaptive. The first request carries `batchSize` documents; after each
 *   successful full batch the throughput of that request (docs/s) is compared with the best seen:
 *   while it does not clearly fall (>= 90 % of the best, to ride out noise) the batch size doubles
 *   (up to `maxBatchSize` documents and `maxBatchBytes` bytes); when it drops under two thirds of
 *   the best the size halves, and a 429 halves it too. This is the "start near 100 and double
 *   until throughput stops rising" rule, applied continuously.
 * - Concurrency with backpressure: at most `concurrency` requests are in flight. The next batch is
 *   read and serialized while they are (so the engine is not idle while Node builds a request),
 *   then waits for a free slot: a fast database reader never runs ahead of the engine by more
 *   than that one batch.
 * - Retries: a whole-request 429, a 502-504 or a transport error (connection refused/reset,
 *   timeout) retries the batch; per-item 429s retry only those items. Waits are exponential with
 *   full jitter (`random(0, min(maxRetryDelay, retryDelay * 2^attempt))`). When retries run out
 *   the documents are reported as failures; other item errors (mapping conflicts...) are reported
 *   at once. Every document ends either indexed or in `failures` with the engine's reason,
 *   except when the engine refuses the credentials (401/403): the load stops with that one
 *   `E_SEARCH_AUTH` error (the documents not indexed are those after the last checkpoint).
 * - Checkpoints: batches complete out of order, so the checkpoint saved is the last document of
 *   the longest contiguous prefix of completed batches. Resuming from it re-sends at most the
 *   batches that were in flight, which index idempotently (same `_id`).
 * - Fast ingest: `refresh_interval: -1` and zero replicas during the load, the previous values
 *   restored (and the index refreshed) afterwards, also when the load fails.
 */
import type { Client, estypes } from '@elastic/elasticsearch'
import { engineError } from '../engine/engine-error.js'
import { type BulkFailure, BulkIndexError } from '../errors.js'
import { type BulkOptions, type BulkProgress, resolveBulkOptions } from './bulk-options.js'

/** Final report of a bulk load. */
export interface BulkReport<C = unknown> extends BulkProgress {
  /** Every rejected document with its reason. */
  failures: BulkFailure[]
  /** Bytes of NDJSON sent (retries included). */
  bytes: number
  /** Last checkpoint saved (undefined when none was configured or nothing completed). */
  checkpoint: C | undefined
}

interface Item {
  id: string
  lines: string
}

interface BulkItemResult {
  status?: number
  _id?: string | null
  error?: { type?: string; reason?: string | null }
}

const RETRY_STATUS = new Set([429, 502, 503, 504])

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms))
}

/**
 * Index every document of `source` into `options.index`. Returns a report with every rejected
 * document; with `throwOnFailure` throws a {@link BulkIndexError} instead when any was rejected.
 */
export async function bulkIndex<D, C = unknown>(
  client: Client,
  source: AsyncIterable<D> | Iterable<D>,
  options: BulkOptions<D, C>,
): Promise<BulkReport<C>> {
  const o = resolveBulkOptions(options)
  const started = performance.now()
  const failures: BulkFailure[] = []
  const state = { read: 0, indexed: 0, skipped: 0, retries: 0, requests: 0, bytes: 0 }
  let batchSize = o.batchSize
  let bestRate = 0
  let checkpoint: C | undefined

  const progress = (): BulkProgress => {
    const elapsedMs = performance.now() - started
    return {
      read: state.read,
      indexed: state.indexed,
      failed: failures.length,
      skipped: state.skipped,
      retries: state.retries,
      requests: state.requests,
      batchSize,
      elapsedMs,
      docsPerSec: elapsedMs > 0 ? (state.indexed * 1_000) / elapsedMs : 0,
    }
  }

  const backoff = (attempt: number) =>
    sleep(Math.random() * Math.min(o.maxRetryDelayMs, o.retryDelayMs * 2 ** attempt))

  /** Send items until each is indexed or failed; returns when done. */
  const send = async (items: Item[]): Promise<void> => {
    let pending = items
    for (let attempt = 0; pending.length > 0; attempt++) {
      const body = pending.map((item) => item.lines).join('')
      state.bytes += Buffer.byteLength(body)
      const t0 = performance.now()
      let response: { errors?: boolean; items?: Array<Record<string, BulkItemResult>> }
      try {
        response = (await client.transport.request(
          {
            method: 'POST',
            path: '/_bulk',
            bulkBody: body,
            querystring: { filter_path: 'errors,items.*.status,items.*._id,items.*.error' },
          },
          { maxRetries: 0 },
        )) as typeof response
      } catch (error) {
        const wrapped = engineError(error, options.index)
        // Refused credentials are no document's fault and every later batch would meet them:
        // stop the load with that one error instead of reporting each document as failed.
        if (wrapped.code === 'E_SEARCH_AUTH') throw wrapped
        if (wrapped.status === 429) batchSize = Math.max(1, Math.floor(batchSize / 2))
        if (wrapped.retriable && attempt < o.retries) {
          state.retries++
          await backoff(attempt)
          continue
        }
        for (const item of pending) {
          failures.push({
            id: item.id,
            status: wrapped.status ?? 0,
            type: wrapped.retriable ? 'retries_exhausted' : 'request_failed',
            reason: wrapped.message,
          })
        }
        return
      }
      state.requests++
      const results = response.items ?? []
      const retry: Item[] = []
      let accepted = 0
      pending.forEach((item, i) => {
        const result = results[i] ? Object.values(results[i] as Record<string, BulkItemResult>)[0] : undefined
        const status = result?.status ?? 0
        if (result && status < 300 && !result.error) {
          accepted++
        } else if (RETRY_STATUS.has(status) && attempt < o.retries) {
          retry.push(item)
        } else if (status === 409 && (options.versionOf || o.action === 'create')) {
          // The engine already holds a newer version (external versioning) or the id (create):
          // by request, not a failure.
          state.skipped++
        } else {
          failures.push({
            id: item.id,
            status,
            type: result?.error?.type ?? (result ? 'unknown' : 'missing_item'),
            reason:
              result?.error?.reason ??
              (result ? `status ${status}` : 'the engine returned no result for this item'),
          })
        }
      })
      state.indexed += accepted
      const seconds = (performance.now() - t0) / 1_000
      const rate = seconds > 0 ? pending.length / seconds : 0
      if (retry.length > 0) {
        batchSize = Math.max(1, Math.floor(batchSize / 2))
        state.retries += retry.length
        await backoff(attempt)
      } else if (pending.length >= batchSize / 2) {
        // Only full-ish batches say something about the size. Keep doubling while throughput does
        // not clearly fall (noise on a loaded machine is +-10 %); back off when it drops by a third.
        if (rate >= bestRate * 0.9) {
          bestRate = Math.max(bestRate, rate)
          batchSize = Math.min(o.maxBatchSize, batchSize * 2)
        } else if (rate < bestRate * 0.66) {
          batchSize = Math.max(o.batchSize, Math.floor(batchSize / 2))
          bestRate = rate
        }
      }
      pending = retry
    }
  }

  const fastIngest = o.fastIngest ? await enterFastIngest(client, options.index) : undefined
  try {
    const inFlight = new Set<Promise<void>>()
    let firstError: unknown
    // Checkpoint bookkeeping: batches complete out of order; save only the contiguous prefix.
    let nextSeq = 0
    let savedSeq = -1
    const done = new Map<number, C | undefined>()
    let saving: Promise<void> = Promise.resolve()
    const complete = (seq: number, position: C | undefined) => {
      done.set(seq, position)
      let advanced = false
      let latest: C | undefined
      while (done.has(savedSeq + 1)) {
        savedSeq++
        latest = done.get(savedSeq)
        done.delete(savedSeq)
        advanced = true
      }
      if (advanced && latest !== undefined && options.saveCheckpoint) {
        const value = latest
        const save = options.saveCheckpoint
        saving = saving.then(async () => {
          await save(value)
          checkpoint = value
        })
      } else if (advanced && latest !== undefined) checkpoint = latest
    }
    const launch = (batch: Item[], position: C | undefined) => {
      const seq = nextSeq++
      const task = send(batch)
        .then(() => {
          complete(seq, position)
          options.onProgress?.(progress())
        })
        .catch((error: unknown) => {
          firstError ??= error
        })
        .finally(() => inFlight.delete(task))
      inFlight.add(task)
    }

    let batch: Item[] = []
    let batchBytes = 0
    let lastDoc: D | undefined
    const flush = async () => {
      if (batch.length === 0) return
      const position =
        lastDoc !== undefined && options.checkpointOf ? options.checkpointOf(lastDoc) : undefined
      const ready = batch
      batch = []
      batchBytes = 0
      // Backpressure: the next batch is built while `concurrency` requests are in flight, then
      // waits for a free slot; the source runs ahead of the engine by that one batch, no more.
      while (inFlight.size >= o.concurrency) await Promise.race(inFlight)
      launch(ready, position)
    }

    try {
      for await (const doc of source as AsyncIterable<D>) {
        if (firstError) break
        state.read++
        let id: string
        let lines: string
        try {
          id = options.idOf(doc)
          const meta: Record<string, unknown> = { _index: options.index, _id: id }
          if (options.versionOf) {
            meta.version = options.versionOf(doc)
            meta.version_type = 'external'
          }
          lines = `${JSON.stringify({ [o.action]: meta })}\n${JSON.stringify(doc)}\n`
        } catch (error) {
          failures.push({
            id: String((doc as { id?: unknown })?.id ?? `#${state.read}`),
            status: 0,
            type: 'serialization_failed',
            reason: error instanceof Error ? error.message : String(error),
          })
          continue
        }
        const size = Buffer.byteLength(lines)
        if (batch.length > 0 && (batch.length >= batchSize || batchBytes + size > o.maxBatchBytes))
          await flush()
        batch.push({ id, lines })
        batchBytes += size
        lastDoc = doc
      }
      await flush()
    } finally {
      // Also when the source throws: let in-flight batches finish so the checkpoint is exact.
      await Promise.allSettled(inFlight)
      await saving
    }
    if (firstError) throw firstError
    if (o.refresh && !fastIngest) await client.indices.refresh({ index: options.index })
  } finally {
    if (fastIngest) await fastIngest.restore()
  }
  const report: BulkReport<C> = { ...progress(), failures, bytes: state.bytes, checkpoint }
  if (o.throwOnFailure && failures.length > 0) throw new BulkIndexError(failures, { index: options.index })
  return report
}

interface FastIngest {
  restore(): Promise<void>
}

async function enterFastIngest(client: Client, index: string): Promise<FastIngest> {
  const current = await client.indices.getSettings({ index, flat_settings: true })
  // The target may be an alias: apply to every concrete index behind it.
  const previous = Object.entries(current).map(([name, value]) => {
    const settings = (value.settings ?? {}) as Record<string, unknown>
    return {
      name,
      refresh: (settings['index.refresh_interval'] as string | undefined) ?? null,
      replicas: (settings['index.number_of_replicas'] as string | undefined) ?? null,
    }
  })
  await client.indices.putSettings({
    index,
    settings: { index: { refresh_interval: '-1', number_of_replicas: 0 } },
  })
  return {
    async restore() {
      for (const entry of previous) {
        // `null` resets a setting to the engine default, which estypes does not model.
        const settings = { index: { refresh_interval: entry.refresh, number_of_replicas: entry.replicas } }
        await client.indices.putSettings({
          index: entry.name,
          settings: settings as estypes.IndicesIndexSettings,
        })
      }
      await client.indices.refresh({ index })
    },
  }
}
