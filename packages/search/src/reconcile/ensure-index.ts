/**
 * Start-up check of an index: it exists, it is created from its definition if not, and an index
 * that is missing or empty while the table has rows (a new or restored cluster) is backfilled, or
 * reported, instead of serving 0 hits with green health.
 *
 * The index template: a bulk write to a missing index creates it with dynamic mappings (no
 * analysis, no strict mapping), and a later "exists" check would be satisfied by that wrong
 * index. `ensureIndex` therefore also installs a composable index template whose only pattern is
 * the index name, carrying the definition's settings and mappings: whichever write recreates the
 * index (the outbox worker applying events after the index was deleted, a repair), it is created
 * from the definition.
 */

import { indexCreationError } from '../engine/analysis-missing.js'
import { engineError } from '../engine/engine-error.js'
import type { SearchClient } from '../engine/search-client.js'
import { SearchError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import type { DocOf } from '../query/types.js'
import type { IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'
import { ensureIndexExists } from './index-exists.js'
import type { ReconcileOptions } from './options.js'
import { reconcile } from './reconcile.js'
import type { ReconcileKey, ReconcileReport, ReconcileSource } from './types.js'

/** Options of {@link ensureIndex}. */
export interface EnsureIndexOptions<F extends FieldMap> {
  /** Physical index or alias name. @default definition.name */
  index?: string | undefined
  /**
   * Install an index template (pattern: exactly the index name, priority 500) so that a write
   * reaching a missing index recreates it from the definition. @default true
   */
  template?: boolean | undefined
  /** The database side: with it, a missing or empty index is compared with the table. */
  source?: ReconcileSource<DocOf<F>, ReconcileKey> | undefined
  /** A missing or empty index while the table has rows: `backfill` it, or `report` it only. @default 'backfill' */
  onEmpty?: 'backfill' | 'report' | undefined
  /** Options of the backfill's reconcile (key, versionField, writeIndex, ...). */
  reconcile?: Omit<ReconcileOptions<F>, 'search' | 'definition' | 'source' | 'index' | 'dryRun'> | undefined
}

/** What {@link ensureIndex} found and did. */
export interface EnsureIndexResult {
  /** The index. */
  index: string
  /** Whether it was created now. */
  created: boolean
  /** The template installed, when any. */
  template: string | undefined
  /**
   * `ok`: it has documents, or the table is empty (or no source); `backfilled`: it was missing or
   * empty and every row was indexed; `empty`: it is missing or empty while the table has rows
   * (`onEmpty: 'report'`).
   */
  state: 'ok' | 'backfilled' | 'empty'
  /** Rows in the table (when a source was given). */
  rows: number | undefined
  /** Documents in the index before any backfill. */
  documents: number
  /** The backfill's report. */
  report: ReconcileReport | undefined
}

const KNOWN_ENSURE_OPTIONS: ReadonlySet<string> = new Set([
  'index',
  'template',
  'source',
  'onEmpty',
  'reconcile',
])

/** Name of the index template {@link ensureIndex} installs for `index`. */
export function indexTemplateName(index: string): string {
  return `ayala-search-${index}`
}

/**
 * Make sure `definition`'s index exists (created from the definition, with a template that
 * recreates it the same way) and, given a `source`, is not missing or empty while the table has
 * rows: then it is backfilled (default) or reported.
 *
 * @example
 * const result = await ensureIndex(search, invoices, { source })
 * // { created: true, state: 'backfilled', rows: 20000, documents: 0, ... }
 */
export async function ensureIndex<F extends FieldMap>(
  search: SearchClient,
  definition: IndexDefinition<F>,
  options: EnsureIndexOptions<F> = {},
): Promise<EnsureIndexResult> {
  checkOptionKeys(options, KNOWN_ENSURE_OPTIONS, 'ensureIndex')
  const index = options.index ?? definition.name
  const onEmpty = options.onEmpty ?? 'backfill'
  if (onEmpty !== 'backfill' && onEmpty !== 'report')
    throw new SearchError('E_SEARCH_INVALID_OPTION', `onEmpty must be 'backfill' or 'report'`)
  const client = await search.raw()
  let template: string | undefined
  if (options.template ?? true) {
    template = indexTemplateName(index)
    try {
      await client.indices.putIndexTemplate({
        name: template,
        index_patterns: [index],
        priority: 500,
        template: { settings: definition.settings, mappings: definition.mappings },
      })
    } catch (error) {
      // The engine checks the template's analysis as it would the index's.
      throw indexCreationError(error, index, definition.fields, await search.engine())
    }
  }
  const created = await ensureIndexExists(search, definition, index)
  let documents = 0
  if (!created) {
    try {
      documents = (await client.count({ index })).count
    } catch (error) {
      throw engineError(error, index)
    }
  }
  const result: EnsureIndexResult = {
    index,
    created,
    template,
    state: 'ok',
    rows: undefined,
    documents,
    report: undefined,
  }
  if (options.source === undefined || documents > 0) return result
  const [top] = await options.source.digest([{}])
  result.rows = Number(top?.count ?? 0)
  if (result.rows === 0) return result
  if (onEmpty === 'report') {
    result.state = 'empty'
    return result
  }
  result.report = await reconcile({
    ...options.reconcile,
    search,
    definition,
    source: options.source,
    index,
  })
  result.state = 'backfilled'
  return result
}
