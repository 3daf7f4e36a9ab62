import type { OutboxEvent } from './sync/outbox-event.js'

/**
 * Every error this package throws is a {@link SearchError} with a stable `code`, so callers
 * branch on codes, never on messages. This module holds the classes and codes only (it imports
 * one type, the leaf `OutboxEvent`): how a transport failure becomes one of them (status,
 * retriable, credentials named, secrets scrubbed) is `engine/engine-error.ts`.
 */

/**
 * Stable error codes of `@ayala/search`.
 *
 * - `E_SEARCH_INVALID_OPTION`: an option passed to a factory or call is invalid.
 * - `E_SEARCH_QUERY_TOO_LONG`: user search text is longer than the configured limit.
 * - `E_SEARCH_UNKNOWN_FIELD`: a query, sort or aggregation names a field the index does not declare.
 * - `E_SEARCH_FIELD_KIND`: a query helper was used on a field of the wrong kind (e.g. `term` on text).
 * - `E_SEARCH_INVALID_VALUE`: a query value has the wrong type for its field (e.g. a string for a number).
 * - `E_SEARCH_INVALID_CURSOR`: a pagination cursor is malformed, of another version, edited (it fails
 *   its checksum), issued for another request, or refused by the engine (its point in time is gone).
 * - `E_SEARCH_ENGINE`: the engine answered with an error or could not be reached (outside the
 *   interactive reads, which answer `E_SEARCH_UNAVAILABLE` instead).
 * - `E_SEARCH_UNAVAILABLE`: an interactive read (`search`, `suggest`, `get`) could not be answered
 *   within its budget: timed out, refused, reset, 429/502-504, or refused at once by the open
 *   circuit breaker. Always `retriable`; a {@link SearchUnavailableError} with `reason`.
 * - `E_SEARCH_AUTH`: the engine (or a proxy in front of it) refused the credentials (HTTP 401) or
 *   their permissions (403). The message names the engine URL and the user, never the secret.
 * - `E_SEARCH_ANALYSIS_MISSING`: the engine refused to create an index (or its template) because
 *   it lacks a module the definition's presets need (`analysis-common`: the Spanish preset,
 *   folded keywords, identifiers, autocomplete; `mapper-extras`: `search_as_you_type`,
 *   `scaled_float`). An {@link AnalysisMissingError} naming each field that needs it and the
 *   declaration that does not. Not retriable.
 * - `E_SEARCH_BULK_FAILED`: some documents of a bulk load were rejected (see `failures`).
 * - `E_SEARCH_REINDEX_FAILED`: a reindex failed and was rolled back.
 * - `E_SEARCH_OUTBOX`: the outbox table could not be read or written (an {@link OutboxEnqueueError}
 *   when events of a write could not be recorded).
 * - `E_SEARCH_RECONCILE`: a reconcile's database side (its `ReconcileSource`) failed.
 * - `E_SEARCH_CLIENT_ENGINE`: the official client given to `createSearchClient({ client })` cannot
 *   talk to the engine it reaches (an `@elastic/elasticsearch` client's product check or
 *   `compatible-with` media types against OpenSearch, a `{ body }`-style 7.x client, or another
 *   engine than the `engine` option names). Not retriable: the client must be built differently.
 */
export type SearchErrorCode =
  | 'E_SEARCH_INVALID_OPTION'
  | 'E_SEARCH_QUERY_TOO_LONG'
  | 'E_SEARCH_UNKNOWN_FIELD'
  | 'E_SEARCH_FIELD_KIND'
  | 'E_SEARCH_INVALID_VALUE'
  | 'E_SEARCH_INVALID_CURSOR'
  | 'E_SEARCH_ENGINE'
  | 'E_SEARCH_UNAVAILABLE'
  | 'E_SEARCH_AUTH'
  | 'E_SEARCH_ANALYSIS_MISSING'
  | 'E_SEARCH_BULK_FAILED'
  | 'E_SEARCH_REINDEX_FAILED'
  | 'E_SEARCH_OUTBOX'
  | 'E_SEARCH_RECONCILE'
  | 'E_SEARCH_CLIENT_ENGINE'

/** Context carried by a {@link SearchError}. */
export interface SearchErrorContext {
  /** The index involved, when there is one. */
  index?: string | undefined
  /** The field involved, when there is one. */
  field?: string | undefined
  /** HTTP status of the engine's answer, when there is one. */
  status?: number | undefined
  /** Whether retrying the same call may succeed. @default false */
  retriable?: boolean | undefined
  /** The underlying error. */
  cause?: unknown
}

/** Base class of every error thrown by `@ayala/search`. */
export class SearchError extends Error {
  override readonly name: string = 'SearchError'
  /** Stable, documented code. */
  readonly code: SearchErrorCode
  /** The index involved, when there is one. */
  readonly index: string | undefined
  /** The field involved, when there is one. */
  readonly field: string | undefined
  /** HTTP status of the engine's answer, when there is one. */
  readonly status: number | undefined
  /** Whether retrying the same call may succeed. */
  readonly retriable: boolean

  constructor(code: SearchErrorCode, message: string, context: SearchErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause })
    this.code = code
    this.index = context.index
    this.field = context.field
    this.status = context.status
    this.retriable = context.retriable ?? false
  }
}

/** A declared field that needs the missing module, and the declaration that does without it. */
export interface AnalysisMissingField {
  /** The field's name. */
  readonly field: string
  /** What it is declared as, e.g. `field.text() (the Spanish preset, analyzer: 'spanish')`. */
  readonly declared: string
  /** The declaration that needs no such module, e.g. `field.text({ analyzer: 'standard' })`; undefined when none does. */
  readonly instead: string | undefined
}

/** Context of an {@link AnalysisMissingError}. */
export interface AnalysisMissingContext extends SearchErrorContext {
  /** The engine module missing: `analysis-common` or `mapper-extras`. */
  module: 'analysis-common' | 'mapper-extras'
  /** The component the engine did not know, e.g. `filter asciifolding`, `field type scaled_float`. */
  component: string
  /** The definition's fields that need the module. */
  fields: readonly AnalysisMissingField[]
}

/**
 * The engine cannot create the index because it lacks a module the definition's presets need
 * (`E_SEARCH_ANALYSIS_MISSING`, not retriable): `Unknown filter type [asciifolding]` and its
 * kin. Every official Elasticsearch and OpenSearch distribution ships `analysis-common` and
 * `mapper-extras`; a node assembled from the server jars alone does not. `fields` names each
 * declaration that needs the module and the one that does without it (`field.text({ analyzer:
 * 'standard' })` for the Spanish preset).
 */
export class AnalysisMissingError extends SearchError {
  override readonly name: string = 'AnalysisMissingError'
  /** The engine module missing. */
  readonly module: 'analysis-common' | 'mapper-extras'
  /** The component the engine did not know (`filter asciifolding`). */
  readonly component: string
  /** The definition's fields that need the module, with the declaration to use instead. */
  readonly fields: readonly AnalysisMissingField[]

  constructor(message: string, context: AnalysisMissingContext) {
    super('E_SEARCH_ANALYSIS_MISSING', message, { ...context, retriable: false })
    this.module = context.module
    this.component = context.component
    this.fields = Object.freeze([...context.fields])
  }
}

/** One document the engine refused, with the reason it gave. */
export interface BulkFailure {
  /** Document id. */
  id: string
  /** HTTP status of the item (e.g. 400 for a mapping conflict, 429 after retries ran out). */
  status: number
  /** Engine error type, e.g. `document_parsing_exception`. */
  type: string
  /** Engine error reason, human readable. */
  reason: string
}

/** Thrown by a bulk load that finished with rejected documents: each one is in `failures`. */
export class BulkIndexError extends SearchError {
  override readonly name: string = 'BulkIndexError'
  /** Every rejected document with its reason. */
  readonly failures: readonly BulkFailure[]

  constructor(failures: readonly BulkFailure[], context: SearchErrorContext = {}) {
    super(
      'E_SEARCH_BULK_FAILED',
      `${failures.length} document(s) were rejected; first: ${failures[0]?.id} (${failures[0]?.type}: ${failures[0]?.reason})`,
      context,
    )
    this.failures = failures
  }
}

/**
 * Outbox events of a repository write could not be recorded (`E_SEARCH_OUTBOX`). Thrown by
 * `@IndexOnWrite` / `indexOnWrite` for a write made outside a transaction, which has already
 * committed: `events` are the ones to record again (`outbox.enqueue(db, error.events)`) once the
 * database is reachable, or the document to reindex.
 */
export class OutboxEnqueueError extends SearchError {
  override readonly name: string = 'OutboxEnqueueError'
  /** The events that were not recorded. */
  readonly events: readonly OutboxEvent[]

  constructor(events: readonly OutboxEvent[], message: string, context: SearchErrorContext = {}) {
    super('E_SEARCH_OUTBOX', message, { index: events[0]?.index, retriable: true, ...context })
    this.events = events
  }
}

/** Why an interactive read was not answered (see {@link SearchUnavailableError}). */
export type SearchUnavailableReason =
  /** The budget (`searchTimeout` or the call's `timeout`) passed with no answer: a hung engine or link. */
  | 'timeout'
  /** The connection was refused, reset or could not be made. */
  | 'connection'
  /** The engine answered 429 or 502-504 (overloaded, restarting, a proxy without upstream). */
  | 'overloaded'
  /** The circuit breaker is open: refused at once, without a request. */
  | 'circuit-open'

/** Context of a {@link SearchUnavailableError}. */
export interface SearchUnavailableContext extends SearchErrorContext {
  /** Why. */
  reason: SearchUnavailableReason
  /** The read that failed: `search`, `suggest` or `get`. */
  operation: string
  /** The budget of the call, in ms. */
  budgetMs: number
  /** With `reason: 'circuit-open'`: ms until the breaker lets a probe through. */
  retryAfterMs?: number | undefined
}

/**
 * An interactive read could not be answered within its budget (`E_SEARCH_UNAVAILABLE`, always
 * `retriable`). Map it to HTTP 503, or answer from a fallback (the `fallback` option).
 */
export class SearchUnavailableError extends SearchError {
  override readonly name: string = 'SearchUnavailableError'
  /** Why: `timeout`, `connection`, `overloaded` or `circuit-open`. */
  readonly reason: SearchUnavailableReason
  /** The read that failed: `search`, `suggest` or `get`. */
  readonly operation: string
  /** The budget of the call, in ms. */
  readonly budgetMs: number
  /** Ms until an open breaker lets a probe through (0 unless `reason` is `circuit-open`). */
  readonly retryAfterMs: number

  constructor(message: string, context: SearchUnavailableContext) {
    super('E_SEARCH_UNAVAILABLE', message, { ...context, retriable: true })
    this.reason = context.reason
    this.operation = context.operation
    this.budgetMs = context.budgetMs
    this.retryAfterMs = context.retryAfterMs ?? 0
  }
}
