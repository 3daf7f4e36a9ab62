/**
 * The soak's traffic: one autocannon instance per endpoint of the invoicing API, each with a few
 * connections and a fixed overall rate, all running at once against the same app, so the mix is
 * set by the rates (what users ask for) and not by which endpoint happens to answer fastest.
 *
 * | endpoint | what is asked | rate (req/s) | connections |
 * |---|---|---:|---:|
 * | `GET /invoices/:id` hot | 200 ids, uniformly (the same invoices again and again: L1) | 120 | 4 |
 * | `GET /invoices/:id` cold | every other id once, in a shuffled order (first reads: misses) | 40 | 2 |
 * | `GET /search` | one of 16 texts (accents left out, as users type), a third with a status | 15 | 2 |
 * | `GET /autocomplete` | one of 12 prefixes, words and invoice numbers | 30 | 2 |
 * | `GET /dashboard` | the figures | 40 | 2 |
 * | `GET /reports/monthly` | one of 6 month ranges | 6 | 2 |
 * | `PATCH /invoices/:id` | a status, half the time a description, a tenth a due date; half on hot ids | 12 | 2 |
 *
 * Rates are multiplied by `scale`. autocannon's rate is a per-connection budget per second, sent
 * as fast as the connection allows at the start of each second: the load comes as one burst a
 * second, harsher than evenly spaced arrivals (queueing inside the burst shows in the p99). Every
 * choice comes from a seeded PRNG: two runs ask the same questions in the same order per
 * endpoint (which connection sends which of them varies). Latencies are recorded per response as autocannon
 * reports them (from the request's start to the response's end, no coordinated-omission
 * correction), in the current sampling window and in the run's totals; statuses and client-side
 * errors (timeouts, resets) are counted the same way.
 */
import autocannon from 'autocannon'

/** One endpoint of the mix. */
export interface EndpointSpec {
  /** Row name, e.g. `GET /invoices/:id (hot)`. */
  name: string
  method: 'GET' | 'PATCH'
  /** Target requests per second (before `scale`). */
  rate: number
  connections: number
  /** The next request's path and body. */
  next(): { path: string; body?: string | undefined }
}

/** Counts and latencies of one endpoint over a span of time. */
export interface Tally {
  latenciesMs: number[]
  statuses: Record<string, number>
  /** Client-side failures by code (`ETIMEDOUT` for autocannon's timeout, `ECONNRESET`...). */
  errors: Record<string, number>
}

function emptyTally(): Tally {
  return { latenciesMs: [], statuses: {}, errors: {} }
}

/** An endpoint under load: its spec, its current window and its run totals. */
export interface EndpointLoad {
  spec: EndpointSpec
  /** Targeted rate after scaling. */
  rate: number
  total: Tally
  /** Take the window since the last call and start a new one. */
  takeWindow(): Tally
  /** Autocannon's own summary once it ended (its latency percentiles are CO-corrected). */
  result?: autocannon.Result | undefined
}

/** Mulberry32 (the example's seed PRNG too): deterministic floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)] as T

/** Search texts: words of the seeded services, clients and cities, and the soak's own `peritaje`. */
export const SEARCH_TEXTS = [
  'climatizacion',
  'climatizacion urgente',
  'consultoria tributaria',
  'fontaneria',
  'reparacion maquinaria',
  'limpieza oficinas',
  'auditoria seguridad',
  'transporte mercancias',
  'formacion riesgos',
  'malaga',
  'logrono urgente',
  'electronica',
  'papeleria',
  'ferreteria cordoba',
  'peritaje',
  'peritaje climatizacion',
] as const

const AUTOCOMPLETE_TEXTS = [
  'cons',
  'consultoria trib',
  'mant',
  'mantenimiento de cl',
  'ferre',
  'limp',
  'audi',
  'trans',
  'electronica ib',
  'FAC-2026-0001',
  'FAC-2025-000',
  'peri',
] as const

/** The month ranges the report is asked for (the first: no parameters, every month). */
export const REPORT_RANGES: ReadonlyArray<{ from?: string; to?: string }> = [
  {},
  { from: '2025-01', to: '2025-12' },
  { from: '2026-01', to: '2026-11' },
  { from: '2025-06', to: '2026-03' },
  { from: '2026-11', to: '2026-11' },
  { from: '2025-12', to: '2026-02' },
]

/** The path of a report range. */
export function reportPath(range: { from?: string; to?: string }): string {
  return range.from === undefined ? '/reports/monthly' : `/reports/monthly?from=${range.from}&to=${range.to}`
}

const PATCH_DESCRIPTIONS = [
  'Peritaje de climatización urgente',
  'Peritaje de maquinaria según presupuesto',
  'Revisión anual de fontanería',
  'Mantenimiento de climatización mensual',
  'Consultoría tributaria para la sede central',
] as const

/** The mix for a dataset of `invoices` invoices (ids 1..invoices) and these statuses. */
export function invoicingMix(invoices: number, statuses: readonly string[], seed = 14): EndpointSpec[] {
  const random = prng(seed)
  const ids = Array.from({ length: invoices }, (_, i) => i + 1)
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[ids[i], ids[j]] = [ids[j] as number, ids[i] as number]
  }
  const hot = ids.slice(0, Math.min(200, Math.max(1, Math.floor(invoices / 10))))
  const cold = ids.slice(hot.length)
  let coldAt = 0
  const r = {
    hot: prng(seed + 1),
    search: prng(seed + 2),
    autocomplete: prng(seed + 3),
    report: prng(seed + 4),
    patch: prng(seed + 5),
  }
  const query = (text: string) => encodeURIComponent(text)
  return [
    {
      name: 'GET /invoices/:id (hot)',
      method: 'GET',
      rate: 120,
      connections: 4,
      next: () => ({ path: `/invoices/${pick(r.hot, hot)}` }),
    },
    {
      name: 'GET /invoices/:id (cold)',
      method: 'GET',
      rate: 40,
      connections: 2,
      // Each id once; past the end (a long run on a small dataset) the walk starts again.
      next: () => ({ path: `/invoices/${cold[coldAt++ % cold.length]}` }),
    },
    {
      name: 'GET /search',
      method: 'GET',
      rate: 15,
      connections: 2,
      next: () => {
        const text = pick(r.search, SEARCH_TEXTS)
        const status = r.search() < 1 / 3 ? `&status=${pick(r.search, statuses)}` : ''
        return { path: `/search?q=${query(text)}${status}` }
      },
    },
    {
      name: 'GET /autocomplete',
      method: 'GET',
      rate: 30,
      connections: 2,
      next: () => ({ path: `/autocomplete?q=${query(pick(r.autocomplete, AUTOCOMPLETE_TEXTS))}` }),
    },
    {
      name: 'GET /dashboard',
      method: 'GET',
      rate: 40,
      connections: 2,
      next: () => ({ path: '/dashboard' }),
    },
    {
      name: 'GET /reports/monthly',
      method: 'GET',
      rate: 6,
      connections: 2,
      next: () => ({ path: reportPath(pick(r.report, REPORT_RANGES)) }),
    },
    {
      name: 'PATCH /invoices/:id',
      method: 'PATCH',
      rate: 12,
      connections: 2,
      next: () => {
        const id = r.patch() < 0.5 ? pick(r.patch, hot) : pick(r.patch, ids)
        const patch: Record<string, string> = { status: pick(r.patch, statuses) }
        if (r.patch() < 0.5) patch.description = pick(r.patch, PATCH_DESCRIPTIONS)
        if (r.patch() < 0.1) {
          const day = 1 + Math.floor(r.patch() * 28)
          patch.dueAt = `2027-0${1 + Math.floor(r.patch() * 9)}-${String(day).padStart(2, '0')}`
        }
        return { path: `/invoices/${id}`, body: JSON.stringify(patch) }
      },
    },
  ]
}

/** A running load: every endpoint of the mix at once. */
export interface RunningLoad {
  endpoints: EndpointLoad[]
  /** Resolves when every instance ended (after `durationS`, or `stop()`). */
  done: Promise<void>
  stop(): void
}

/** Start every endpoint of `mix` against `url` for `durationS` seconds, rates times `scale`. */
export function startLoad(url: string, mix: EndpointSpec[], durationS: number, scale: number): RunningLoad {
  const instances: autocannon.Instance[] = []
  const endpoints: EndpointLoad[] = []
  const finished: Array<Promise<void>> = []
  for (const spec of mix) {
    const total = emptyTally()
    let window = emptyTally()
    const endpoint: EndpointLoad = {
      spec,
      rate: Math.max(1, Math.round(spec.rate * scale)),
      total,
      takeWindow() {
        const taken = window
        window = emptyTally()
        return taken
      },
    }
    const count = (record: Record<string, number>, key: string) => {
      record[key] = (record[key] ?? 0) + 1
    }
    let settle: (error: Error | null) => void = () => undefined
    finished.push(
      new Promise<void>((resolve, reject) => {
        settle = (error) => (error ? reject(error) : resolve())
      }),
    )
    const instance = autocannon(
      {
        url,
        connections: spec.connections,
        overallRate: endpoint.rate,
        duration: durationS,
        timeout: 10,
        headers: spec.method === 'PATCH' ? { 'content-type': 'application/json' } : {},
        requests: [
          {
            method: spec.method,
            setupRequest: (request) => {
              const next = spec.next()
              request.path = next.path
              if (next.body !== undefined) request.body = next.body
              return request
            },
          },
        ],
      },
      (error, result) => {
        endpoint.result = result
        settle(error ?? null)
      },
    )
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      total.latenciesMs.push(responseTime)
      window.latenciesMs.push(responseTime)
      count(total.statuses, String(statusCode))
      count(window.statuses, String(statusCode))
    })
    instance.on('reqError', (error: { code?: string; message?: string }) => {
      const code = error?.code ?? error?.message ?? 'error'
      count(total.errors, code)
      count(window.errors, code)
    })
    instances.push(instance)
    endpoints.push(endpoint)
  }
  return {
    endpoints,
    done: Promise.all(finished).then(() => undefined),
    stop() {
      for (const instance of instances) instance.stop()
    },
  }
}
