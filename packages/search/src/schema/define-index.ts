/**
 * `defineIndex` turns one declaration into everything an index needs: the settings and analysis,
 * the strict mapping, the document type (`DocumentOf<typeof def>`) and field-kind-aware query
 * helpers. The helpers are checked twice: at compile time (only text fields accept full-text
 * queries, only keyword/numeric/date/boolean fields accept term and range) and at run time
 * (unknown field, wrong kind, wrong value type and over-long text throw a typed SearchError),
 * because field names often arrive from URLs and values from forms.
 */
import type { estypes } from '@elastic/elasticsearch'
import { SearchError } from '../errors.js'
import {
  DEFAULT_MAX_QUERY_LENGTH,
  parseSimpleQuery,
  type QuerySyntax,
  type SimpleQueryTerm,
} from '../query-text.js'
import { analysisFor, DEFAULT_PROTECTED_WORDS, propertyFor } from './analysis.js'
import type { AutocompleteFieldDef, FieldDef, FieldKind, FieldMap, ValueOf } from './fields.js'

/** An engine query, exactly the official client's type. */
export type Query = estypes.QueryDslQueryContainer

type KeysWhere<F extends FieldMap, K extends FieldKind> = {
  [P in keyof F]: F[P]['kind'] extends K ? P : never
}[keyof F] &
  string

/** Names of full-text (`text`) fields. */
export type TextFields<F extends FieldMap> = KeysWhere<F, 'text'>
/** Names of fields that accept `term`/`terms`: keyword, identifier, numeric, date, boolean. */
export type TermFields<F extends FieldMap> = KeysWhere<
  F,
  'keyword' | 'identifier' | 'integer' | 'long' | 'double' | 'scaled_float' | 'date' | 'boolean'
>
/** Names of fields that accept `range`: keyword, identifier, numeric, date. */
export type RangeFields<F extends FieldMap> = KeysWhere<
  F,
  'keyword' | 'identifier' | 'integer' | 'long' | 'double' | 'scaled_float' | 'date'
>
/** Names of numeric fields (metric aggregations). */
export type NumericFields<F extends FieldMap> = KeysWhere<F, 'integer' | 'long' | 'double' | 'scaled_float'>
/** Names of date fields. */
export type DateFields<F extends FieldMap> = KeysWhere<F, 'date'>
/** Names of sortable / aggregatable fields (doc values). */
export type SortableFields<F extends FieldMap> = TermFields<F>
/** Names of identifier fields (prefix search). */
export type IdentifierFields<F extends FieldMap> = KeysWhere<F, 'identifier'>
/** Names of autocomplete fields queried with `autocomplete()` (search_as_you_type, edge_ngram). */
export type AutocompleteFields<F extends FieldMap> = {
  [P in keyof F]: F[P] extends AutocompleteFieldDef<'search_as_you_type' | 'edge_ngram'> ? P : never
}[keyof F] &
  string
/** Names of completion-suggester fields (queried with `client.suggest`). */
export type CompletionFields<F extends FieldMap> = {
  [P in keyof F]: F[P] extends AutocompleteFieldDef<'completion'> ? P : never
}[keyof F] &
  string

type RequiredKeys<F extends FieldMap> = { [P in keyof F]: F[P]['optional'] extends true ? never : P }[keyof F]
type OptionalKeys<F extends FieldMap> = Exclude<keyof F, RequiredKeys<F>>
type Simplify<T> = { [K in keyof T]: T[K] } & {}

/** The document type of a field map. */
export type DocumentOfFields<F extends FieldMap> = Simplify<
  { [P in RequiredKeys<F>]: ValueOf<F[P]> } & { [P in OptionalKeys<F>]?: ValueOf<F[P]> | null | undefined }
>

/** The document type of an index definition: `type Invoice = DocumentOf<typeof invoices>`. */
export type DocumentOf<D extends { readonly fields: FieldMap }> = DocumentOfFields<D['fields']>

/** Bounds of a range query. */
export interface RangeBounds<V> {
  gt?: V | undefined
  gte?: V | undefined
  lt?: V | undefined
  lte?: V | undefined
}

/** Options of full-text helpers. */
export interface MatchOptions {
  /**
   * `and`: every word must match; `or`: any word (ranked by how many match). With
   * `syntax: 'simple'` it applies to the bare words only. @default 'and'
   */
  operator?: 'and' | 'or' | undefined
  /**
   * How the text is read: `plain` (no operators: `OR`, `-`, quotes are words or punctuation) or
   * `simple` (`"phrase"`, `a OR b`, `-word`; see `docs/search-queries.md`). @default 'plain'
   */
  syntax?: QuerySyntax | undefined
  /** Typo tolerance (bare words only with `syntax: 'simple'`). @default undefined (none) */
  fuzziness?: 'AUTO' | 0 | 1 | 2 | undefined
  /** Boost of this clause. @default 1 */
  boost?: number | undefined
}

/** Field-kind-aware query helpers of one index. Each returns a plain `estypes` query. */
export interface QueryHelpers<F extends FieldMap> {
  /**
   * Full-text match of user text on one text field: plain text, every word required (see
   * `MatchOptions` for `operator` and the opt-in `syntax: 'simple'`).
   */
  match(field: TextFields<F>, text: string, options?: MatchOptions): Query
  /**
   * Relevance search of user text over several text fields with boosts
   * (`{ description: 1, clientName: 3 }` or a list). Uses `multi_match` `best_fields` with
   * `tie_breaker` 0.3: with the default `operator: 'and'` every word must match in one field.
   * Plain text unless `syntax: 'simple'`.
   */
  multiMatch(
    fields: readonly TextFields<F>[] | { readonly [K in TextFields<F>]?: number },
    text: string,
    options?: MatchOptions,
  ): Query
  /** Exact value. */
  term<K extends TermFields<F>>(field: K, value: ValueOf<F[K]>): Query
  /** Any of several exact values. */
  terms<K extends TermFields<F>>(field: K, values: readonly ValueOf<F[K]>[]): Query
  /** Range of values (dates as ISO strings or date math). */
  range<K extends RangeFields<F>>(field: K, bounds: RangeBounds<ValueOf<F[K]>>): Query
  /** Prefix of an identifier (invoice number, tax id), case- and accent-insensitive. */
  prefix(field: IdentifierFields<F>, text: string): Query
  /** Type-ahead on an autocomplete field: partial last word, any word order (search_as_you_type). */
  autocomplete(field: AutocompleteFields<F>, text: string): Query
  /** Field is present and not null. */
  exists(field: keyof F & string): Query
  /** Boolean combination. */
  bool(clauses: {
    must?: Query | Query[] | undefined
    filter?: Query | Query[] | undefined
    should?: Query | Query[] | undefined
    mustNot?: Query | Query[] | undefined
    minimumShouldMatch?: number | string | undefined
  }): Query
}

/** Options of {@link defineIndex}. */
export interface IndexDeclaration<F extends FieldMap> {
  /** Index (or alias) name. */
  name: string
  /** Field declarations, built with `field.*`. */
  fields: F
  /**
   * The unique keyword/identifier/numeric field that is the document `_id` and the tiebreaker of
   * every sort (PIT paging needs a total order).
   */
  id: TermFields<F>
  /** Extra index settings merged over the defaults (`number_of_shards: 1`). */
  settings?: estypes.IndicesIndexSettings | undefined
  /** Words the Spanish stemmer keeps as they are. @default ['iva', 'irpf', 'nif', 'cif'] */
  protectedWords?: readonly string[] | undefined
  /** Longest accepted user search text, in characters. @default 256 */
  maxQueryLength?: number | undefined
}

/** The result of {@link defineIndex}. */
export interface IndexDefinition<F extends FieldMap> {
  /** Index (or alias) name. */
  readonly name: string
  /** Field declarations. */
  readonly fields: F
  /** The id field. */
  readonly id: TermFields<F>
  /** Index settings, including analysis. */
  readonly settings: estypes.IndicesIndexSettings
  /** Strict mapping (`dynamic: 'strict'`: a document with an undeclared field is rejected). */
  readonly mappings: estypes.MappingTypeMapping
  /** Longest accepted user search text, in characters. */
  readonly maxQueryLength: number
  /** Query helpers. */
  readonly q: QueryHelpers<F>
  /** The id (`_id`) of a document. */
  idOf(doc: DocumentOfFields<F>): string
  /** Throws `E_SEARCH_UNKNOWN_FIELD` unless `name` is a declared field; returns its descriptor. */
  fieldDef(name: string): FieldDef
  /** The same declaration under another physical index name (used by versioned reindex). */
  withName(name: string): IndexDefinition<F>
}

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
const RANGE = new Set<FieldKind>([
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

function list(value: Query | Query[] | undefined): Query[] | undefined {
  if (value === undefined) return undefined
  return Array.isArray(value) ? value : [value]
}

/**
 * Declare an index: fields, id field and settings. Returns the mapping, settings, document type
 * and typed query helpers.
 *
 * @throws SearchError `E_SEARCH_INVALID_OPTION` when the name is empty or the id field is not a term field
 */
export function defineIndex<const F extends FieldMap>(declaration: IndexDeclaration<F>): IndexDefinition<F> {
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
  const expectKind = (fieldName: string, allowed: (def: FieldDef) => boolean, what: string): FieldDef => {
    const def = fieldDef(fieldName)
    if (!allowed(def)) {
      throw new SearchError(
        'E_SEARCH_FIELD_KIND',
        `${what} is not allowed on field "${fieldName}" of kind ${def.kind} in index "${name}"`,
        { index: name, field: fieldName },
      )
    }
    return def
  }
  const checkText = (text: unknown, fieldName: string): string => {
    if (typeof text !== 'string') {
      throw new SearchError('E_SEARCH_INVALID_VALUE', `Search text for "${fieldName}" must be a string`, {
        index: name,
        field: fieldName,
      })
    }
    if (text.length > maxQueryLength) {
      throw new SearchError(
        'E_SEARCH_QUERY_TOO_LONG',
        `Search text for "${fieldName}" is ${text.length} characters long; the limit is ${maxQueryLength}`,
        { index: name, field: fieldName },
      )
    }
    return text
  }
  const syntaxOf = (options: MatchOptions | undefined): QuerySyntax => {
    const syntax = options?.syntax ?? 'plain'
    if (syntax !== 'plain' && syntax !== 'simple') {
      throw new SearchError(
        'E_SEARCH_INVALID_OPTION',
        `syntax must be 'plain' or 'simple', got ${String(syntax)}`,
        {
          index: name,
        },
      )
    }
    const operator = options?.operator
    if (operator !== undefined && operator !== 'and' && operator !== 'or') {
      throw new SearchError(
        'E_SEARCH_INVALID_OPTION',
        `operator must be 'and' or 'or', got ${String(operator)}`,
        {
          index: name,
        },
      )
    }
    return syntax
  }
  /**
   * The full-text query of user `text`: `words` builds the clause of bare words (with the
   * operator), `phrase` the clause of one phrase, each with an optional boost. Plain text is one
   * words clause; the simple syntax combines them in a bool (a lone clause is returned as it is,
   * so text without operators gives the same query in both modes).
   */
  const fullText = (
    text: string,
    options: MatchOptions | undefined,
    words: (text: string, operator: 'and' | 'or', boost: number | undefined) => Query,
    phrase: (text: string, boost: number | undefined) => Query,
  ): Query => {
    const operator = options?.operator ?? 'and'
    const boost = options?.boost
    if (syntaxOf(options) === 'plain') return words(text, operator, boost)
    const parsed = parseSimpleQuery(text)
    const others = parsed.anyOf.length + parsed.none.length
    if (others === 0 && parsed.phrases.length === 0 && parsed.words.length > 0)
      return words(parsed.words.join(' '), operator, boost)
    if (others === 0 && parsed.words.length === 0 && parsed.phrases.length === 1)
      return phrase(parsed.phrases[0] as string, boost)
    const term = (t: SimpleQueryTerm): Query =>
      t.kind === 'word' ? words(t.text, 'and', undefined) : phrase(t.text, undefined)
    const must: Query[] = []
    if (parsed.words.length > 0) must.push(words(parsed.words.join(' '), operator, undefined))
    for (const p of parsed.phrases) must.push(phrase(p, undefined))
    for (const group of parsed.anyOf)
      must.push({ bool: { should: group.map(term), minimum_should_match: 1 } })
    const mustNot = parsed.none.map(term)
    if (must.length === 0 && mustNot.length === 0) return { match_none: {} }
    return {
      bool: {
        ...(must.length > 0 ? { must } : {}),
        ...(mustNot.length > 0 ? { must_not: mustNot } : {}),
        ...(boost !== undefined ? { boost } : {}),
      },
    }
  }
  const fuzzinessOf = (options: MatchOptions | undefined) =>
    options?.fuzziness !== undefined ? { fuzziness: options.fuzziness } : {}
  const boostOf = (boost: number | undefined) => (boost !== undefined ? { boost } : {})

  const q: QueryHelpers<F> = {
    match(fieldName, text, options) {
      expectKind(fieldName, (d) => d.kind === 'text', 'A full-text query')
      const value = checkText(text, fieldName)
      return fullText(
        value,
        options,
        (words, operator, boost) => ({
          match: { [fieldName]: { query: words, operator, ...fuzzinessOf(options), ...boostOf(boost) } },
        }),
        (phrase, boost) => ({ match_phrase: { [fieldName]: { query: phrase, ...boostOf(boost) } } }),
      )
    },
    multiMatch(spec, text, options) {
      const entries: Array<[string, number]> = Array.isArray(spec)
        ? (spec as readonly string[]).map((f) => [f, 1])
        : Object.entries(spec as Record<string, number>)
      if (entries.length === 0) {
        throw new SearchError('E_SEARCH_INVALID_OPTION', 'multiMatch needs at least one field', {
          index: name,
        })
      }
      const list = entries.map(([f, boost]) => {
        expectKind(f, (d) => d.kind === 'text', 'A full-text query')
        if (typeof boost !== 'number' || !(boost > 0)) {
          throw new SearchError('E_SEARCH_INVALID_VALUE', `Boost of "${f}" must be a positive number`, {
            index: name,
            field: f,
          })
        }
        return boost === 1 ? f : `${f}^${boost}`
      })
      const value = checkText(text, list.join(','))
      return fullText(
        value,
        options,
        (words, operator, boost) => ({
          multi_match: {
            query: words,
            fields: list,
            type: 'best_fields',
            tie_breaker: 0.3,
            operator,
            ...fuzzinessOf(options),
            ...boostOf(boost),
          },
        }),
        (phrase, boost) => ({
          multi_match: { query: phrase, fields: list, type: 'phrase', ...boostOf(boost) },
        }),
      )
    },
    term(fieldName, value) {
      const def = expectKind(fieldName, (d) => TERM_KINDS.has(d.kind), 'A term query')
      checkValue(name, fieldName, def, value)
      return { term: { [fieldName]: { value: value as estypes.FieldValue } } }
    },
    terms(fieldName, values) {
      const def = expectKind(fieldName, (d) => TERM_KINDS.has(d.kind), 'A terms query')
      if (!Array.isArray(values)) {
        throw new SearchError('E_SEARCH_INVALID_VALUE', `terms on "${fieldName}" needs an array of values`, {
          index: name,
          field: fieldName,
        })
      }
      for (const value of values) checkValue(name, fieldName, def, value)
      return { terms: { [fieldName]: [...values] as estypes.FieldValue[] } }
    },
    range(fieldName, bounds) {
      const def = expectKind(fieldName, (d) => RANGE.has(d.kind), 'A range query')
      const out: Record<string, unknown> = {}
      for (const key of ['gt', 'gte', 'lt', 'lte'] as const) {
        const value = bounds[key]
        if (value === undefined) continue
        checkValue(name, fieldName, def, value)
        out[key] = value
      }
      if (Object.keys(out).length === 0) {
        throw new SearchError('E_SEARCH_INVALID_VALUE', `range on "${fieldName}" needs at least one bound`, {
          index: name,
          field: fieldName,
        })
      }
      return { range: { [fieldName]: out } }
    },
    prefix(fieldName, text) {
      expectKind(fieldName, (d) => d.kind === 'identifier', 'A prefix query')
      return { match: { [`${fieldName}.prefix`]: { query: checkText(text, fieldName), operator: 'and' } } }
    },
    autocomplete(fieldName, text) {
      const def = expectKind(
        fieldName,
        (d) => d.kind === 'autocomplete' && d.strategy !== 'completion',
        'An autocomplete query (completion fields use client.suggest)',
      ) as AutocompleteFieldDef
      const query = checkText(text, fieldName)
      if (def.strategy === 'search_as_you_type') {
        return {
          multi_match: {
            query,
            type: 'bool_prefix',
            operator: 'and',
            fields: [fieldName, `${fieldName}._2gram`, `${fieldName}._3gram`],
          },
        }
      }
      return { match: { [fieldName]: { query, operator: 'and' } } }
    },
    exists(fieldName) {
      fieldDef(fieldName)
      return { exists: { field: fieldName } }
    },
    bool(clauses) {
      const bool: estypes.QueryDslBoolQuery = {}
      const must = list(clauses.must)
      const filter = list(clauses.filter)
      const should = list(clauses.should)
      const mustNot = list(clauses.mustNot)
      if (must) bool.must = must
      if (filter) bool.filter = filter
      if (should) bool.should = should
      if (mustNot) bool.must_not = mustNot
      if (clauses.minimumShouldMatch !== undefined) bool.minimum_should_match = clauses.minimumShouldMatch
      return { bool }
    },
  }

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
