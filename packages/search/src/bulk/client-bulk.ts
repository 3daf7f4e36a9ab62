/**
 * `search.bulk()`: the bulk indexer (`bulk-indexer.ts`) over the client's connection, into the
 * definition's index (or `options.index`) with ids from the definition's id field, and the
 * client's cumulative figures (`bulkStats()`) counted, also for a load that failed part-way.
 */
import type { ClientState } from '../engine/client-state.js'
import { connect } from '../engine/connection.js'
import { engineError } from '../engine/engine-error.js'
import type { DocOf } from '../query/types.js'
import type { IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'
import { type BulkReport, bulkIndex } from './bulk-indexer.js'
import type { BulkOptions } from './bulk-options.js'

/** Bulk-index `source` for `definition` and count the load into the client's figures. */
export async function bulkInto<F extends FieldMap, C>(
  state: ClientState,
  definition: IndexDefinition<F>,
  source: AsyncIterable<DocOf<F>> | Iterable<DocOf<F>>,
  options: Partial<BulkOptions<DocOf<F>, C>>,
): Promise<BulkReport<C>> {
  const { client } = await connect(state)
  const index = options.index ?? definition.name
  let report: BulkReport<C> | undefined
  try {
    report = await bulkIndex(client, source, { ...options, index, idOf: options.idOf ?? definition.idOf })
    return report
  } catch (error) {
    throw engineError(error, index)
  } finally {
    const bulk = state.bulk
    bulk.loads++
    if (report) {
      bulk.indexed += report.indexed
      bulk.failed += report.failed
      bulk.retries += report.retries
      bulk.requests += report.requests
      bulk.bytes += report.bytes
    }
  }
}
