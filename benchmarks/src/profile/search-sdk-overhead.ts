/**
 * Diagnostic (not a scenario): what a `@ayala/search` call costs in Node on top of the official
 * client sending the same body, measured as Node CPU time per call (`process.cpuUsage` over
 * blocks of calls) as well as wall-clock p50. CPU time is what the SDK's own code adds (compile,
 * checks, budget timer, abort signal, result mapping, JSON) and, unlike wall time, it barely
 * moves with the load other processes put on a shared machine.
 *
 * Imports the package's source (not `dist/`), so a change in `packages/search/src` is measured
 * without a build. Contenders: `sdk` (SearchClient), `sdk's client` (the SDK's own official
 * client, `search.raw()`, the same body) and `raw` (a separate official Client with defaults).
 *
 * `SEARCH_PROFILE_DOCS` (default 2,000) invoices; `SEARCH_PROFILE_CALLS` calls per block
 * (default 100), `SEARCH_PROFILE_BLOCKS` blocks per contender (default 4),
 * `SEARCH_PROFILE_SHAPES` (comma-separated: relevance, highlight, autocomplete, suggest); run with `--cpu-prof` to see where the SDK's share goes:
 * `pnpm --filter @ayala/benchmarks exec tsx src/profile/search-sdk-overhead.ts`
 */
import { percentile } from '../report.js'
import { generate, STATUSES, spanishDefinition, WORDS } from '../search/invoices.js'

// The package's source (not dist/): a path in a variable, so the typecheck does not follow it
// into the workspace's internal sources (the built package's types describe it).
const SOURCE_ENTRY = '../../../packages/search/src/index.ts'
const { createSearchClient, OpenSearchTransport } = (await import(
  SOURCE_ENTRY
)) as typeof import('@ayala/search')

const node = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200'
const docs = Number(process.env.SEARCH_PROFILE_DOCS ?? 2_000)
const calls = Number(process.env.SEARCH_PROFILE_CALLS ?? 100)
const blocks = Number(process.env.SEARCH_PROFILE_BLOCKS ?? 4)
const search = createSearchClient({ node, engine: 'opensearch', searchTimeout: '30s' })
const sdkClient = await search.raw()
const RawCtor = sdkClient.constructor as new (options: Record<string, unknown>) => typeof sdkClient
const raw = new RawCtor({ node, Transport: OpenSearchTransport })
const def = spanishDefinition(`profile-sdk-overhead-${process.pid}`)
const q = def.q
const terms = Array.from({ length: 16 }, (_, i) => WORDS[(i * 5) % WORDS.length] as string)

/** Append to the list of `key`. */
function push(lists: Record<string, number[]>, key: string, ...values: number[]): void {
  const list = lists[key] ?? []
  lists[key] = list
  list.push(...values)
}

type Call = (i: number) => Promise<unknown>
const only = process.env.SEARCH_PROFILE_SHAPES?.split(',')
const allShapes: Record<string, Call> = {
  relevance: (i) => search.search(def, { query: q.match('description', terms[i % 16] as string), size: 20 }),
  highlight: (i) =>
    search.search(def, {
      query: q.match('description', terms[i % 16] as string),
      filter: [q.term('status', STATUSES[i % 4] as string), q.range('totalCents', { gte: 10_000 })],
      highlight: ['description'],
      size: 20,
    }),
  autocomplete: (i) =>
    search.search(def, { query: q.autocomplete('suggest', (terms[i % 16] as string).slice(0, 4)), size: 8 }),
  suggest: (i) => search.suggest(def, 'suggestCompletion', (terms[i % 16] as string).slice(0, 4)),
}

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

async function block(fn: Call): Promise<{ cpuUs: number; wallMs: number[] }> {
  const wallMs: number[] = []
  const cpu = process.cpuUsage()
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now()
    await fn(i)
    wallMs.push(performance.now() - t0)
  }
  const used = process.cpuUsage(cpu)
  return { cpuUs: (used.user + used.system) / calls, wallMs }
}

const shapes = Object.fromEntries(Object.entries(allShapes).filter(([name]) => !only || only.includes(name)))

try {
  await search.createIndex(def)
  await search.bulk(def, generate(docs), { refresh: true } as never)
  for (const [name, sdk] of Object.entries(shapes)) {
    const bodies: Array<Record<string, unknown>> = []
    for (let i = 0; i < 16; i++) bodies.push(await bodyOf(() => sdk(i)))
    const contenders: Record<string, Call> = {
      sdk,
      "sdk's client": (i) => sdkClient.search({ index: def.name, ...bodies[i % 16] }),
      raw: (i) => raw.search({ index: def.name, ...bodies[i % 16] }),
    }
    const cpu: Record<string, number[]> = {}
    const wall: Record<string, number[]> = {}
    for (const fn of Object.values(contenders)) await block(fn) // warm-up
    for (let b = 0; b < blocks; b++) {
      const order = Object.entries(contenders)
      if (b % 2 === 1) order.reverse()
      for (const [who, fn] of order) {
        const r = await block(fn)
        push(cpu, who, r.cpuUs)
        push(wall, who, ...r.wallMs)
      }
    }
    const line = Object.keys(contenders).map((who) => {
      const c = [...(cpu[who] as number[])].sort((a, b) => a - b)
      const w = [...(wall[who] as number[])].sort((a, b) => a - b)
      return `${who}: cpu ${percentile(c, 0.5).toFixed(0)} us/call, wall p50 ${(percentile(w, 0.5) * 1000).toFixed(0)} us`
    })
    const ratio =
      percentile(
        [...(cpu.sdk as number[])].sort((a, b) => a - b),
        0.5,
      ) /
      percentile(
        [...(cpu.raw as number[])].sort((a, b) => a - b),
        0.5,
      )
    console.log(`${name.padEnd(12)} ${line.join(' | ')} | sdk/raw cpu ${ratio.toFixed(2)}x`)
  }
} finally {
  await search.deleteIndex(def.name)
  await search.close()
  await raw.close()
}
