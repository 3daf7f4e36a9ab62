/**
 * What the soak reads from the running app besides the load's answers: the figures of one
 * `/metrics` scrape (cache hits by tier and per route, the outbox backlog, the consumer lag) and
 * `/health`'s status, each bounded by a 5 s timeout (a scrape that fails is a gap, never a crash).
 */
import type { AppProcess } from './app-process.js'
import type { Example, PromSample } from './example.js'
import { sum } from './figures.js'

/** Sum of the samples named `name` whose labels include `labels`. */
export function metric(
  samples: readonly PromSample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return sum(
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .map((s) => s.value),
  )
}

/** The figures read from one `/metrics` scrape. */
export function scrapeFigures(samples: readonly PromSample[]) {
  const routes: Record<string, Record<string, number>> = {}
  for (const s of samples) {
    if (s.name !== 'ayala_http_request_cache_events_total') continue
    const route = `${s.labels.method} ${s.labels.route}`
    const result = s.labels.result ?? '?'
    routes[route] ??= {}
    ;(routes[route] as Record<string, number>)[result] =
      ((routes[route] as Record<string, number>)[result] ?? 0) + s.value
  }
  return {
    l1Hits: metric(samples, 'ayala_cache_hits_total', { tier: 'l1' }),
    l2Hits: metric(samples, 'ayala_cache_hits_total', { tier: 'l2' }),
    misses: metric(samples, 'ayala_cache_misses_total'),
    l1Entries: metric(samples, 'ayala_cache_l1_entries'),
    l1Bytes: metric(samples, 'ayala_cache_l1_bytes'),
    outboxPending: metric(samples, 'ayala_outbox_pending_effects'),
    outboxOldestS: Math.max(
      0,
      ...samples.filter((s) => s.name === 'ayala_outbox_oldest_pending_age_seconds').map((s) => s.value),
    ),
    streamLag: metric(samples, 'ayala_stream_consumer_lag'),
    routes,
  }
}
export type Scrape = ReturnType<typeof scrapeFigures>

export function diffRoutes(now: Scrape['routes'], before: Scrape['routes'] | undefined) {
  const out: Record<string, Record<string, number>> = {}
  for (const [route, results] of Object.entries(now)) {
    for (const [result, value] of Object.entries(results)) {
      const delta = value - (before?.[route]?.[result] ?? 0)
      if (delta <= 0) continue
      out[route] ??= {}
      ;(out[route] as Record<string, number>)[result] = delta
    }
  }
  return out
}

export async function scrape(example: Example, app: AppProcess): Promise<Scrape | undefined> {
  try {
    const response = await fetch(`${app.url}/metrics`, { signal: AbortSignal.timeout(5_000) })
    if (response.status !== 200) return undefined
    return scrapeFigures(example.parsePrometheusText(await response.text()))
  } catch (error) {
    console.log(`[soak] /metrics not read: ${(error as Error).message}`)
    return undefined
  }
}

export async function healthStatus(app: AppProcess): Promise<number | string> {
  try {
    const response = await fetch(`${app.url}/health`, { signal: AbortSignal.timeout(5_000) })
    await response.arrayBuffer()
    return response.status
  } catch (error) {
    return (error as Error).name
  }
}
