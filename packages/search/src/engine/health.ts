/**
 * `health()`: the cluster's health plus the client's own figures (search latency, the breaker's
 * state). It never throws and answers within its `timeout` (the engine detection and the request
 * included; default 5 s) by the same deadline race as the interactive reads, but it is not gated
 * by the breaker: it is how an operator sees the engine while searches are refused. Refused
 * credentials read `unauthorized`, anything else that fails `unreachable`. `nodes` lists what the
 * client's connection pool thinks of each node (a node that held a request past its deadline is
 * marked dead, `node-attempt.ts`).
 */
import { setDeadline } from '@ayala/internal'
import { type Duration, toMs } from '../duration.js'
import { SearchError } from '../errors.js'
import type { LatencySnapshot } from '../observability/latency-histogram.js'
import type { BreakerState } from '../read/circuit-breaker.js'
import { DEADLINE, dropLateOutcome } from '../read/deadline.js'
import type { EngineKind } from './adapters.js'
import type { ClientState } from './client-state.js'
import { connect } from './connection.js'
import { engineError } from './engine-error.js'
import {
  attemptContext,
  markSilentNode,
  type NodeAttempt,
  type NodeStatus,
  nodeStatuses,
} from './node-attempt.js'

/** Result of {@link SearchClient.health}. */
export interface HealthReport {
  /** `true` when the cluster answered and is green or yellow. */
  ok: boolean
  /** Engine flavour. */
  engine: EngineKind
  /** Cluster status, `unreachable`, or `unauthorized` (the credentials were refused: 401/403). */
  status: 'green' | 'yellow' | 'red' | 'unreachable' | 'unauthorized'
  /** Round-trip of the health call in ms. */
  latencyMs: number
  /** Search latency figures since start (or the last reset). */
  searchLatency: LatencySnapshot
  /** The interactive reads' circuit breaker (`open`: searches are refused at once). */
  breaker: BreakerState
  /** The error, when unreachable (or the credentials were refused). */
  error?: SearchError | undefined
  /**
   * The nodes of the client's connection pool and whether the pool counts each alive (a node
   * marked dead by a failed, timed-out or silent request is tried again later, and alive again
   * at its first answer). Absent before the client exists (`engine: 'auto'` not detected yet).
   */
  nodes?: NodeStatus[] | undefined
}

/** The client's health report (see the module note). */
export async function health(
  state: ClientState,
  options: { timeout?: Duration | undefined },
): Promise<HealthReport> {
  const started = performance.now()
  const budgetMs = toMs(options.timeout ?? '5s', 'timeout')
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  // The verdict after the loop has read its sockets, as the reads' budget (read/bounded-read.ts):
  // a held process must not report unreachable an engine whose answer waits in the socket.
  const deadline = new Promise<never>((_, reject) => {
    timer = setDeadline(budgetMs, reject, DEADLINE)
  })
  const attempt: NodeAttempt = { connection: null }
  const work = connect(state).then(async ({ client, adapter }) => {
    const answer = await client.cluster.health(
      { timeout: `${Math.max(1, Math.floor(budgetMs))}ms` },
      { signal: controller.signal, maxRetries: state.readRetries, context: attemptContext(attempt) },
    )
    return { kind: adapter.kind, status: String(answer.status).toLowerCase() as 'green' | 'yellow' | 'red' }
  })
  work.catch(dropLateOutcome)
  try {
    const { kind, status } = await Promise.race([work, deadline])
    return {
      ok: status !== 'red',
      engine: kind,
      status,
      latencyMs: performance.now() - started,
      searchLatency: state.latency.snapshot(),
      breaker: state.breaker.state,
      nodes: poolNodes(state),
    }
  } catch (error) {
    if (error === DEADLINE) {
      // As a read's deadline (read/bounded-read.ts): the node that held the request is marked.
      controller.abort()
      markSilentNode(state.ready?.client, attempt)
    }
    const failure =
      error === DEADLINE
        ? new SearchError('E_SEARCH_ENGINE', `Search engine health: no answer within ${budgetMs} ms`, {
            retriable: true,
          })
        : engineError(error)
    return {
      ok: false,
      engine: state.options.engine === 'opensearch' ? 'opensearch' : 'elasticsearch',
      status: failure.code === 'E_SEARCH_AUTH' ? 'unauthorized' : 'unreachable',
      latencyMs: performance.now() - started,
      searchLatency: state.latency.snapshot(),
      breaker: state.breaker.state,
      error: failure,
      nodes: poolNodes(state),
    }
  } finally {
    clearTimeout(timer)
  }
}

/** The pool's nodes, once the client exists (own or borrowed). */
function poolNodes(state: ClientState): NodeStatus[] | undefined {
  const client = state.ready?.client
  return client === undefined ? undefined : nodeStatuses(client)
}
