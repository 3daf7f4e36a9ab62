/**
 * The load of the `nest-cache-manager` scenario: autocannon against one route of a contender's
 * application, cycling over the same key set (`KEYS` invoice ids, each connection walking the
 * list in order). The scenario first fills the cache (`fill`: every key once, so the measured
 * requests are hits) and warms the whole process up (`warm`, every route: the first route loaded
 * in a fresh process was seen at a third of its later throughput), then measures. Figures: requests per second, mean latency and p50/p99 (ms; autocannon's
 * percentiles are whole milliseconds, its mean has two decimals), non-2xx and errors.
 */
import autocannon from 'autocannon'

/** The two routes of the application. */
export type Route = 'invoices' | 'wrapped'

/** Invoice ids cycled by every connection. */
export const KEYS = 200

/** One measured run. */
export interface LoadFigures {
  requestsPerSec: number
  /** Mean latency (ms, two decimals: autocannon's percentiles are whole milliseconds). */
  meanMs: number
  p50Ms: number
  p99Ms: number
  requests: number
  non2xx: number
  errors: number
}

function run(url: string, path: string, seconds: number, connections: number): Promise<autocannon.Result> {
  const requests = Array.from({ length: KEYS }, (_, i) => ({ method: 'GET' as const, path: `/${path}/${i}` }))
  return autocannon({ url, connections, duration: seconds, requests, timeout: 10 })
}

/** Request every key of `path` once (the cache is filled: the measured requests are hits). */
export async function fill(url: string, path: Route): Promise<void> {
  for (let i = 0; i < KEYS; i++) {
    const response = await fetch(`${url}/${path}/${i}`)
    if (response.status !== 200) throw new Error(`GET /${path}/${i} answered ${response.status}`)
    await response.arrayBuffer()
  }
}

/** Load `path` for `seconds` without keeping the figures (JIT, connection pools, Redis clients). */
export async function warm(url: string, path: Route, seconds: number, connections: number): Promise<void> {
  await run(url, path, seconds, connections)
}

/** Measure `seconds` of load on `path`. */
export async function measure(
  url: string,
  path: Route,
  options: { seconds: number; connections: number },
): Promise<LoadFigures> {
  const result = await run(url, path, options.seconds, options.connections)
  return {
    requestsPerSec: result.requests.average,
    meanMs: result.latency.mean,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  }
}
