/**
 * Aggregation checks: each aggregation has exactly one supported kind, and a field-based one
 * names a declared field of a term kind (doc values); sub-aggregations are checked the same way.
 * The result types follow the request (`AggResults` in `types.ts`); the body is sent as given.
 */
import { SearchError } from '../errors.js'
import type { IndexDefinition } from '../schema/definition-types.js'
import { TERM_KINDS } from '../schema/field-kinds.js'
import type { FieldMap } from '../schema/fields.js'
import type { AggMap } from './types.js'

const AGG_KINDS = new Set([
  'terms',
  'date_histogram',
  'histogram',
  'range',
  'filter',
  'sum',
  'avg',
  'min',
  'max',
  'value_count',
  'cardinality',
  'stats',
])

/** Check `aggs` against the definition. @throws SearchError `E_SEARCH_INVALID_VALUE` / `E_SEARCH_FIELD_KIND` / `E_SEARCH_UNKNOWN_FIELD` */
export function checkAggs<F extends FieldMap>(definition: IndexDefinition<F>, aggs: AggMap<F>): void {
  for (const [name, agg] of Object.entries(aggs)) {
    const kinds = Object.keys(agg).filter((key) => key !== 'aggs')
    const kind = kinds[0]
    if (kinds.length !== 1 || kind === undefined || !AGG_KINDS.has(kind)) {
      throw new SearchError(
        'E_SEARCH_INVALID_VALUE',
        `Aggregation "${name}" must have exactly one supported kind`,
        {
          index: definition.name,
        },
      )
    }
    const inner = (agg as Record<string, { field?: unknown }>)[kind]
    if (kind !== 'filter' && inner && typeof inner.field === 'string') {
      const def = definition.fieldDef(inner.field)
      if (!TERM_KINDS.has(def.kind)) {
        throw new SearchError(
          'E_SEARCH_FIELD_KIND',
          `Aggregation "${name}" cannot use field "${inner.field}" of kind ${def.kind}`,
          {
            index: definition.name,
            field: inner.field,
          },
        )
      }
    }
    if ('aggs' in agg && agg.aggs) checkAggs(definition, agg.aggs)
  }
}
