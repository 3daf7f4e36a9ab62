/**
 * The mapping of an engine's refusal to `AnalysisMissingError`, unit level, on the error objects
 * the official client builds (`errors.ResponseError` with the engine's JSON body): every wording
 * the engines use for a missing component (Elasticsearch 9's filter, tokenizer, filter-by-name
 * and mapper-type reasons, OpenSearch's `No handler for type`, a composable template's
 * `caused_by`), each naming its module and the fields that need it; a component the presets do
 * not use, another 400 and a link failure stay `E_SEARCH_ENGINE`. The same refusal from the real
 * Elasticsearch node is in test/integration/schema/analysis-missing.test.ts.
 */
import { errors } from '@elastic/elasticsearch'
import { describe, expect, it } from 'vitest'
import { indexCreationError } from '../../../src/engine/analysis-missing.js'
import { AnalysisMissingError, type SearchError } from '../../../src/index.js'
import { spanishInvoices } from '../../helpers/invoices.js'

const fields = spanishInvoices('inv').fields

/** The body as the engines send it: the root cause without `caused_by`, the top error with it. */
function refusal(error: Record<string, unknown>): errors.ResponseError {
  const { caused_by: _, ...root } = error
  return new errors.ResponseError({
    body: { error: { root_cause: [root], ...structuredClone(error) }, status: 400 },
    statusCode: 400,
    headers: {},
    warnings: null,
    meta: {} as never,
  })
}

const illegal = (reason: string) => refusal({ type: 'illegal_argument_exception', reason })
const mapper = (reason: string) => refusal({ type: 'mapper_parsing_exception', reason })

describe('indexCreationError', () => {
  it.each([
    [
      illegal('Unknown filter type [asciifolding] for [ayala_folding]'),
      'analysis-common',
      'filter asciifolding',
    ],
    [
      illegal('Unknown filter type [stemmer] for [ayala_spanish_stemmer]'),
      'analysis-common',
      'filter stemmer',
    ],
    [
      illegal('Custom Analyzer [ayala_folded] failed to find filter under name [asciifolding]'),
      'analysis-common',
      'filter asciifolding',
    ],
    [
      illegal('Custom Analyzer [ayala_prefix] failed to find tokenizer under name [keyword]'),
      'analysis-common',
      'tokenizer keyword',
    ],
    [
      mapper(
        'The mapper type [scaled_float] declared on field [total] does not exist. It might have been created within a future version or requires a plugin to be installed. Check the documentation.',
      ),
      'mapper-extras',
      'field type scaled_float',
    ],
    [
      mapper('No handler for type [search_as_you_type] declared on field [suggest]'),
      'mapper-extras',
      'field type search_as_you_type',
    ],
    [
      refusal({
        type: 'illegal_argument_exception',
        reason: 'composable template [ayala-search-inv] template after composition is invalid',
        caused_by: {
          type: 'illegal_argument_exception',
          reason: 'Unknown filter type [edge_ngram] for [ayala_edge_gram]',
        },
      }),
      'analysis-common',
      'filter edge_ngram',
    ],
  ])('%#: %s -> %s (%s)', (error, module, component) => {
    const mapped = indexCreationError(error, 'inv', fields, 'elasticsearch') as AnalysisMissingError
    expect(mapped).toBeInstanceOf(AnalysisMissingError)
    expect(mapped.code).toBe('E_SEARCH_ANALYSIS_MISSING')
    expect(mapped.retriable).toBe(false)
    expect(mapped.module).toBe(module)
    expect(mapped.component).toBe(component)
    expect(mapped.cause).toBe(error)
    expect(mapped.fields.length).toBeGreaterThan(0)
    expect(mapped.message).toContain(`from the ${module} module`)
  })

  it('mapper-extras: scaled_float money and search_as_you_type, each with its replacement', () => {
    const mapped = indexCreationError(
      mapper('The mapper type [scaled_float] declared on field [total] does not exist.'),
      'inv',
      fields,
      'opensearch',
    ) as AnalysisMissingError
    expect(mapped.fields).toEqual([
      {
        field: 'total',
        declared: "field.money({ storage: 'scaled-float' })",
        instead: 'field.money() (integer minor units in a long)',
      },
      {
        field: 'suggest',
        declared: "field.autocomplete({ strategy: 'search_as_you_type' })",
        instead: "field.autocomplete({ strategy: 'edge_ngram' })",
      },
    ])
    expect(mapped.message).toContain('This OpenSearch node has no field type scaled_float')
  })

  it('one field: "this field"; the engine unknown: "The search engine node"', () => {
    const only = { id: fields.id, description: fields.description }
    const mapped = indexCreationError(
      illegal('Unknown filter type [asciifolding] for [ayala_folding]'),
      'inv',
      only,
    )
    expect(mapped.message).toContain('The search engine node has no filter asciifolding')
    expect(mapped.message).toContain(
      "declare this field without it: description: field.text() (the Spanish preset, analyzer: 'spanish') -> field.text({ analyzer: 'standard' }).",
    )
  })

  it.each([
    ['a component the presets do not use', illegal('Unknown filter type [icu_folding] for [f]')],
    ['another refusal', illegal('index [inv/abc] already exists')],
    ['no engine answer', new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9201')],
  ])('%s stays E_SEARCH_ENGINE', (_, error) => {
    const mapped = indexCreationError(error, 'inv', fields, 'elasticsearch') as SearchError
    expect(mapped).not.toBeInstanceOf(AnalysisMissingError)
    expect(mapped.code).toBe('E_SEARCH_ENGINE')
  })
})
