/**
 * Diagnostic (not a scenario): where the example's `/search` and `/autocomplete` time goes, on an
 * index the example already loaded (read-only: searches only). The request bodies are the ones
 * the SDK compiles for the example's controller (examples/invoicing-api/src/search, mirrored
 * here: the same definition fields, query shape, highlight, facets and sizes), captured from the
 * SDK client's transport; then each ingredient is taken out of the raw body, one at a time, and
 * every variant is sent with a separate raw official client. Wall p50 and the engine's own
 * `took` p50 per variant, in interleaved blocks; plus the SDK call itself beside the raw full body.
 *
 * `SEARCH_PROFILE_INDEX=<index> pnpm --filter @ayala/benchmarks exec tsx src/profile/example-search-shape.ts`
 * (`SEARCH_PROFILE_CALLS` per block, default 40; `SEARCH_PROFILE_BLOCKS`, default 4).
 */
import { percentile } from '../report.js'

// The package's source (not dist/): a path in a variable, so the typecheck does not follow it
// into the workspace's internal sources (the built package's types describe it).
const SOURCE_ENTRY = '../../../packages/search/src/index.ts'
const { createSearchClient, defineIndex, field, OpenSearchTransport } = (await import(
  SOURCE_ENTRY
)) as typeof import('@ayala/search')

const node = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200'
const index = process.env.SEARCH_PROFILE_INDEX
if (!index) throw new Error('SEARCH_PROFILE_INDEX: the example index to query (read-only)')
const calls = Number(process.env.SEARCH_PROFILE_CALLS ?? 40)
const blocks = Number(process.env.SEARCH_PROFILE_BLOCKS ?? 4)

const def = defineIndex({
  name: index,
  id: 'id',
  fields: {
    id: field.keyword(),
    invoiceId: field.long(),
    version: field.long(),
    number: field.identifier(),
    clientId: field.keyword(),
    clientName: field.text(),
    description: field.text(),
    lines: field.text(),
    status: field.keyword({ normalizer: 'folded' }),
    currency: field.keyword(),
    issuedAt: field.date(),
    totalCents: field.money(),
    suggest: field.autocomplete(),
  },
})
const search = createSearchClient({ node, engine: 'opensearch', searchTimeout: '30s' })
const sdkClient = await search.raw()
const RawCtor = sdkClient.constructor as new (options: Record<string, unknown>) => typeof sdkClient
const raw = new RawCtor({ node, Transport: OpenSearchTransport })
const q = def.q
const TEXT_FIELDS = { description: 2, lines: 1, clientName: 3 } as const
const AMOUNT_RANGES = [
  { to: 10_000 },
  { from: 10_000, to: 50_000 },
  { from: 50_000, to: 100_000 },
  { from: 100_000 },
]
const FACETS = {
  status: { terms: { field: 'status', size: 10 } },
  month: {
    date_histogram: { field: 'issuedAt', calendar_interval: 'month', format: 'yyyy-MM', min_doc_count: 1 },
  },
  amount: { range: { field: 'totalCents', ranges: AMOUNT_RANGES } },
} as const
const WORDS = [
  'limpieza',
  'servicio',
  'mantenimiento',
  'consultoría',
  'oficinas',
  'transporte',
  'diseño',
  'reparación',
]
const PREFIXES = ['limp', 'serv', 'mant', 'cons', 'ofi', 'tran', 'dis', 'rep']

const sdkSearch = (i: number) =>
  search.search(def, {
    query: {
      bool: {
        should: [
          q.multiMatch(TEXT_FIELDS, WORDS[i % 8] as string, { operator: 'and', boost: 10 }),
          q.multiMatch(TEXT_FIELDS, WORDS[i % 8] as string, { operator: 'and', fuzziness: 'AUTO' }),
        ],
        minimum_should_match: 1,
      },
    },
    filter: [],
    sort: ['_score'],
    highlight: { fields: ['description', 'lines', 'clientName'], fragmentSize: 120, numberOfFragments: 2 },
    aggs: FACETS,
    size: 20,
    trackTotalHits: true,
  })
const sdkAutocomplete = (i: number) =>
  search.search(def, { query: q.autocomplete('suggest', PREFIXES[i % 8] as string), size: 8 })

async function bodyOf(call: () => Promise<unknown>): Promise<Record<string, unknown>> {
  let body: string | undefined
  const listener = (_e: unknown, result: unknown) => {
    body ??= (result as { meta: { request: { params: { body: string } } } }).meta.request.params.body
  }
  sdkClient.diagnostic.on('request', listener)
  await call()
  sdkClient.diagnostic.off('request', listener)
  return JSON.parse(body as string) as Record<string, unknown>
}

const SOURCE = ['id', 'number', 'clientName', 'description', 'status', 'issuedAt', 'totalCents']
/** Append to the list of `key`. */
function push(lists: Record<string, number[]>, key: string, ...values: number[]): void {
  const list = lists[key] ?? []
  lists[key] = list
  list.push(...values)
}

type Edit = (body: Record<string, unknown>) => Record<string, unknown>
const without =
  (...keys: string[]): Edit =>
  (b) =>
    Object.fromEntries(Object.entries(b).filter(([k]) => !keys.includes(k)))
/** The fuzzy clause of the example's query (the second `should`) with `extra` parameters. */
const fuzzyWith =
  (extra: Record<string, number>): Edit =>
  (b) => {
    const query = structuredClone(b.query) as { bool: { must?: Array<{ bool: { should: unknown[] } }> } }
    const inner = query.bool.must?.[0]?.bool ?? (query as unknown as { bool: { should: unknown[] } }).bool
    const fuzzy = inner.should[1] as { multi_match: Record<string, unknown> }
    Object.assign(fuzzy.multi_match, extra)
    return { ...b, query }
  }
const searchVariants: Record<string, Edit> = {
  'full (as the example)': (b) => b,
  'no fuzzy clause': (b) => {
    const query = structuredClone(b.query) as { bool: { must: Array<{ bool: { should: unknown[] } }> } }
    const inner = query.bool.must?.[0]?.bool ?? (query as unknown as { bool: { should: unknown[] } }).bool
    inner.should = inner.should.slice(0, 1)
    return { ...b, query }
  },
  'fuzzy prefix_length 1': fuzzyWith({ prefix_length: 1 }),
  'fuzzy prefix_length 2': fuzzyWith({ prefix_length: 2 }),
  'fuzzy max_expansions 10': fuzzyWith({ max_expansions: 10 }),
  'fuzzy prefix_length 1, max_expansions 10': fuzzyWith({ prefix_length: 1, max_expansions: 10 }),
  'no highlight': without('highlight'),
  'highlight without lines': (b) => {
    const h = structuredClone(b.highlight) as { fields: Record<string, unknown> }
    delete h.fields.lines
    return { ...b, highlight: h }
  },
  'no facets (aggs)': without('aggs'),
  'no facets, total up to 10,000 (default)': without('aggs', 'track_total_hits'),
  'no facets, no total': (b) => ({ ...without('aggs')(b), track_total_hits: false }),
  '_source: the 7 fields the answer uses': (b) => ({ ...b, _source: SOURCE }),
}
const autocompleteVariants: Record<string, Edit> = {
  'full (as the example)': (b) => b,
  'track_total_hits: false': (b) => ({ ...b, track_total_hits: false }),
  '_source: the 7 fields': (b) => ({ ...b, _source: SOURCE }),
  both: (b) => ({ ...b, track_total_hits: false, _source: SOURCE }),
}

async function measure(
  title: string,
  sdk: (i: number) => Promise<unknown>,
  variants: Record<string, Edit>,
): Promise<void> {
  const bodies: Array<Record<string, unknown>> = []
  for (let i = 0; i < 8; i++) bodies.push(await bodyOf(() => sdk(i)))
  const found: Record<string, string> = {}
  const tasks: Record<string, (i: number) => Promise<number | undefined>> = {
    'sdk call, full': async (i) => ((await sdk(i)) as { took?: number }).took,
  }
  for (const [name, edit] of Object.entries(variants)) {
    const edited = bodies.map(edit)
    tasks[`raw, ${name}`] = async (i) => (await raw.search({ index: def.name, ...edited[i % 8] })).took
    // What the variant finds, for the eight texts: the same query or a different one?
    const totals: number[] = []
    for (const body of edited) {
      const total = (await raw.search({ index: def.name, ...body, size: 0, track_total_hits: true })).hits
        .total
      totals.push(typeof total === 'number' ? total : (total?.value ?? Number.NaN))
    }
    found[`raw, ${name}`] = totals.join('/')
  }
  const wall: Record<string, number[]> = {}
  const took: Record<string, number[]> = {}
  for (const fn of Object.values(tasks)) for (let i = 0; i < 5; i++) await fn(i)
  for (let b = 0; b < blocks; b++) {
    const order = Object.entries(tasks)
    if (b % 2 === 1) order.reverse()
    for (const [name, fn] of order) {
      for (let i = 0; i < calls; i++) {
        const t0 = performance.now()
        const t = await fn(i)
        push(wall, name, performance.now() - t0)
        if (t !== undefined) push(took, name, t)
      }
    }
  }
  console.log(`\n${title} (${index}), ${calls * blocks} calls each`)
  const p50 = (xs: number[] | undefined) =>
    xs
      ? percentile(
          [...xs].sort((a, b) => a - b),
          0.5,
        )
      : Number.NaN
  const p99 = (xs: number[] | undefined) =>
    xs
      ? percentile(
          [...xs].sort((a, b) => a - b),
          0.99,
        )
      : Number.NaN
  for (const name of Object.keys(tasks)) {
    console.log(
      `  ${name.padEnd(46)} wall p50 ${p50(wall[name]).toFixed(2)} ms  p99 ${p99(wall[name]).toFixed(2)} ms  took p50 ${p50(took[name]).toFixed(1)} ms${found[name] ? `  hits ${found[name]}` : ''}`,
    )
  }
  const ratio = p50(wall['sdk call, full']) / p50(wall['raw, full (as the example)'])
  console.log(`  sdk / raw wall p50 (same body): ${ratio.toFixed(2)}x`)
}

try {
  await measure('/search shape', sdkSearch, searchVariants)
  await measure('/autocomplete shape', sdkAutocomplete, autocompleteVariants)
} finally {
  await search.close()
  await raw.close()
}
