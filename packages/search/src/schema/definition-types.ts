/**
 * The types a declaration gives: the field-name sets each query helper accepts (so a full-text
 * helper on a keyword field is a compile error), the document type (`DocumentOf<typeof def>`,
 * optional fields optional), the helpers' interface and the definition itself. Types only.
 */
import type { estypes } from '@elastic/elasticsearch'
import type { QuerySyntax } from '../query-text.js'
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
  /**
   * With `fuzziness`: how many leading characters of each word must match exactly (the engine's
   * `prefix_length`): `1` tolerates every typo but one in the first letter. A relevance control:
   * on the example's search it did not change the engine's time (docs/search-queries.md).
   * @default 0 (the engine's default)
   */
  prefixLength?: number | undefined
  /**
   * With `fuzziness`: at most this many spellings each word expands to (the engine's
   * `max_expansions`); fewer expansions, fewer posting lists read. @default 50 (the engine's default)
   */
  maxExpansions?: number | undefined
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
