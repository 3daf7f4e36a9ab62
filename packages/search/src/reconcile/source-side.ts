/**
 * The database side of a reconcile, as the run sees it: the user's {@link ReconcileSource} with
 * every call counted for the report, its answers normalized (numbers, not strings or bigints)
 * and its failures typed `E_SEARCH_RECONCILE` (retriable), key listings paged to the end.
 */
import { SearchError } from '../errors.js'
import type { KeyRange, KeyVersion, ReconcileKey, ReconcileSource } from './types.js'

/** Keep-count wrapper around the source. */
export class SourceSide {
  requests = 0
  constructor(private readonly source: ReconcileSource<unknown, ReconcileKey>) {}

  async #call<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.requests++
    try {
      return await run()
    } catch (error) {
      if (error instanceof SearchError) throw error
      throw new SearchError('E_SEARCH_RECONCILE', `Reconcile source ${what} failed: ${String(error)}`, {
        cause: error,
        retriable: true,
      })
    }
  }

  digest(ranges: readonly KeyRange[]) {
    return this.#call('digest', async () => {
      const digests = await this.source.digest(ranges)
      if (!Array.isArray(digests) || digests.length !== ranges.length)
        throw new SearchError(
          'E_SEARCH_RECONCILE',
          `source.digest returned ${digests?.length} digests for ${ranges.length} ranges`,
        )
      return digests.map((d) => ({
        count: Number(d.count),
        versionSum: Number(d.versionSum ?? 0),
        ...(d.keySum === undefined || d.keySum === null ? {} : { keySum: Number(d.keySum) }),
      }))
    })
  }

  bounds() {
    return this.#call('bounds', () => this.source.bounds())
  }

  async list(range: KeyRange, pageSize: number): Promise<KeyVersion[]> {
    const out: KeyVersion[] = []
    let after: ReconcileKey | undefined
    for (;;) {
      const page = await this.#call('versions', () => this.source.versions(range, after, pageSize))
      for (const row of page) out.push({ key: row.key, version: Number(row.version) })
      if (page.length < pageSize) return out
      after = page.at(-1)?.key
    }
  }

  load(keys: readonly ReconcileKey[]) {
    return this.#call('load', () => this.source.load(keys))
  }
}
