/**
 * The analysis presets behind field kinds. Only the pieces a declaration uses are emitted, so an
 * index with standard text, plain keywords, numbers and dates needs no analysis module at all
 * (it runs on a bare Elasticsearch server), while the Spanish preset, folded keywords, prefix
 * subfields and autocomplete need `analysis-common` (and `mapper-extras` for search_as_you_type
 * and scaled_float).
 *
 * Spanish preset: the built-in `spanish` analyzer does not fold accents, so it is rebuilt as
 * standard tokenizer -> lowercase -> asciifolding(preserve_original) -> Spanish stop words ->
 * keyword_marker (protected words) -> light_spanish stemmer. Keeping the original token next to
 * the folded one lets "electronica" find "Electrónica" and "pequeño" still score exact matches.
 *
 * What each preset needs from the engine ({@link ANALYSIS_COMPONENTS}, {@link fieldsNeeding}):
 * every official Elasticsearch and OpenSearch distribution ships both modules, but a node
 * assembled from the server jars alone (embedded test nodes, the Maven-built Elasticsearch of the
 * harness) has neither, and the engine then refuses the index with `Unknown filter type
 * [asciifolding]`; the client turns that into an `AnalysisMissingError` naming, for each field
 * that needs the module, the declaration that does not.
 */
import type { estypes } from '@elastic/elasticsearch'
import type { FieldMap } from './fields.js'

/** Names of the analysis components this package declares (prefixed to avoid clashes). */
export const ANALYSIS_NAMES = Object.freeze({
  spanish: 'ayala_spanish',
  folded: 'ayala_folded',
  foldedText: 'ayala_folded_text',
  prefix: 'ayala_prefix',
  prefixSearch: 'ayala_prefix_search',
  edge: 'ayala_edge',
  edgeSearch: 'ayala_edge_search',
})

/** Words the Spanish stemmer must not touch (lowercased, folded). @default ['iva', 'irpf', 'nif', 'cif'] */
export const DEFAULT_PROTECTED_WORDS: readonly string[] = Object.freeze(['iva', 'irpf', 'nif', 'cif'])

/** Build the `analysis` settings a field map needs (empty object when it needs none). */
export function analysisFor(
  fields: FieldMap,
  protectedWords: readonly string[],
): estypes.IndicesIndexSettingsAnalysis {
  const filter: Record<string, estypes.AnalysisTokenFilter> = {}
  const analyzer: Record<string, estypes.AnalysisAnalyzer> = {}
  const normalizer: Record<string, estypes.AnalysisNormalizer> = {}
  const defs = Object.values(fields)
  const folding = () => {
    filter.ayala_folding = { type: 'asciifolding', preserve_original: true }
  }
  if (defs.some((d) => d.kind === 'text' && d.analyzer === 'spanish')) {
    folding()
    filter.ayala_spanish_stop = { type: 'stop', stopwords: '_spanish_' }
    filter.ayala_spanish_keywords = { type: 'keyword_marker', keywords: [...protectedWords] }
    filter.ayala_spanish_stemmer = { type: 'stemmer', language: 'light_spanish' }
    analyzer[ANALYSIS_NAMES.spanish] = {
      type: 'custom',
      tokenizer: 'standard',
      filter: [
        'lowercase',
        'ayala_folding',
        'ayala_spanish_stop',
        'ayala_spanish_keywords',
        'ayala_spanish_stemmer',
      ],
    }
  }
  if (defs.some((d) => d.kind === 'keyword' && d.normalizer === 'folded')) {
    normalizer[ANALYSIS_NAMES.folded] = { type: 'custom', filter: ['lowercase', 'asciifolding'] }
  }
  const maxPrefix = Math.max(0, ...defs.map((d) => (d.kind === 'identifier' ? d.maxPrefix : 0)))
  if (maxPrefix > 0) {
    filter.ayala_prefix_gram = { type: 'edge_ngram', min_gram: 1, max_gram: maxPrefix }
    analyzer[ANALYSIS_NAMES.prefix] = {
      type: 'custom',
      tokenizer: 'keyword',
      filter: ['lowercase', 'asciifolding', 'ayala_prefix_gram'],
    }
    analyzer[ANALYSIS_NAMES.prefixSearch] = {
      type: 'custom',
      tokenizer: 'keyword',
      filter: ['lowercase', 'asciifolding'],
    }
  }
  const auto = defs.filter((d) => d.kind === 'autocomplete')
  if (auto.length > 0) {
    analyzer[ANALYSIS_NAMES.foldedText] = {
      type: 'custom',
      tokenizer: 'standard',
      filter: ['lowercase', 'asciifolding'],
    }
  }
  if (auto.some((d) => d.strategy === 'edge_ngram')) {
    filter.ayala_edge_gram = { type: 'edge_ngram', min_gram: 1, max_gram: 20 }
    analyzer[ANALYSIS_NAMES.edge] = {
      type: 'custom',
      tokenizer: 'standard',
      filter: ['lowercase', 'asciifolding', 'ayala_edge_gram'],
    }
  }
  const analysis: estypes.IndicesIndexSettingsAnalysis = {}
  if (Object.keys(filter).length > 0) analysis.filter = filter
  if (Object.keys(analyzer).length > 0) analysis.analyzer = analyzer
  if (Object.keys(normalizer).length > 0) analysis.normalizer = normalizer
  return analysis
}

/** The mapping property of one field. */
export function propertyFor(def: FieldMap[string]): estypes.MappingProperty {
  switch (def.kind) {
    case 'text':
      return def.analyzer === 'spanish'
        ? { type: 'text', analyzer: ANALYSIS_NAMES.spanish }
        : { type: 'text' }
    case 'keyword':
      if (def.normalizer === 'folded') return { type: 'keyword', normalizer: ANALYSIS_NAMES.folded }
      if (def.normalizer === 'lowercase') return { type: 'keyword', normalizer: 'lowercase' }
      return { type: 'keyword' }
    case 'identifier':
      return {
        type: 'keyword',
        fields: {
          prefix: {
            type: 'text',
            analyzer: ANALYSIS_NAMES.prefix,
            search_analyzer: ANALYSIS_NAMES.prefixSearch,
          },
        },
      }
    case 'integer':
    case 'long':
    case 'double':
    case 'boolean':
    case 'date':
      return { type: def.kind }
    case 'scaled_float':
      return { type: 'scaled_float', scaling_factor: def.scalingFactor }
    case 'autocomplete':
      if (def.strategy === 'search_as_you_type')
        return { type: 'search_as_you_type', analyzer: ANALYSIS_NAMES.foldedText }
      if (def.strategy === 'completion') return { type: 'completion', analyzer: ANALYSIS_NAMES.foldedText }
      return { type: 'text', analyzer: ANALYSIS_NAMES.edge, search_analyzer: ANALYSIS_NAMES.foldedText }
  }
}

/** The engine modules the presets rely on beyond a bare server. */
export type AnalysisModule = 'analysis-common' | 'mapper-extras'

/**
 * The components the presets use that a bare server lacks, as the engine names them in its
 * refusal (`filter:asciifolding`, `tokenizer:keyword`, `type:scaled_float`), and their module.
 * The `stop` filter, the `standard` analyzer and tokenizer, the `lowercase` normalizer and the
 * plain field types are the server's own.
 */
export const ANALYSIS_COMPONENTS: Readonly<Record<string, AnalysisModule>> = Object.freeze({
  'filter:asciifolding': 'analysis-common',
  'filter:lowercase': 'analysis-common',
  'filter:keyword_marker': 'analysis-common',
  'filter:stemmer': 'analysis-common',
  'filter:edge_ngram': 'analysis-common',
  'tokenizer:keyword': 'analysis-common',
  'type:search_as_you_type': 'mapper-extras',
  'type:scaled_float': 'mapper-extras',
})

/** A declared field that needs a module, and the declaration that does without it. */
export interface ModuleNeed {
  /** The field's name. */
  readonly field: string
  /** What it is declared as: `field.text() (the Spanish preset)`. */
  readonly declared: string
  /** The declaration that needs no such module; undefined when none does (autocomplete without analysis-common). */
  readonly instead: string | undefined
}

/** The declarations of `fields` that need `module`, each with the one that does not. */
export function fieldsNeeding(fields: FieldMap, module: AnalysisModule): ModuleNeed[] {
  const needs: ModuleNeed[] = []
  const need = (field: string, declared: string, instead: string | undefined) =>
    needs.push(Object.freeze({ field, declared, instead }))
  for (const [name, def] of Object.entries(fields)) {
    if (module === 'analysis-common') {
      if (def.kind === 'text' && def.analyzer === 'spanish')
        need(
          name,
          "field.text() (the Spanish preset, analyzer: 'spanish')",
          "field.text({ analyzer: 'standard' })",
        )
      if (def.kind === 'keyword' && def.normalizer === 'folded')
        need(name, "field.keyword({ normalizer: 'folded' })", "field.keyword({ normalizer: 'lowercase' })")
      if (def.kind === 'identifier')
        need(name, 'field.identifier() (prefix subfield)', 'field.keyword() (exact values, no prefix search)')
      if (def.kind === 'autocomplete')
        need(name, `field.autocomplete({ strategy: '${def.strategy}' })`, undefined)
    } else {
      if (def.kind === 'scaled_float')
        need(
          name,
          "field.money({ storage: 'scaled-float' })",
          'field.money() (integer minor units in a long)',
        )
      if (def.kind === 'autocomplete' && def.strategy === 'search_as_you_type')
        need(
          name,
          "field.autocomplete({ strategy: 'search_as_you_type' })",
          "field.autocomplete({ strategy: 'edge_ngram' })",
        )
    }
  }
  return needs
}
