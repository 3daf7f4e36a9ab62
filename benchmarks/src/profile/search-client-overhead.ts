/**
 * Diagnostic (not a scenario): the Node-side cost of one search call, SDK against the raw
 * official client, with the engine taken out. A real OpenSearch answer of each request shape is
 * captured once, then served verbatim by a tiny HTTP server in a child process (no engine work,
 * no engine noise); the SDK and a separate raw `@elastic/elasticsearch` Client (with
 * `OpenSearchTransport`) send the same body to it, in alternating blocks. Reported: Node CPU
 * time per call (`process.cpuUsage`, robust to other processes' load) and wall p50.
 *
 * `sdk` imports the package's source, so a change in `packages/search/src` is measured without
 * a build; `sdk dist/` is the built package (`@ayala/search`): before and after in one run. `SEARCH_PROFILE_CALLS` per block (default 2,000), `SEARCH_PROFILE_BLOCKS`
 * (default 6): `pnpm --filter @ayala/benchmarks exec tsx src/profile/search-client-overhead.ts`
 */
import { fork } from 'node:child_process'
import { createServer } from 'node:http'
import { createSearchClient as createBuiltClient } from '@ayala/search'
import { percentile } from '../report.js'
import { generate, STATUSES, spanishDefinition } from '../search/invoices.js'

// The package's source (not dist/): a path in a variable, so the typecheck does not follow it
// into the workspace's internal sources (the built package's types describe it).
const SOURCE_ENTRY = '../../../packages/search/src/index.ts'
const { createSearchClient, OpenSearchTransport } = (await import(
  SOURCE_ENTRY
)) as typeof import('@ayala/search')

/** Append to the list of `key`. */
function push(lists: Record<string, number[]>, key: string, ...values: number[]): void {
  const list = lists[key] ?? []
  lists[key] = list
  list.push(...values)
}

if (process.argv[2] === '--serve') {
  // Child: answer every request with the canned body of its path's shape (sent by the parent).
  let answers: Record<string, string> = {}
  process.on('message', (message) => {
    answers = message as Record<string, string>
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        const body = answers[req.headers['x-shape'] as string] ?? answers.default ?? '{}'
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      })
    })
    server.keepAliveTimeout = 600_000
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      process.send?.(typeof address === 'object' && address ? address.port : 0)
    })
  })
} else {
  const node = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200'
  const calls = Number(process.env.SEARCH_PROFILE_CALLS ?? 2_000)
  const blocks = Number(process.env.SEARCH_PROFILE_BLOCKS ?? 6)
  const def = spanishDefinition(`profile-client-overhead-${process.pid}`)
  const q = def.q
  const shapes = {
    relevance: { query: q.match('description', 'servicio'), size: 20 },
    highlight: {
      query: q.match('description', 'servicio'),
      filter: [q.term('status', STATUSES[1] as string), q.range('totalCents', { gte: 10_000 })],
      highlight: ['description'] as const,
      size: 20,
    },
    autocomplete: { query: q.autocomplete('suggest', 'serv'), size: 8 },
  }
  // Capture a real answer per shape from the engine.
  const real = createSearchClient({ node, engine: 'opensearch', searchTimeout: '30s' })
  const answers: Record<string, string> = {}
  try {
    await real.createIndex(def)
    await real.bulk(def, generate(2_000), { refresh: true } as never)
    const realRaw = await real.raw()
    for (const [name, request] of Object.entries(shapes)) {
      let body = ''
      const listener = (_e: unknown, r: unknown) => {
        body ||= (r as { meta: { request: { params: { body: string } } } }).meta.request.params.body
      }
      realRaw.diagnostic.on('request', listener)
      await real.search(def, request as never)
      realRaw.diagnostic.off('request', listener)
      const answer = await realRaw.transport.request(
        { method: 'POST', path: `/${def.name}/_search`, body: JSON.parse(body) },
        { meta: true },
      )
      answers[name] = JSON.stringify(answer.body)
      answers[`${name}:request`] = body
    }
  } finally {
    await real.deleteIndex(def.name)
    await real.close()
  }
  const child = fork(import.meta.filename, ['--serve'], { execArgv: process.execArgv })
  const port = await new Promise<number>((resolve) => {
    child.once('message', (message) => resolve(message as number))
    child.send(answers)
  })
  const fake = `http://127.0.0.1:${port}`
  const sdk = createSearchClient({ node: fake, engine: 'opensearch' })
  const sdkClient = await sdk.raw()
  const RawCtor = sdkClient.constructor as new (options: Record<string, unknown>) => typeof sdkClient
  try {
    for (const [name, request] of Object.entries(shapes)) {
      const headers = { 'x-shape': name }
      const sdkShape = createSearchClient({ node: fake, engine: 'opensearch', clientOptions: { headers } })
      const built = createBuiltClient({ node: fake, engine: 'opensearch', clientOptions: { headers } })
      const raw = new RawCtor({ node: fake, Transport: OpenSearchTransport, headers })
      const params = { index: def.name, ...(JSON.parse(answers[`${name}:request`] as string) as object) }
      const contenders: Record<string, () => Promise<unknown>> = {
        sdk: () => sdkShape.search(def, request as never),
        'sdk dist/': () => built.search(def, request as never),
        raw: () => raw.search(params),
      }
      const cpu: Record<string, number[]> = {}
      const wall: Record<string, number[]> = {}
      for (let b = -1; b < blocks; b++) {
        const order = Object.entries(contenders)
        if (b % 2 === 1) order.reverse()
        if (b % 3 === 2) order.push(order.shift() as (typeof order)[number])
        for (const [who, fn] of order) {
          const samples: number[] = []
          const start = process.cpuUsage()
          for (let i = 0; i < calls; i++) {
            const t0 = performance.now()
            await fn()
            samples.push(performance.now() - t0)
          }
          const used = process.cpuUsage(start)
          if (b < 0) continue // warm-up block
          push(cpu, who, (used.user + used.system) / calls)
          push(wall, who, ...samples)
        }
      }
      const med = (xs: number[] | undefined) =>
        percentile(
          [...(xs ?? [])].sort((a, b) => a - b),
          0.5,
        )
      const line = Object.keys(contenders)
        .map(
          (who) =>
            `${who}: cpu ${med(cpu[who]).toFixed(1)} us/call, wall p50 ${(med(wall[who]) * 1000).toFixed(0)} us`,
        )
        .join(' | ')
      console.log(
        `${name.padEnd(12)} ${line} | sdk/raw cpu ${(med(cpu.sdk) / med(cpu.raw)).toFixed(2)}x (dist/ ${(med(cpu['sdk dist/']) / med(cpu.raw)).toFixed(2)}x), wall p50 ${(med(wall.sdk) / med(wall.raw)).toFixed(2)}x (dist/ ${(med(wall['sdk dist/']) / med(wall.raw)).toFixed(2)}x) (${(answers[name] as string).length} B answer)`,
      )
      await sdkShape.close()
      await built.close()
      await raw.close()
    }
  } finally {
    await sdk.close()
    child.kill()
  }
}
