/**
 * What `@ayala/search` adds on top of the official client, request shape by request shape: the
 * SDK call against the raw official client sending the exact same request body, in the same
 * interleaved rounds (`rounds.ts`).
 *
 * The body is captured, not rewritten: each SDK call is made once untimed with a listener on
 * the SDK client's transport `diagnostic` `request` event, which holds the serialized body the
 * transport is about to send; the raw contender sends that body (parsed once, outside the timed
 * loop) with `client.search`, and the body it serializes is checked to be byte for byte the same
 * before anything is timed (a mismatch fails the scenario). The listener is removed before the
 * rounds, so the SDK pays nothing for it.
 *
 * Contenders per shape: `sdk` (the `SearchClient` call), `raw` (a separate `@elastic/elasticsearch`
 * `Client` with the client's defaults, which is what the SDK's adapter uses for both engines; on
 * OpenSearch it is given `OpenSearchTransport`, without which that client cannot talk to
 * OpenSearch at all). The shapes: the relevance search, the filtered search with highlighting,
 * the example's `/search` shape (two `multi_match`-like clauses, one fuzzy, three filters,
 * highlight, facets, an exact total), and on OpenSearch the `search_as_you_type` autocomplete
 * (the example's `/autocomplete`) and the completion suggester.
 */
import { OpenSearchTransport } from '@ayala/search'
import { type Goal, type ResultRow, ratioGoal } from '../report.js'
import type { SearchBench } from './bench.js'
import { STATUSES, spanishDefinition, WORDS } from './invoices.js'
import { Rounds } from './rounds.js'

type RawClient = SearchBench['raw']

/** One request shape: the SDK call for term `i`. */
interface Shape {
  name: string
  sdk: (i: number) => Promise<unknown>
}

const VARIANTS = 16

const AMOUNT_RANGES = [
  { to: 10_000 },
  { from: 10_000, to: 50_000 },
  { from: 50_000, to: 500_000 },
  { from: 500_000 },
]

/** The example's facets (examples/invoicing-api search controller), on the benchmark's fields. */
const FACETS = {
  status: { terms: { field: 'status', size: 10 } },
  month: {
    date_histogram: { field: 'issuedAt', calendar_interval: 'month', format: 'yyyy-MM', min_doc_count: 1 },
  },
  amount: { range: { field: 'totalCents', ranges: AMOUNT_RANGES } },
} as const

function shapes(setup: SearchBench): Shape[] {
  const { search, invoices, spanish } = setup
  const q = invoices.q
  const terms = Array.from({ length: VARIANTS }, (_, i) => WORDS[(i * 5) % WORDS.length] as string)
  const prefixes = terms.map((t, i) => t.slice(0, 3 + (i % 3)))
  const list: Shape[] = [
    {
      name: 'relevance, top 20',
      sdk: (i) => search.search(invoices, { query: q.match('description', terms[i] as string), size: 20 }),
    },
    {
      name: 'text + filters + highlight',
      sdk: (i) =>
        search.search(invoices, {
          query: q.match('description', terms[i] as string),
          filter: [
            q.term('status', STATUSES[i % 4] as string),
            q.range('totalCents', { gte: 10_000, lte: 500_000 }),
          ],
          highlight: ['description'],
          size: 20,
        }),
    },
    {
      name: "example's /search shape (fuzzy, facets, exact total)",
      sdk: (i) => {
        const words = `${terms[i]} ${terms[(i + 3) % VARIANTS]}`
        return search.search(invoices, {
          query: {
            bool: {
              should: [
                { match: { description: { query: words, operator: 'and', boost: 10 } } },
                { match: { description: { query: words, operator: 'and', fuzziness: 'AUTO' } } },
              ],
              minimum_should_match: 1,
            },
          },
          filter: [q.range('totalCents', { gte: 100 })],
          sort: ['_score'],
          highlight: { fields: ['description'], fragmentSize: 120, numberOfFragments: 2 },
          aggs: FACETS,
          size: 20,
          trackTotalHits: true,
        })
      },
    },
  ]
  if (spanish) {
    const sp = spanishDefinition(invoices.name)
    list.push(
      {
        name: 'autocomplete (search_as_you_type, size 8)',
        sdk: (i) =>
          search.search(sp, { query: sp.q.autocomplete('suggest', prefixes[i] as string), size: 8 }),
      },
      {
        name: 'suggest (completion)',
        sdk: (i) => search.suggest(sp, 'suggestCompletion', prefixes[i] as string, { size: 10 }),
      },
    )
  }
  return list
}

/** The serialized body of the next request `client` sends, while `call` runs. */
async function captureBody(
  client: RawClient,
  call: () => Promise<unknown>,
): Promise<{ path: string; body: string }> {
  let seen: { path: string; body: string } | undefined
  const listener = (_error: unknown, result: unknown) => {
    const params = (result as { meta?: { request?: { params?: { path?: string; body?: unknown } } } } | null)
      ?.meta?.request?.params
    if (seen === undefined && params) seen = { path: String(params.path), body: String(params.body) }
  }
  client.diagnostic.on('request', listener)
  try {
    await call()
  } finally {
    client.diagnostic.off('request', listener)
  }
  if (seen === undefined) throw new Error('sdk-vs-raw: no request body captured')
  return seen
}

/** The rows (`sdk: <shape>`, `raw: <shape>`) and the SDK/raw goals (p50 and p99 ratios). */
export async function compareWithRawClient(
  setup: SearchBench,
): Promise<{ data: ResultRow[]; goals: Goal[] }> {
  const { raw: sdkClient, quick, spanish } = setup
  const node = sdkClient.connectionPool.connections[0]?.url.toString() ?? ''
  const RawCtor = sdkClient.constructor as new (options: Record<string, unknown>) => RawClient
  const raw = new RawCtor(spanish ? { node, Transport: OpenSearchTransport } : { node })
  try {
    const bench = new Rounds(
      quick
        ? { rounds: 2, sliceMs: 40, warmupMs: 20, minSamples: 3 }
        : { rounds: 8, sliceMs: 500, warmupMs: 400, minSamples: 5 },
    )
    const list = shapes(setup)
    for (const shape of list) {
      const requests: Array<{ index: string; params: Record<string, unknown> }> = []
      for (let i = 0; i < VARIANTS; i++) {
        const { path, body } = await captureBody(sdkClient, () => shape.sdk(i))
        const index = decodeURIComponent(path.split('/')[1] ?? '')
        requests.push({ index, params: JSON.parse(body) as Record<string, unknown> })
        const sent = await captureBody(raw, () => raw.search({ index, ...requests[i]?.params }))
        if (sent.body !== body || sent.path !== path) {
          throw new Error(
            `sdk-vs-raw: the raw client sent another request for "${shape.name}": ${sent.path} ${sent.body} vs ${path} ${body}`,
          )
        }
      }
      let n = 0
      let m = 0
      bench
        .add(`sdk: ${shape.name}`, async () => {
          await shape.sdk(n++ % VARIANTS)
        })
        .add(`raw: ${shape.name}`, async () => {
          const request = requests[m++ % VARIANTS] as (typeof requests)[number]
          await raw.search({ index: request.index, ...request.params })
        })
    }
    await bench.run()
    const data = bench.rows(`raw: ${list[0]?.name}`)
    const goals: Goal[] = []
    for (const shape of list) {
      const ours = data.find((row) => row.name === `sdk: ${shape.name}`)
      const theirs = data.find((row) => row.name === `raw: ${shape.name}`)
      const p50 = ours && theirs ? ours.p50Us / theirs.p50Us : Number.NaN
      const p99 = ours && theirs ? ours.p99Us / theirs.p99Us : Number.NaN
      goals.push(
        ratioGoal(`SDK / raw client p50, same body (${shape.name})`, p50, 1.5),
        ratioGoal(`SDK / raw client p99, same body (${shape.name})`, p99, 1.5),
      )
    }
    return { data, goals }
  } finally {
    await raw.close()
  }
}
