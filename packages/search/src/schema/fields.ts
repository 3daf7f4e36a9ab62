/**
 * Field declarations for {@link defineIndex}. Each helper returns a small frozen descriptor whose
 * `kind` literal drives three things at once: the engine mapping, the TypeScript type of the
 * field's value in documents, and which query helpers accept the field (full-text on `text`,
 * term/range on keyword/numeric/date, prefix on identifiers, autocomplete on autocomplete fields).
 * A helper's options object is checked like every factory's: an unknown key is refused by name.
 */
import { checkOptionKeys } from '../option-keys.js'

/** Every field kind a declaration can have. */
export type FieldKind =
  | 'text'
  | 'keyword'
  | 'identifier'
  | 'integer'
  | 'long'
  | 'double'
  | 'scaled_float'
  | 'date'
  | 'boolean'
  | 'autocomplete'

/** Text analysis of a `text` field: the Spanish preset (folding + light stemming) or the engine's standard analyzer. */
export type TextAnalyzer = 'spanish' | 'standard'
/** Keyword normalization: `folded` = lowercase + asciifolding, `lowercase`, or none. */
export type KeywordNormalizer = 'folded' | 'lowercase' | 'none'
/** How an autocomplete field is indexed (see docs/search-schema.md for the benchmark behind the default). */
export type AutocompleteStrategy = 'search_as_you_type' | 'edge_ngram' | 'completion'

/** Common part of every field descriptor. */
export interface FieldBase<K extends FieldKind> {
  /** The field's kind. */
  readonly kind: K
  /** Whether documents may omit the field (or set it to `null`). @default false */
  readonly optional: boolean
}

/** A full-text field. */
export interface TextFieldDef extends FieldBase<'text'> {
  /** Analyzer preset. @default 'spanish' */
  readonly analyzer: TextAnalyzer
}
/** An exact-value string field (status, client name for filters). */
export interface KeywordFieldDef extends FieldBase<'keyword'> {
  /** Normalizer applied at index and query time. @default 'none' */
  readonly normalizer: KeywordNormalizer
}
/** An exact-value code (invoice number, tax id) with an edge n-gram `prefix` subfield. */
export interface IdentifierFieldDef extends FieldBase<'identifier'> {
  /** Longest indexed prefix, in characters. @default 24 */
  readonly maxPrefix: number
}
/** A numeric field. `scaled_float` stores decimals (money) as scaled longs. */
export interface NumericFieldDef<K extends 'integer' | 'long' | 'double' | 'scaled_float'>
  extends FieldBase<K> {
  /** Scaling factor of a `scaled_float` (100 for cents). @default 100 */
  readonly scalingFactor: number
}
/** A date field (ISO-8601 strings or epoch millis). */
export interface DateFieldDef extends FieldBase<'date'> {}
/** A boolean field. */
export interface BooleanFieldDef extends FieldBase<'boolean'> {}
/** A field for type-ahead search. */
export interface AutocompleteFieldDef<S extends AutocompleteStrategy = AutocompleteStrategy>
  extends FieldBase<'autocomplete'> {
  /** Indexing strategy. @default 'search_as_you_type' */
  readonly strategy: S
}

/** Any field descriptor. */
export type FieldDef =
  | TextFieldDef
  | KeywordFieldDef
  | IdentifierFieldDef
  | NumericFieldDef<'integer'>
  | NumericFieldDef<'long'>
  | NumericFieldDef<'double'>
  | NumericFieldDef<'scaled_float'>
  | DateFieldDef
  | BooleanFieldDef
  | AutocompleteFieldDef

/** The fields of an index: name -> descriptor. */
export type FieldMap = Readonly<Record<string, FieldDef>>

/** Value type of one field in a document. */
export type ValueOf<D extends FieldDef> = D['kind'] extends 'integer' | 'long' | 'double' | 'scaled_float'
  ? number
  : D['kind'] extends 'boolean'
    ? boolean
    : string

type Optional<D> = Omit<D, 'optional'> & { readonly optional: true }

function make<D extends FieldDef>(def: D): D {
  return Object.freeze(def)
}

/** Mark a descriptor optional: documents may omit the field. */
export function optional<D extends FieldDef>(def: D): Optional<D> {
  return Object.freeze({ ...def, optional: true }) as Optional<D>
}

const TEXT_KEYS: ReadonlySet<string> = new Set(['analyzer'])
const KEYWORD_KEYS: ReadonlySet<string> = new Set(['normalizer'])
const IDENTIFIER_KEYS: ReadonlySet<string> = new Set(['maxPrefix'])
const MONEY_KEYS: ReadonlySet<string> = new Set(['storage', 'scalingFactor'])
const AUTOCOMPLETE_KEYS: ReadonlySet<string> = new Set(['strategy'])

/** Field declaration helpers. */
export const field = {
  /** Full-text field. @param options.analyzer - preset, @default 'spanish' */
  text(options: { analyzer?: TextAnalyzer | undefined } = {}): TextFieldDef {
    checkOptionKeys(options, TEXT_KEYS, 'field.text')
    return make({ kind: 'text', optional: false, analyzer: options.analyzer ?? 'spanish' })
  },
  /** Exact-value string. @param options.normalizer - @default 'none' */
  keyword(options: { normalizer?: KeywordNormalizer | undefined } = {}): KeywordFieldDef {
    checkOptionKeys(options, KEYWORD_KEYS, 'field.keyword')
    return make({ kind: 'keyword', optional: false, normalizer: options.normalizer ?? 'none' })
  },
  /** Code with prefix search (invoice numbers, tax ids). @param options.maxPrefix - chars, @default 24 */
  identifier(options: { maxPrefix?: number | undefined } = {}): IdentifierFieldDef {
    checkOptionKeys(options, IDENTIFIER_KEYS, 'field.identifier')
    return make({ kind: 'identifier', optional: false, maxPrefix: options.maxPrefix ?? 24 })
  },
  /** 32-bit integer. */
  integer(): NumericFieldDef<'integer'> {
    return make({ kind: 'integer', optional: false, scalingFactor: 1 })
  },
  /** 64-bit integer (money as integer minor units, e.g. cents). */
  long(): NumericFieldDef<'long'> {
    return make({ kind: 'long', optional: false, scalingFactor: 1 })
  },
  /** Double-precision float. */
  double(): NumericFieldDef<'double'> {
    return make({ kind: 'double', optional: false, scalingFactor: 1 })
  },
  /**
   * Money. `minor-units` (default) stores integer cents in a `long` (works on every engine);
   * `scaled-float` stores decimals as a `scaled_float` (needs the mapper-extras module).
   */
  money<S extends 'minor-units' | 'scaled-float' = 'minor-units'>(
    options: { storage?: S | undefined; scalingFactor?: number | undefined } = {},
  ): S extends 'scaled-float' ? NumericFieldDef<'scaled_float'> : NumericFieldDef<'long'> {
    checkOptionKeys(options, MONEY_KEYS, 'field.money')
    const scaled = options.storage === 'scaled-float'
    return make({
      kind: scaled ? 'scaled_float' : 'long',
      optional: false,
      scalingFactor: options.scalingFactor ?? 100,
    } as FieldDef) as never
  },
  /** Date (ISO-8601 string or epoch millis). */
  date(): DateFieldDef {
    return make({ kind: 'date', optional: false })
  },
  /** Boolean. */
  boolean(): BooleanFieldDef {
    return make({ kind: 'boolean', optional: false })
  },
  /** Type-ahead field. @param options.strategy - @default 'search_as_you_type' */
  autocomplete<S extends AutocompleteStrategy = 'search_as_you_type'>(
    options: { strategy?: S | undefined } = {},
  ): AutocompleteFieldDef<NoInfer<S>> {
    checkOptionKeys(options, AUTOCOMPLETE_KEYS, 'field.autocomplete')
    return make({
      kind: 'autocomplete',
      optional: false,
      strategy: (options.strategy ?? 'search_as_you_type') as S,
    })
  },
  /** Mark a field optional. */
  optional,
} as const
