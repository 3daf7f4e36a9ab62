/**
 * The search benchmark's set-up, shared by its load and query phases: the variables
 * (`SEARCH_BENCH_DOCS`, `SEARCH_BENCH_ENGINE`, `SEARCH_BENCH_COMPARE_BULK`), the client, the index
 * names it creates (all listed in `created`, deleted at the end) and the notes of its reports.
 */
import { createSearchClient, type EngineKind, type SearchClient } from '@ayala/search'
import { runConfig } from '../report.js'
import { type InvoicesDefinition, plainDefinition, spanishDefinition } from './invoices.js'

/** One run's shared state. */
export interface SearchBench {
  quick: boolean
  /** Load with the official helper too (`SEARCH_BENCH_COMPARE_BULK` not `0`). */
  compareBulk: boolean
  docs: number
  /** `-elasticsearch` on Elasticsearch, appended to the result names. */
  suffix: string
  engineLabel: string
  /** OpenSearch: the Spanish preset and the autocomplete rows. */
  spanish: boolean
  search: SearchClient
  raw: Awaited<ReturnType<SearchClient['raw']>>
  /** Index name prefix of this run. */
  prefix: string
  /** Our index (the queries run on it). */
  invoices: InvoicesDefinition
  /** The fields the definition declares. */
  fields: string[]
  officialIndex: string
  warmups: string[]
  /** Every index the run created: deleted at the end, also on failure. */
  created: string[]
  /** Notes of the query result. */
  notes: string[]
}

/** Read the variables, create the client and name the indices. */
export async function openSearchBench(): Promise<SearchBench> {
  const quick = runConfig().quick
  const compareBulk = process.env.SEARCH_BENCH_COMPARE_BULK !== '0'
  const docs = Number(process.env.SEARCH_BENCH_DOCS ?? (quick ? 2_000 : 50_000))
  if (!Number.isSafeInteger(docs) || docs < 100)
    throw new Error(`SEARCH_BENCH_DOCS must be >= 100, got ${docs}`)
  const engine: EngineKind =
    process.env.SEARCH_BENCH_ENGINE === 'elasticsearch' ? 'elasticsearch' : 'opensearch'
  const node =
    engine === 'elasticsearch'
      ? (process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9201')
      : (process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200')
  const suffix = engine === 'elasticsearch' ? '-elasticsearch' : ''
  const engineLabel = engine === 'elasticsearch' ? 'Elasticsearch 9.5' : 'OpenSearch 2.19'
  const search = createSearchClient({ node, engine, requestTimeout: '10m' })
  const raw = await search.raw()
  const prefix = `bench-search-${process.pid}`
  const spanish = engine === 'opensearch'
  // Typed as the Spanish definition: the calls made on the plain one only use fields both declare.
  const invoices = spanish
    ? spanishDefinition(`${prefix}-ours`)
    : (plainDefinition(`${prefix}-ours`) as unknown as ReturnType<typeof spanishDefinition>)
  const fields = Object.keys(invoices.mappings.properties ?? {})
  const officialIndex = `${prefix}-official`
  const warmups = [`${prefix}-warm-ours`, `${prefix}-warm-official`]
  const created = [invoices.name, officialIndex, ...warmups]
  const notes: string[] = []
  return {
    quick,
    compareBulk,
    docs,
    suffix,
    engineLabel,
    spanish,
    search,
    raw,
    prefix,
    invoices,
    fields,
    officialIndex,
    warmups,
    created,
    notes,
  }
}
