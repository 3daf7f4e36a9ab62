/**
 * The figures of the end-to-end table (`measure.ts`), in a module that imports nothing, so the
 * benchmarks' `e2e` scenario (which loads `measure.ts` by file URL at run time) can import these
 * types statically without dragging the example's sources into its own type-check.
 */

/** Figures of one path at one concurrency. */
export interface RunFigures {
  connections: number
  samples: number
  seconds: number
  p50Ms: number
  p99Ms: number
  requestsPerSecond: number
  non2xx: number
  /** Non-2xx answers by status (`503`: the API shed the request, e.g. the search engine's 1 s budget ran out). */
  statuses: Record<string, number>
  errors: number
  /** Interceptor: mean and bucketed p99 of the route over the run (when the path is on the app). */
  inProcessMeanMs?: number | undefined
  inProcessP99Ms?: number | undefined
  /** Engine time per search over the run (query + fetch, the shard's clock). */
  engineMs?: number | undefined
}

/** A target's runs, per connection count. */
export interface TargetFigures {
  name: string
  route: string
  sqlVia: string | undefined
  note: string | undefined
  served: RunFigures[]
  sql: RunFigures[]
}

/** What `measureTargets` needs. */
export interface MeasureOptions {
  appUrl: string
  connections: readonly number[]
  /** Seconds per run. */
  durationS: number
  /** Below this many expected samples in `durationS` at 1 connection, a path counts as slow. @default 20 */
  minSamples?: number | undefined
  /** Requests of a slow path at 1 connection. @default 5 */
  slowSamples?: number | undefined
  /** The index's search statistics now: queries and their query + fetch milliseconds. */
  engineStats?: (() => Promise<{ queries: number; ms: number }>) | undefined
  log?: ((line: string) => void) | undefined
}
