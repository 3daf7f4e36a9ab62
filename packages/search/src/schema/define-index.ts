/**
 * `defineIndex` turns one declaration into everything an index needs: the settings and analysis,
 * the strict mapping, the document type (`DocumentOf<typeof def>`) and field-kind-aware query
 * helpers. The helpers are checked twice: at compile time (only text fields accept full-text
 * queries, only keyword/numeric/date/boolean fields accept term and range) and at run time
 * (unknown field, wrong kind, wrong value type and over-long text throw a typed SearchError),
 * because field names often arrive from URLs and values from forms. The types are
 * `definition-types.ts`, the helpers `query-helpers.ts`, the kind rules `field-kinds.ts`, the
 * analysis and mapping of each field kind `analysis.ts`.
 */
import type { estypes } from '@elastic/elasticsearch'
import { SearchError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import { DEFAULT_MAX_QUERY_LENGTH } from '../query-text.js'
import { analysisFor, DEFAULT_PROTECTED_WORDS, propertyFor } from './analysis.js'
import type { DocumentOfFields, IndexDeclaration, IndexDefinition } from './definition-types.js'
import { TERM_KINDS } from './field-kinds.js'
import type { FieldDef, FieldMap } from './fields.js'
import { createQueryHelpers } from './query-helpers.js'

/** Every key of {@link IndexDeclaration}. */
const KNOWN_DECLARATION_KEYS: ReadonlySet<string> = new Set([
  'name',
  'fields',
  'id',
  'settings',
  'protectedWords',
  'maxQueryLength',
])

/**
 * Declare an index: fields, id field and settings. Returns the mapping, settings, document type
 * and typed query helpers.
 *
 * @throws SearchError `E_SEARCH_INVALID_OPTION` for an unknown key, when the name is empty or the
 *   id field is not a term field
 */
export function defineIndex<const F extends FieldMap>(declaration: IndexDeclaration<F>): IndexDefinition<F> {
  checkOptionKeys(declaration, KNOWN_DECLARATION_KEYS, 'defineIndex')
  const { name, fields } = declaration
  if (typeof name !== 'string' || name.length === 0 || name !== name.toLowerCase()) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `Index name must be a non-empty lowercase string, got "${name}"`,
    )
  }
  const idDef = fields[declaration.id]
  if (!idDef || !TERM_KINDS.has(idDef.kind)) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `id must name a keyword, identifier or numeric field of "${name}", got "${String(declaration.id)}"`,
      { index: name, field: String(declaration.id) },
    )
  }
  const maxQueryLength = declaration.maxQueryLength ?? DEFAULT_MAX_QUERY_LENGTH
  if (!Number.isInteger(maxQueryLength) || maxQueryLength < 1) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `maxQueryLength must be a positive integer, got ${maxQueryLength}`,
    )
  }
  const analysis = analysisFor(fields, declaration.protectedWords ?? DEFAULT_PROTECTED_WORDS)
  const settings: estypes.IndicesIndexSettings = {
    number_of_shards: 1,
    ...(Object.keys(analysis).length > 0 ? { analysis } : {}),
    ...declaration.settings,
  }
  const properties: Record<string, estypes.MappingProperty> = {}
  for (const [fieldName, def] of Object.entries(fields)) properties[fieldName] = propertyFor(def)
  const mappings: estypes.MappingTypeMapping = { dynamic: 'strict', properties }

  const fieldDef = (fieldName: string): FieldDef => {
    const def = Object.hasOwn(fields, fieldName) ? fields[fieldName] : undefined
    if (!def) {
      throw new SearchError(
        'E_SEARCH_UNKNOWN_FIELD',
        `Unknown field "${fieldName}" in index "${name}" (declared: ${Object.keys(fields).join(', ')})`,
        { index: name, field: fieldName },
      )
    }
    return def
  }
  const q = createQueryHelpers<F>(name, maxQueryLength, fieldDef)

  const idField = declaration.id as string
  const build = (indexName: string): IndexDefinition<F> =>
    Object.freeze({
      name: indexName,
      fields,
      id: declaration.id,
      settings,
      mappings,
      maxQueryLength,
      q,
      idOf(doc: DocumentOfFields<F>) {
        const value = (doc as Record<string, unknown>)[idField]
        if (value === undefined || value === null || value === '') {
          throw new SearchError('E_SEARCH_INVALID_VALUE', `Document has no id field "${idField}"`, {
            index: indexName,
            field: idField,
          })
        }
        return String(value)
      },
      fieldDef,
      withName: build,
    })
  return build(name)
}
