/**
 * Which node a bounded call went to, so that a node that did not answer within the call's budget
 * is marked dead in the official client's connection pool, as the transport itself marks a node
 * whose request timed out or whose connection failed.
 *
 * The budget of an interactive read (and of `health()`) ends with an abort of the request
 * (`read/bounded-read.ts`), and the transport does not count an abort against the node: it throws
 * `RequestAbortedError` and leaves the pool as it was. A node that accepts connections and never
 * answers (a frozen JVM, a half-open link, a partition that drops packets) then kept its share of
 * the reads, and every read sent to it failed at its deadline: with two nodes, one read in two.
 * The transport's own `requestTimeout` (30 s by default) is far beyond the reads' budgets, and the
 * error of an aborted request carries a redacted copy of the connection, not the pool's object.
 *
 * So the call hands the transport a context holding a {@link NodeAttempt}; the client's transport
 * (`transport.ts`) writes into it the connection each attempt goes to (`getConnection`), and when
 * the deadline wins the call marks that connection dead ({@link markSilentNode}). The pool then
 * sends the next requests elsewhere and tries the node again as it does after a timeout: the
 * default weighted pool lowers the node's weight at each mark (500 -> 491 -> 412 -> 1 with two
 * nodes) and restores it at its first answer. A lone node is never marked (the pool ignores it).
 * A borrowed client (`createSearchClient({ client })`) has its own transport, which this package
 * does not build: there the attempt is read from the client's `diagnostic` `request` event, which
 * the transport emits for each attempt once it has taken a connection from the pool and before it
 * sends the request ({@link recordAttemptsOf}). The mark lands in the application's own pool, as
 * the transport's own timeout would, so the application's other requests avoid the node too.
 */
import type { Client } from '@elastic/elasticsearch'
import { redactUrl } from '../redact.js'

/** The context key under which a bounded call hands its {@link NodeAttempt} to the transport. */
export const NODE_ATTEMPT = Symbol('ayala.search.nodeAttempt')

/** The connection the current attempt of a bounded call went to (the pool's own object). */
export interface NodeAttempt {
  connection: object | null
}

/**
 * A context for a bounded call's transport options. Keyed by a symbol: a client-wide `context`
 * is merged into a copy with `Object.assign`, which copies symbol keys, so the holder survives.
 */
export function attemptContext(attempt: NodeAttempt): Record<symbol, NodeAttempt> {
  return { [NODE_ATTEMPT]: attempt }
}

/** Record the connection an attempt goes to, when the request carries a {@link NodeAttempt}. */
export function recordAttempt(context: unknown, connection: unknown): void {
  if (typeof context !== 'object' || context === null) return
  const attempt = (context as Record<symbol, NodeAttempt | undefined>)[NODE_ATTEMPT]
  if (attempt !== undefined) attempt.connection = typeof connection === 'object' ? connection : null
}

/** The `diagnostic` emitter of an official client (8.x and 9.x). */
interface DiagnosticLike {
  on(event: 'request', listener: (error: unknown, result: unknown) => void): unknown
  off(event: 'request', listener: (error: unknown, result: unknown) => void): unknown
}

const NOTHING_TO_STOP = (): void => undefined

/**
 * Record the attempts of a borrowed client's bounded calls from its `diagnostic` `request`
 * events (see the module note). Returns the function that stops it (the search client's
 * `close()`); a client without a diagnostic emitter records nothing.
 */
export function recordAttemptsOf(client: Client): () => void {
  const diagnostic = (client as unknown as { diagnostic?: Partial<DiagnosticLike> }).diagnostic
  if (typeof diagnostic?.on !== 'function' || typeof diagnostic.off !== 'function') return NOTHING_TO_STOP
  const listener = (_error: unknown, result: unknown): void => {
    const meta = (result as { meta?: { context?: unknown; connection?: unknown } } | null)?.meta
    if (meta !== undefined) recordAttempt(meta.context, meta.connection)
  }
  diagnostic.on('request', listener)
  return () => {
    diagnostic.off?.('request', listener)
  }
}

interface PoolLike {
  markDead?: (connection: object) => unknown
  connections?: ReadonlyArray<{ url?: unknown; status?: unknown; deadCount?: unknown }>
}

/**
 * Mark dead the node a bounded call was waiting on when its deadline won. Returns whether a node
 * was marked (a call that never reached a node, or a lone node, marks nothing).
 */
export function markSilentNode(client: Client | undefined, attempt: NodeAttempt): boolean {
  const connection = attempt.connection
  const pool = client?.connectionPool as PoolLike | undefined
  if (connection === null || typeof pool?.markDead !== 'function') return false
  if ((pool.connections?.length ?? 0) < 2) return false
  pool.markDead(connection)
  return true
}

/** One node of the client's connection pool, as `health()` reports it. */
export interface NodeStatus {
  /** The node's URL, credentials removed. */
  url: string
  /** `false` once the pool marked it dead (a failed, timed-out or silent request), until it answers again. */
  alive: boolean
  /** Consecutive failures the pool counted against the node (0 once it answers). */
  deadCount: number
}

/** The nodes of a client's connection pool and what the pool thinks of each. */
export function nodeStatuses(client: Client): NodeStatus[] {
  const pool = client.connectionPool as PoolLike | undefined
  return (pool?.connections ?? []).map((connection) => ({
    url:
      connection.url instanceof URL || typeof connection.url === 'string'
        ? redactUrl(connection.url)
        : 'unknown node',
    alive: connection.status !== 'dead',
    deadCount: typeof connection.deadCount === 'number' ? connection.deadCount : 0,
  }))
}
