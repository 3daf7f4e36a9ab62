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
