/**
 * Options of `reconcile()` and `createReconciler()`: one `DEFAULT_RECONCILE_OPTIONS`, resolved
 * once (unknown keys refused by name, the key and version fields checked against the
 * definition) into a frozen object every part of a run reads.
 */
import type { SearchClient } from '../engine/search-client.js'
import { SearchError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import type { DocOf } from '../query/types.js'
import type { IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'
import type { ReconcileKey, ReconcileSource } from './types.js'

/** Options of {@link reconcile} and {@link createReconciler}. */
export interface ReconcileOptions<F extends FieldMap> {
  /** The search client. */
  search: SearchClient
  /** The index definition (its name is the index or read alias compared). */
  definition: IndexDefinition<F>
  /** The database side. */
  source: ReconcileSource<DocOf<F>, ReconcileKey>
  /** Index or alias to compare. @default definition.name */
  index?: string | undefined
  /** Index or alias repairs are written to (a versioned index's write alias). @default index */
  writeIndex?: string | undefined
  /**
   * Field holding the key the ranges are cut on: an `integer`/`long` field, or a `keyword` field
   * without normalizer (compared in byte order). It must be the same value as the source's key.
   * @default definition.id
   */
  key?: (keyof F & string) | undefined
  /**
   * A numeric field of the document holding the row's version (the same number as the external
   * version). Without it the version digest uses `_version` on Elasticsearch; on OpenSearch,
   * which cannot aggregate `_version`, every range is compared key by key (a full id scan).
   */
  versionField?: (keyof F & string) | undefined
  /** Sub-ranges per differing range. @default 16 */
  fanout?: number | undefined
  /** Largest range compared key by key instead of split further (rows). @default 2000 */
  leafSize?: number | undefined
  /** Report only: find the differences, repair nothing. @default false */
  dryRun?: boolean | undefined
  /** Refresh the index before comparing (so recent writes are seen). @default true */
  refresh?: boolean | undefined
  /** Documents loaded from the source per call during repair. @default 500 */
  loadBatchSize?: number | undefined
}

/** Defaults of {@link ReconcileOptions}. */
export const DEFAULT_RECONCILE_OPTIONS = Object.freeze({
  fanout: 16,
  leafSize: 2_000,
  dryRun: false,
  refresh: true,
  loadBatchSize: 500,
})

function positiveInt(name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min)
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `${name} must be an integer >= ${min}, got ${String(value)}`,
    )
  return value
}

/** Options of one run, resolved. */
export interface ResolvedReconcileOptions<F extends FieldMap> {
  search: SearchClient
  definition: IndexDefinition<F>
  source: ReconcileSource<DocOf<F>, ReconcileKey>
  index: string
  writeIndex: string
  key: string
  numeric: boolean
  versionField: string | undefined
  fanout: number
  leafSize: number
  dryRun: boolean
  refresh: boolean
  loadBatchSize: number
}

/** Every key of {@link ReconcileOptions}. */
const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'search',
  'definition',
  'source',
  'index',
  'writeIndex',
  'key',
  'versionField',
  'fanout',
  'leafSize',
  'dryRun',
  'refresh',
  'loadBatchSize',
])

/** Every key of `ReconcilerOptions`: a reconcile's and the schedule's. */
const KNOWN_RECONCILER_OPTIONS: ReadonlySet<string> = new Set([...KNOWN_OPTIONS, 'interval', 'onMissing'])

/**
 * Validate once; `factory` names the caller: `reconcile` takes {@link ReconcileOptions} only,
 * `createReconciler` the schedule's `interval` and `onMissing` too (read by the reconciler).
 * @throws SearchError `E_SEARCH_INVALID_OPTION`
 */
export function resolveReconcileOptions<F extends FieldMap>(
  options: ReconcileOptions<F>,
  factory: 'reconcile' | 'createReconciler' = 'reconcile',
): Readonly<ResolvedReconcileOptions<F>> {
  checkOptionKeys(options, factory === 'reconcile' ? KNOWN_OPTIONS : KNOWN_RECONCILER_OPTIONS, factory)
  const { search, definition, source } = options
  if (typeof search?.raw !== 'function')
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'search must be a SearchClient')
  if (typeof definition?.fieldDef !== 'function')
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'definition must be a defineIndex() definition')
  for (const method of ['digest', 'bounds', 'versions', 'load'] as const) {
    if (typeof source?.[method] !== 'function')
      throw new SearchError('E_SEARCH_INVALID_OPTION', `source.${method} must be a function`)
  }
  const key = options.key ?? definition.id
  const keyDef = definition.fieldDef(key)
  const numeric = keyDef.kind === 'integer' || keyDef.kind === 'long'
  const plainKeyword =
    (keyDef.kind === 'keyword' && keyDef.normalizer === 'none') || keyDef.kind === 'identifier'
  if (!numeric && !plainKeyword) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `key field "${key}" must be integer, long or a keyword without normalizer (it is ${keyDef.kind})`,
      { index: definition.name, field: key },
    )
  }
  const versionField = options.versionField
  if (versionField !== undefined) {
    const kind = definition.fieldDef(versionField).kind
    if (kind !== 'integer' && kind !== 'long')
      throw new SearchError(
        'E_SEARCH_INVALID_OPTION',
        `versionField "${versionField}" must be integer or long`,
        {
          index: definition.name,
          field: versionField,
        },
      )
  }
  const d = DEFAULT_RECONCILE_OPTIONS
  const index = options.index ?? definition.name
  return Object.freeze({
    search,
    definition,
    source,
    index,
    writeIndex: options.writeIndex ?? index,
    key,
    numeric,
    versionField,
    fanout: positiveInt('fanout', options.fanout ?? d.fanout, 2),
    leafSize: positiveInt('leafSize', options.leafSize ?? d.leafSize),
    dryRun: options.dryRun ?? d.dryRun,
    refresh: options.refresh ?? d.refresh,
    loadBatchSize: positiveInt('loadBatchSize', options.loadBatchSize ?? d.loadBatchSize),
  })
}
