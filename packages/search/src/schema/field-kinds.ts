/**
 * Which field kinds accept what, at run time (the compile-time side is `definition-types.ts`):
 * exact values (term, terms, ids, sort, aggregations), ranges, numbers; and the check that a
 * value fits its field's kind, because field values often arrive from forms.
 */
import { SearchError } from '../errors.js'
import type { FieldDef, FieldKind } from './fields.js'

/** Numeric field kinds. */
const NUMERIC = new Set<FieldKind>(['integer', 'long', 'double', 'scaled_float'])
/** Field kinds with exact values: term/terms queries, document ids and sorting accept only these. */
export const TERM_KINDS: ReadonlySet<FieldKind> = new Set<FieldKind>([
  'keyword',
  'identifier',
  'integer',
  'long',
  'double',
  'scaled_float',
  'date',
  'boolean',
])
/** Field kinds that accept a range. */
export const RANGE_KINDS: ReadonlySet<FieldKind> = new Set<FieldKind>([
  'keyword',
  'identifier',
  'integer',
  'long',
  'double',
  'scaled_float',
  'date',
])

/** Runtime check that `value` fits a field of kind `def.kind`. */
export function checkValue(index: string, name: string, def: FieldDef, value: unknown): void {
  let ok: boolean
  if (NUMERIC.has(def.kind)) ok = typeof value === 'number' && Number.isFinite(value)
  else if (def.kind === 'boolean') ok = typeof value === 'boolean'
  else if (def.kind === 'date')
    ok =
      (typeof value === 'string' && value.length > 0) || (typeof value === 'number' && Number.isFinite(value))
  else ok = typeof value === 'string'
  if (!ok) {
    throw new SearchError(
      'E_SEARCH_INVALID_VALUE',
      `Field "${name}" of index "${index}" is ${def.kind}; got ${typeof value === 'string' ? `the string "${value}"` : String(value)} (${typeof value})`,
      { index, field: name },
    )
  }
}
