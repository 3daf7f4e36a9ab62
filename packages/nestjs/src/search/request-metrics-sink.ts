/**
 * The Kibana/OpenSearch Dashboards view of request metrics: every request the performance
 * interceptor measures becomes one ECS document appended to a data stream (index template and
 * retention policy installed at start-up: `request-metrics-data-stream.ts`; the document:
 * `request-metrics-documents.ts`), bulk-written in batches.
 *
 * Mechanism: a listener on `PerformanceEvents`' `request` event (the interceptor builds the event
 * only when someone listens) pushes a small document into a bounded buffer; a timer (unref'd) or a
 * full batch flushes it with the search package's bulk indexer (`create`, the only write a data
 * stream takes), one flush at a time. Each document gets its id when it is buffered, so a batch
 * written again after a failure the engine had in fact applied is refused as a duplicate (409)
 * instead of stored twice. When the engine is down, or the set-up has not succeeded yet (it is
 * tried again before each flush), the buffer stops growing at `maxBuffer` (the oldest documents
 * are dropped and counted), so a search outage never costs the application memory or latency.
 * The last batch is flushed at shutdown.
 */
import { randomUUID } from 'node:crypto'
import { bulkIndex, type IndexDefinition, type SearchClient } from '@ayala/search'
import {
  type DynamicModule,
  Logger,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common'
import { RequestMetricsSetupError } from '../errors.js'
import { PerformanceEvents, type RequestEvent } from '../metrics/performance-events.js'
import {
  installRequestMetricsDataStream,
  type RequestMetricsInstallReport,
} from './request-metrics-data-stream.js'
import {
  type EcsRequestDocument,
  ecsRequestDocument,
  legacyRequestDocument,
  type RequestMetricsIndex,
  requestMetricsIndex,
} from './request-metrics-documents.js'
import {
  type RequestMetricsSinkOptions,
  type ResolvedRequestMetricsSinkOptions,
  resolveRequestMetricsSinkOptions,
} from './request-metrics-options.js'
import { AYALA_SEARCH_CLIENT } from './tokens.js'

/** Figures of the sink (see {@link RequestMetricsSink.stats}). */
export interface RequestMetricsSinkStats {
  /** Documents written. */
  written: number
  /** Documents dropped because the buffer was full. */
  dropped: number
  /** Documents the engine rejected (not retried). */
  rejected: number
  /**
   * Flushes that wrote nothing or not everything: a failed bulk write, or a set-up that failed
   * before it (their documents were kept, up to `maxBuffer`).
   */
  failedFlushes: number
  /** Documents waiting. */
  buffered: number
  /** Documents in the bulk write in progress. */
  writing: number
  /**
   * The data stream's set-up (template and policy, or the legacy index): `pending` until it
   * first succeeds, `failed` after a failed attempt (see {@link RequestMetricsSink.setupError};
   * nothing is written meanwhile), `done`.
   */
  setup: 'pending' | 'failed' | 'done'
  /** Set-up attempts that failed. */
  setupFailures: number
}

const ID: unique symbol = Symbol('id')
type Buffered = (EcsRequestDocument | ReturnType<typeof legacyRequestDocument>) & { [ID]?: string }

/** Failures of a whole request (the engine unreachable, retries spent): the documents are kept. */
const TRANSIENT_FAILURES = new Set(['request_failed', 'retries_exhausted', 'missing_item'])
const TRANSIENT_STATUS = new Set([0, 429, 502, 503, 504])

/** Buffers request events and bulk-writes them into the data stream (or the legacy index). */
export class RequestMetricsSink implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('AyalaRequestMetricsSink')
  private buffer: Buffered[] = []
  private flushing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly counters = { written: 0, dropped: 0, rejected: 0, failedFlushes: 0, setupFailures: 0 }
  private setupState: RequestMetricsSinkStats['setup'] = 'pending'
  private lastSetupError: unknown
  private loggedSetupError: string | undefined
  private writing = 0
  private readonly listener = (event: RequestEvent) => this.push(event)
  /**
   * The legacy index definition (only with the deprecated `index` option).
   * @deprecated Goes with the `index` option.
   */
  readonly definition: IndexDefinition<RequestMetricsIndex['fields']> | undefined
  /** What the last install found and did (data stream mode with `install: true`). */
  installReport: RequestMetricsInstallReport | undefined

  constructor(
    private readonly client: SearchClient,
    private readonly events: PerformanceEvents,
    /** The resolved options. */
    readonly options: ResolvedRequestMetricsSinkOptions,
  ) {
    this.definition = options.mode === 'legacy-index' ? requestMetricsIndex(options.target) : undefined
  }

  /** The data stream (or, with the deprecated `index`, the index) documents are written to. */
  get target(): string {
    return this.options.target
  }

  /** Why the last set-up attempt failed (a `RequestMetricsSetupError` in data stream mode). */
  get setupError(): unknown {
    return this.setupState === 'failed' ? this.lastSetupError : undefined
  }

  /**
   * Start listening, and set up the data stream (or the legacy index). A failure does not stop
   * the application: it is logged, and the set-up is tried again before the next write.
   */
  async onModuleInit(): Promise<void> {
    this.events.on('request', this.listener)
    await this.setup()
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs)
    this.timer.unref()
  }

  /** Stop listening and write what is buffered. */
  async onApplicationShutdown(): Promise<void> {
    this.events.off('request', this.listener)
    if (this.timer) clearInterval(this.timer)
    await this.flush()
  }

  /** Current figures. */
  stats(): RequestMetricsSinkStats {
    return {
      written: this.counters.written,
      dropped: this.counters.dropped,
      rejected: this.counters.rejected,
      failedFlushes: this.counters.failedFlushes,
      buffered: this.buffer.length,
      writing: this.writing,
      setup: this.setupState,
      setupFailures: this.counters.setupFailures,
    }
  }

  /** Write the buffered documents now (one flush at a time; resolves when this one is done). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing
    if (this.buffer.length === 0) return
    if (!(await this.setup())) {
      // The documents wait for the next flush (bounded by maxBuffer), as after a failed write.
      this.counters.failedFlushes++
      return
    }
    const batch = this.buffer.splice(0, this.options.batchSize)
    this.flushing = this.write(batch).finally(() => {
      this.flushing = undefined
    })
    await this.flushing
  }

  private push(event: RequestEvent): void {
    if (this.buffer.length >= this.options.maxBuffer) {
      this.buffer.shift()
      this.counters.dropped++
    }
    let document: Buffered
    if (this.options.mode === 'legacy-index') document = legacyRequestDocument(event)
    else {
      document = ecsRequestDocument(event, this.options.document)
      document[ID] = randomUUID()
    }
    this.buffer.push(document)
    if (this.buffer.length >= this.options.batchSize && this.flushing === undefined) void this.flush()
  }

  /** Make sure the target exists as it should; `false` when it could not be done now. */
  private async setup(): Promise<boolean> {
    if (this.setupState === 'done') return true
    try {
      if (this.options.mode === 'legacy-index') {
        const raw = await this.client.raw()
        if (!(await raw.indices.exists({ index: this.options.target })))
          await this.client.createIndex(this.definition as IndexDefinition<RequestMetricsIndex['fields']>)
      } else if (this.options.install) {
        this.installReport = await installRequestMetricsDataStream(this.client, this.options.spec)
        const { template, policy } = this.installReport
        if (template.written || policy?.written)
          this.logger.log(
            `data stream "${this.target}" set up on ${this.installReport.engine}: template ${template.name}${template.written ? ' written' : ' up to date'}${policy ? `, ${policy.kind} policy ${policy.name}${policy.written ? ' written' : ' up to date'}` : ', no retention policy'}`,
          )
      }
      this.setupState = 'done'
      return true
    } catch (error) {
      this.setupState = 'failed'
      this.lastSetupError = error
      this.counters.setupFailures++
      // Logged when the reason changes, not at every flush.
      const text = String(error)
      if (text !== this.loggedSetupError) {
        this.loggedSetupError = text
        const retry =
          error instanceof RequestMetricsSetupError && !error.retriable
            ? ' (fix it or change the options)'
            : ''
        this.logger.warn(`"${this.target}" not set up yet, documents wait${retry}: ${text}`)
      }
      return false
    }
  }

  private async write(batch: Buffered[]): Promise<void> {
    this.writing = batch.length
    try {
      const kept =
        this.options.mode === 'legacy-index' ? await this.writeLegacy(batch) : await this.writeStream(batch)
      if (kept.length > 0) {
        this.counters.failedFlushes++
        this.keep(kept)
      }
    } catch (error) {
      // The engine is unavailable: keep the batch (bounded by maxBuffer) for the next flush.
      this.counters.failedFlushes++
      this.keep(batch)
      this.logger.warn(`bulk write of ${batch.length} request documents failed: ${String(error)}`)
    } finally {
      this.writing = 0
    }
  }

  /** Put documents back at the head of the buffer, dropping the oldest beyond `maxBuffer`. */
  private keep(documents: Buffered[]): void {
    const overflow = Math.max(0, documents.length + this.buffer.length - this.options.maxBuffer)
    this.counters.dropped += overflow
    this.buffer.unshift(...documents.slice(overflow))
  }

  /** Append to the data stream; returns the documents to write again. */
  private async writeStream(batch: Buffered[]): Promise<Buffered[]> {
    const raw = await this.client.raw()
    const report = await bulkIndex(raw, batch, {
      index: this.target,
      action: 'create',
      idOf: (document) => document[ID] as string,
      retries: this.options.retries,
      refresh: false,
    })
    this.counters.written += report.indexed
    if (report.failures.length === 0) return []
    const transient = new Set<string>()
    for (const failure of report.failures) {
      if (TRANSIENT_FAILURES.has(failure.type) || TRANSIENT_STATUS.has(failure.status))
        transient.add(failure.id)
      else this.counters.rejected++
    }
    return batch.filter((document) => transient.has(document[ID] as string))
  }

  private async writeLegacy(batch: Buffered[]): Promise<Buffered[]> {
    const definition = this.definition as IndexDefinition<RequestMetricsIndex['fields']>
    // No forced refresh per flush (a small segment every few seconds): the documents become
    // searchable at the index's own refresh interval.
    const report = await this.client.bulk(
      definition,
      batch as Array<ReturnType<typeof legacyRequestDocument>>,
      {
        retries: this.options.retries,
        refresh: false,
      },
    )
    this.counters.written += report.indexed
    this.counters.rejected += report.failed
    return []
  }
}

/**
 * Writes every measured request as an ECS document into a data stream (see
 * `docs/kibana.md` for the fields and the dashboards). Needs `PerformanceEvents` (import
 * `AyalaMetricsModule` with `isGlobal: true`) and the search client (`AyalaSearchModule` with
 * `isGlobal: true`).
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class AyalaRequestMetricsSinkModule {
  /** Register the sink. Options are validated here (a bad option fails the bootstrap). */
  static forRoot(options: RequestMetricsSinkOptions = {}): DynamicModule {
    const resolved = resolveRequestMetricsSinkOptions(options)
    return {
      module: AyalaRequestMetricsSinkModule,
      providers: [
        {
          provide: RequestMetricsSink,
          useFactory: (client: SearchClient, events: PerformanceEvents) =>
            new RequestMetricsSink(client, events, resolved),
          inject: [AYALA_SEARCH_CLIENT, PerformanceEvents],
        },
      ],
      exports: [RequestMetricsSink],
    }
  }
}
