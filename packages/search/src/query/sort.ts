/**
 * Sorting: every sort field must be declared and of a term kind (keyword, identifier, numeric,
 * date, boolean: doc values), or be `_score`. With `tiebreak` (PIT paging) the id field ends the
 * sort unless it is already in it: `search_after` needs a total order to never skip or repeat a
 * document. {@link afterFitsSort} checks a cursor's `search_after` values against the sort before
 * they reach the engine.
 */
import type { estypes } from '@elastic/elasticsearch'
import { SearchError } from '../errors.js'
import type { IndexDefinition } from '../schema/definition-types.js'
import { TERM_KINDS } from '../schema/field-kinds.js'
import type { FieldMap } from '../schema/fields.js'
import type { SortSpec } from './types.js'

/** The engine's sort clause of `sort`, with the id tiebreak when asked for. */
export function sortClause<F extends FieldMap>(
  definition: IndexDefinition<F>,
  sort: readonly SortSpec<F>[] | undefined,
  tiebreak: boolean,
): estypes.SortCombinations[] | undefined {
  if (!sort && !tiebreak) return undefined
  const out: estypes.SortCombinations[] = []
  let hasId = false
  for (const spec of sort ?? []) {
    const entry = typeof spec === 'string' ? { field: spec } : spec
    const name = entry.field as string
    if (name !== '_score') {
      const def = definition.fieldDef(name)
      if (!TERM_KINDS.has(def.kind)) {
        throw new SearchError('E_SEARCH_FIELD_KIND', `Cannot sort on field "${name}" of kind ${def.kind}`, {
          index: definition.name,
          field: name,
        })
      }
    }
    if (name === definition.id) hasId = true
    const order = entry.order ?? (name === '_score' ? 'desc' : 'asc')
    if (entry.order !== undefined && order !== 'asc' && order !== 'desc') {
      throw new SearchError('E_SEARCH_INVALID_VALUE', `Sort order must be 'asc' or 'desc'`, { field: name })
    }
    out.push({
      [name]: { order, ...('missing' in entry && entry.missing ? { missing: entry.missing } : {}) },
    })
  }
  // A unique tiebreaker makes the order total, which search_after needs to never skip or repeat.
  if (!hasId) out.push({ [definition.id]: { order: 'asc' } })
  return out
}

const NUMERIC_SORT_KINDS: ReadonlySet<string> = new Set(['integer', 'long', 'double', 'scaled_float', 'date'])

/**
 * Whether cursor `after` values can be the `search_after` of `sort`: one value per clause (plus
 * Elasticsearch's implicit `_shard_doc` of a PIT search, a number), numbers for numeric, date
 * and score sorts, a string or null (a missing value) for keywords, a number or boolean for
 * booleans. What the engine itself returned always fits.
 */
export function afterFitsSort<F extends FieldMap>(
  definition: IndexDefinition<F>,
  sort: readonly estypes.SortCombinations[],
  after: readonly unknown[],
): boolean {
  if (after.length !== sort.length && after.length !== sort.length + 1) return false
  const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v)
  for (let i = 0; i < after.length; i++) {
    const value = after[i]
    const clause = sort[i]
    if (clause === undefined) return isNumber(value)
    const name = typeof clause === 'string' ? clause : (Object.keys(clause)[0] as string)
    const kind = name === '_score' ? 'double' : definition.fieldDef(name).kind
    if (NUMERIC_SORT_KINDS.has(kind)) {
      if (!isNumber(value)) return false
    } else if (kind === 'boolean') {
      if (!isNumber(value) && typeof value !== 'boolean') return false
    } else if (typeof value !== 'string' && value !== null) return false
  }
  return true
}
