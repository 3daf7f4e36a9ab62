/**
 * Bounded interactive reads. `search`, `suggest` and `get` run through {@link boundedRead}: one
 * budget per call (`timeout` > `searchTimeout` > 1 s) covers the engine detection, the request
 * and its retries, enforced by an abort signal handed to the transport and by a race against the
 * deadline (`deadline.ts`); retries go only to other nodes (`min(retries, nodes - 1)`), so a
 * lone dead node is not retried inside the budget. A consecutive-failure circuit breaker in front
 * (`circuit-breaker.ts`) refuses reads at once while the engine is known down and lets one probe
 * through per cooldown. Unavailability is `E_SEARCH_UNAVAILABLE` (always retriable), never a
 * hang; a fallback (per call, or the client's `fallback`: `fallback.ts`) may answer instead, and
 * its result says `degraded`. Everything else (bulk, reindex, reconcile, PIT paging, the outbox)
 * keeps the transport's longer `requestTimeout` and retries, and is not gated by the breaker:
 * background work has its own retries and must not be shed.
 *
 * Every call the breaker lets through reports a success or a failure to it, so a half-open probe
 * always settles the state. Only unavailability counts as a failure (no answer in time, a refused
 * or reset link, 429 and 502-504); an engine that answers 400, 401 or 404 is up.
 *
 * The budget's verdict is taken once the loop has read its sockets (`setDeadline` of
 * `@ayala/internal`): a timer that fires late (the process held by a long task, a GC pause, busy
 * cores) must not fail a read whose answer was received in time and waits in the socket. An
 * answer read meanwhile has won the race, so the later rejection changes nothing; the request
 * is aborted only when the deadline won the race, so a read that succeeded is never aborted. The
 * budget is not handed to the transport as the request's `requestTimeout` either: the transport
 * would arm a timer of its own for it, without that rule, and abort in the timers phase a request
 * whose answer waits in the socket (a held process then failed 8 reads of 12 with the
 * transport's `TimeoutError`, test/integration/read/held-process.test.ts). Each attempt keeps the
 * client's own `requestTimeout` (the transport's default undici pool applies it to every request
 * anyway: a shorter one bounded the reads before too); the deadline ends the read, and its abort
 * the attempt. The node that attempt waited on is then marked dead in the client's pool
 * (`engine/node-attempt.ts`): the transport counts a timeout or a refused link against a node but
 * not an abort, so a node that accepts and never answers kept its share of the reads, each failing
 * at its deadline; marked, it gets the next ones only as a node that timed out would.
 */
import { setDeadline } from '@ayala/internal'
import type { Client, TransportRequestOptions } from '@elastic/elasticsearch'
import { type Duration, toMs } from '../duration.js'
import type { ClientState } from '../engine/client-state.js'
import { connect } from '../engine/connection.js'
import { engineError, isTransportFailure } from '../engine/engine-error.js'
import { recordSearch } from '../engine/instrument.js'
import { attemptContext, markSilentNode, type NodeAttempt } from '../engine/node-attempt.js'
import { SearchError, SearchUnavailableError, type SearchUnavailableReason } from '../errors.js'
import { DEADLINE, dropLateOutcome } from './deadline.js'

/** The interactive reads. */
export type ReadOperation = 'search' | 'suggest' | 'get'

/**
 * Run one interactive read within its budget and behind the breaker. Resolves with the answer,
 * or rejects no later than `budgetMs` after the call: `E_SEARCH_UNAVAILABLE` when the engine
 * did not answer (timeout, connection, 429/502-504, breaker open), else the engine's error.
 */
export async function boundedRead<T>(
  state: ClientState,
  operation: ReadOperation,
  index: string,
  body: Record<string, unknown>,
  timeout: Duration | undefined,
  run: (client: Client, options: TransportRequestOptions) => Promise<T>,
): Promise<T> {
  const budgetMs = timeout === undefined ? state.options.searchTimeoutMs : toMs(timeout, 'timeout')
  const reads = state.reads
  reads.reads++
  if (!state.breaker.allow()) {
    reads.unavailable++
    reads.rejected++
    const retryAfterMs = state.breaker.retryAfterMs()
    throw new SearchUnavailableError(
      `Search engine unavailable (${operation} on "${index}"): the circuit breaker is open after ${state.options.breakerThreshold} consecutive failures; next probe in ${Math.ceil(retryAfterMs)} ms`,
      { index, operation, budgetMs, reason: 'circuit-open', retryAfterMs },
    )
  }
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    // After the loop has read its sockets (see the module note).
    timer = setDeadline(budgetMs, reject, DEADLINE)
  })
  // No `requestTimeout: budgetMs` (see the module note): the budget is the deadline's. The
  // context learns which node each attempt went to (a silent one is marked dead below).
  const attempt: NodeAttempt = { connection: null }
  const requestOptions: TransportRequestOptions = {
    signal: controller.signal,
    maxRetries: state.readRetries,
    context: attemptContext(attempt),
  }
  // An established connection is used at once; otherwise the detection runs inside the budget.
  const ready = state.ready
  let work: Promise<T>
  if (ready === undefined) work = connect(state).then(({ client }) => run(client, requestOptions))
  else {
    try {
      work = run(ready.client, requestOptions)
    } catch (error) {
      work = Promise.reject(error)
    }
  }
  work.catch(dropLateOutcome)
  const started = performance.now()
  try {
    const result = await Promise.race([work, deadline])
    state.breaker.success()
    return result
  } catch (error) {
    // The deadline won: stop the request (the transport's retries too), and tell the pool the
    // node it waited on did not answer (the abort alone counts nothing). Never after a success.
    if (error === DEADLINE) {
      controller.abort()
      if (markSilentNode(state.ready?.client, attempt)) reads.silentNodes++
    }
    throw readFailure(state, error, operation, index, budgetMs)
  } finally {
    clearTimeout(timer)
    recordSearch(state, index, body, performance.now() - started)
  }
}

/** Classify a read's failure, tell the breaker, and return the error to reject with. */
function readFailure(
  state: ClientState,
  error: unknown,
  operation: string,
  index: string,
  budgetMs: number,
): SearchError {
  // The detection wraps its failure in a SearchError; classify by what it wraps.
  const cause = error instanceof SearchError && error.code === 'E_SEARCH_ENGINE' ? error.cause : error
  const status = error instanceof SearchError ? error.status : engineError(error).status
  let reason: SearchUnavailableReason | undefined
  if (cause === DEADLINE || (cause instanceof Error && cause.name === 'RequestAbortedError'))
    reason = 'timeout'
  else if (cause instanceof Error && cause.name === 'TimeoutError') reason = 'timeout'
  else if (isTransportFailure(cause)) reason = 'connection'
  else if (status === 429 || status === 502 || status === 503 || status === 504) reason = 'overloaded'
  if (reason === undefined) {
    // The engine answered (400, 401, 404...): it is up.
    state.breaker.success()
    return engineError(error, index)
  }
  state.breaker.failure()
  state.reads.unavailable++
  const detail =
    reason === 'timeout'
      ? `no answer within ${budgetMs} ms`
      : engineError(cause, index).message.replace(/^Search engine request failed: /, '')
  return new SearchUnavailableError(`Search engine unavailable (${operation} on "${index}"): ${detail}`, {
    index,
    operation,
    budgetMs,
    reason,
    status,
    cause: cause === DEADLINE ? undefined : cause,
  })
}
