/**
 * Scenario: search and autocomplete latency on generated Spanish invoices in OpenSearch.
 *
 * `SEARCH_BENCH_DOCS` invoices (default 50,000; the target is 1,000,000) are bulk-loaded
 * once with the package's indexer, then measured side by side in one run: a relevance search
 * with filters, sort and highlighting, and the three autocomplete strategies on the same text
 * (search_as_you_type, edge n-grams, the completion suggester). The baseline is the completion
 * suggester, the fastest possible prefix lookup. Index size and heaps are printed and put in the
 * title. Query terms are generated outside the timed loop and cycled.
 */
import { createSearchClient, defineIndex, field, type SearchClient } from '@ayala/search'
import { Bench } from 'tinybench'
import { rows, writeResult } from '../report.js'

const DOCS = Number(process.env.SEARCH_BENCH_DOCS ?? 50_000)
const NODE = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200'

const WORDS = [
  'mantenimiento',
  'electrónica',
  'consultoría',
  'pequeño',
  'servicio',
  'reparación',
  'licencia',
  'envío',
  'instalación',
  'formación',
  'auditoría',
  'limpieza',
  'transporte',
  'alquiler',
  'diseño',
  'desarrollo',
  'soporte',
  'hosting',
  'material',
  'oficina',
  'papelería',
  'mobiliario',
  'catering',
]
const CLIENTS = [
  'Pequeño Comercio',
  'Electrónica Díaz',
  'Consultores Núñez',
  'Ferretería López',
  'Óptica Peña',
  'Talleres Martín',
  'Panadería Sánchez',
  'Construcciones Gómez',
  'Farmacia Ruiz',
  'Librería Castro',
]
const STATUSES = ['draft', 'issued', 'paid', 'overdue']

function invoice(i: number) {
  const w = (k: number) => WORDS[(i * k + k) % WORDS.length] as string
  const client = CLIENTS[(i * 7) % CLIENTS.length] as string
  const description = `${w(3)} de ${w(5)} y ${w(11)} para ${client}`
  return {
    id: `inv-${i}`,
    number: `FAC-${2020 + (i % 7)}-${String(i).padStart(7, '0')}`,
    description,
    client,
    status: STATUSES[i % STATUSES.length] as string,
    issuedAt: new Date(Date.UTC(2020, 0, 1) + (i % 2_500) * 86_400_000).toISOString().slice(0, 10),
    totalCents: 100 + ((i * 7_919) % 1_000_000),
    suggest: description,
    suggestEdge: description,
    suggestCompletion: description,
  }
}

const definition = (name: string) =>
  defineIndex({
    name,
    id: 'id',
    fields: {
      id: field.keyword(),
      number: field.identifier(),
      description: field.text(),
      client: field.keyword({ normalizer: 'folded' }),
      status: field.keyword(),
      issuedAt: field.date(),
      totalCents: field.money(),
      suggest: field.autocomplete({ strategy: 'search_as_you_type' }),
      suggestEdge: field.autocomplete({ strategy: 'edge_ngram' }),
      suggestCompletion: field.autocomplete({ strategy: 'completion' }),
    },
  })

async function* generate(count: number) {
  for (let i = 0; i < count; i++) yield invoice(i)
}

async function engineHeapMb(search: SearchClient): Promise<number> {
  const raw = await search.raw()
  const stats = (await raw.transport.request({ method: 'GET', path: '/_nodes/stats/jvm' })) as {
    nodes: Record<string, { jvm: { mem: { heap_used_in_bytes: number } } }>
  }
  return Object.values(stats.nodes).reduce((sum, n) => sum + n.jvm.mem.heap_used_in_bytes, 0) / 1_048_576
}

export async function run(): Promise<void> {
  const search = createSearchClient({ node: NODE, engine: 'opensearch' })
  const invoices = definition(`bench-search-${process.pid}`)
  await search.createIndex(invoices)
  try {
    const load = await search.bulk(invoices, generate(DOCS), { fastIngest: true, concurrency: 2 })
    if (load.failed > 0)
      throw new Error(`load rejected ${load.failed} documents: ${load.failures[0]?.reason}`)
    const raw = await search.raw()
    await raw.indices.forcemerge({ index: invoices.name, max_num_segments: 1 })
    await raw.indices.refresh({ index: invoices.name })
    const store = await raw.indices.stats({ index: invoices.name, metric: 'store' })
    const sizeMb = (store._all.primaries?.store?.size_in_bytes ?? 0) / 1_048_576

    const terms = Array.from({ length: 64 }, (_, i) => WORDS[(i * 5) % WORDS.length] as string)
    const prefixes = terms.map((t, i) => t.slice(0, 3 + (i % 3)))
    const { q } = invoices
    let n = 0
    const next = () => n++ % terms.length
    const bench = new Bench({ time: 3_000, warmupTime: 500 })
    bench
      .add('completion suggester (prefix)', async () => {
        await search.suggest(invoices, 'suggestCompletion', prefixes[next()] as string, { size: 10 })
      })
      .add('search_as_you_type (bool_prefix)', async () => {
        await search.search(invoices, {
          query: q.autocomplete('suggest', prefixes[next()] as string),
          size: 10,
          trackTotalHits: false,
        })
      })
      .add('edge n-grams (match)', async () => {
        await search.search(invoices, {
          query: q.autocomplete('suggestEdge', prefixes[next()] as string),
          size: 10,
          trackTotalHits: false,
        })
      })
      .add('search: text + filters + sort + highlight', async () => {
        const i = next()
        await search.search(invoices, {
          query: q.match('description', terms[i] as string),
          filter: [
            q.term('status', STATUSES[i % 4] as string),
            q.range('totalCents', { gte: 10_000, lte: 500_000 }),
          ],
          highlight: ['description'],
          size: 20,
        })
      })
      .add('search: relevance, top 20', async () => {
        await search.search(invoices, { query: q.match('description', terms[next()] as string), size: 20 })
      })
    await bench.run()
    const heapMb = process.memoryUsage().heapUsed / 1_048_576
    const engineMb = await engineHeapMb(search)
    const title = `Search on ${DOCS.toLocaleString('en')} invoices (OpenSearch 2.19, 1 shard; index ${sizeMb.toFixed(1)} MB after force-merge; engine heap ${engineMb.toFixed(0)} MB; Node heap ${heapMb.toFixed(0)} MB)`
    writeResult(
      'search-query',
      title,
      rows(bench, 'completion suggester (prefix)'),
      'completion suggester (prefix)',
    )
  } finally {
    await search.deleteIndex(invoices.name)
    await search.close()
  }
}
