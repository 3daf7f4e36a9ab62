export type { BulkReport } from './bulk/bulk-indexer.js'
export { bulkIndex } from './bulk/bulk-indexer.js'
export type { BulkOptions, BulkProgress } from './bulk/bulk-options.js'
export { DEFAULT_BULK_OPTIONS } from './bulk/bulk-options.js'
export type { KeysetReaderOptions, SqlQuery } from './bulk/keyset-reader.js'
export { keysetReader } from './bulk/keyset-reader.js'
// Deprecated internals (their own declarations, so the tag reaches the bundled .d.ts).
export {
  CURSOR_VERSION,
  decodeCursor,
  encodeCursor,
  LatencyHistogram,
  queryShape,
} from './deprecated-exports.js'
export type { Duration } from './duration.js'
export type { EngineAdapter, EngineKind } from './engine/adapters.js'
export type { BulkStats, ReadStats, SearchClientEvents, SlowQueryEvent } from './engine/client-state.js'
export type { SearchAuth, SearchTlsOptions } from './engine/credentials.js'
export type { HealthReport } from './engine/health.js'
export type { NodeStatus } from './engine/node-attempt.js'
export type { ResolvedSearchClientOptions, SearchClientOptions, SearchFallbacks } from './engine/options.js'
export { DEFAULT_SEARCH_CLIENT_OPTIONS } from './engine/options.js'
export { createSearchClient, SearchClient } from './engine/search-client.js'
export { OpenSearchTransport } from './engine/transport.js'
export type {
  AnalysisMissingContext,
  AnalysisMissingField,
  BulkFailure,
  SearchErrorCode,
  SearchErrorContext,
  SearchUnavailableContext,
  SearchUnavailableReason,
} from './errors.js'
export {
  AnalysisMissingError,
  BulkIndexError,
  OutboxEnqueueError,
  SearchError,
  SearchUnavailableError,
} from './errors.js'
export { queryFingerprint } from './observability/fingerprint.js'
export type { LatencySnapshot } from './observability/latency-histogram.js'
export type { CursorState } from './paging/cursor.js'
export type {
  AggMap,
  AggRequest,
  AggResult,
  AggResults,
  GetFallback,
  GetOptions,
  GetResult,
  HighlightSpec,
  Hit,
  Page,
  PageRequest,
  SearchDegradation,
  SearchFallback,
  SearchFallbackAnswer,
  SearchRequest,
  SearchResult,
  SortSpec,
} from './query/types.js'
export type { ParsedSimpleQuery, QuerySyntax, SimpleQueryTerm } from './query-text.js'
export { DEFAULT_MAX_QUERY_LENGTH, escapeQueryText, parseSimpleQuery } from './query-text.js'
export type { BreakerState } from './read/circuit-breaker.js'
export type { EnsureIndexOptions, EnsureIndexResult } from './reconcile/ensure-index.js'
export { ensureIndex, indexTemplateName } from './reconcile/ensure-index.js'
export { ensureIndexExists } from './reconcile/index-exists.js'
export type { ReconcileOptions } from './reconcile/options.js'
export { DEFAULT_RECONCILE_OPTIONS } from './reconcile/options.js'
export { splitRange } from './reconcile/ranges.js'
export { reconcile } from './reconcile/reconcile.js'
export type { ReconcilerOptions, ReconcilerStats } from './reconcile/reconciler.js'
export { createReconciler, Reconciler } from './reconcile/reconciler.js'
export type { SqlReconcileSourceOptions } from './reconcile/sql-source.js'
export { sqlReconcileSource } from './reconcile/sql-source.js'
export type {
  KeyRange,
  KeyVersion,
  LoadedDocument,
  RangeDigest,
  ReconcileKey,
  ReconcileReport,
  ReconcileSource,
} from './reconcile/types.js'
export { redactText, redactUrl } from './redact.js'
export type {
  ReindexOptions,
  ReindexPhase,
  ReindexReport,
  VersionedIndexOptions,
} from './reindex/versioned-index.js'
export { DEFAULT_VERSIONED_INDEX_OPTIONS, VersionedIndex, versionedIndex } from './reindex/versioned-index.js'
export { ANALYSIS_NAMES, DEFAULT_PROTECTED_WORDS } from './schema/analysis.js'
export { defineIndex } from './schema/define-index.js'
export type {
  AutocompleteFields,
  CompletionFields,
  DateFields,
  DocumentOf,
  DocumentOfFields,
  IdentifierFields,
  IndexDeclaration,
  IndexDefinition,
  MatchOptions,
  NumericFields,
  Query,
  QueryHelpers,
  RangeBounds,
  RangeFields,
  SortableFields,
  TermFields,
  TextFields,
} from './schema/definition-types.js'
export type {
  AutocompleteFieldDef,
  AutocompleteStrategy,
  BooleanFieldDef,
  DateFieldDef,
  FieldDef,
  FieldKind,
  FieldMap,
  IdentifierFieldDef,
  KeywordFieldDef,
  KeywordNormalizer,
  NumericFieldDef,
  TextAnalyzer,
  TextFieldDef,
  ValueOf,
} from './schema/fields.js'
export { field } from './schema/fields.js'
export type { SqlConnectionSource, SqlExecutor, SqlTransactionalConnection } from './sql.js'
export type { IndexEventResult, IndexEventStatus } from './sync/apply-index-events.js'
export { applyIndexEvents, classifyIndexItem } from './sync/apply-index-events.js'
export type {
  IndexOnWriteOptions,
  InstanceLocator,
  WriteEvents,
  WriteMethod,
  WriteMethodDecorator,
} from './sync/index-on-write.js'
export { IndexOnWrite, indexOnWrite } from './sync/index-on-write.js'
export type { OutboxLag } from './sync/outbox.js'
export { createOutbox, Outbox } from './sync/outbox.js'
export type { DrainResult } from './sync/outbox-drain.js'
export type { OutboxEvent } from './sync/outbox-event.js'
export type { DeadLetterLimitOptions, OutboxOptions, OutboxWorkerOptions } from './sync/outbox-options.js'
export { DEFAULT_OUTBOX_OPTIONS } from './sync/outbox-options.js'
export type { DeadLetter } from './sync/outbox-table.js'
export type { OutboxRetryEvent, OutboxWorkerStats } from './sync/outbox-worker.js'
export { OutboxWorker } from './sync/outbox-worker.js'
