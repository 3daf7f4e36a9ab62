/**
 * The Kibana/OpenSearch Dashboards view of request metrics: every request the performance
 * interceptor measures becomes one document in a search index, bulk-written in batches.
 *
 * Mechanism: a listener on `PerformanceEvents`' `request` event (the interceptor builds the event
 * only when someone listens) pushes a small document into a bounded buffer; a timer (unref'd) or a
 * full batch flushes it with the search client's bulk indexer, one flush at a time. When the engine
 * is down the buffer stops growing at `maxBuffer` (the oldest documents are dropped and counted), so
 * a search outage never costs the application memory or latency. The last batch is flushed at
 * shutdown.
 */
import { randomUUID } from 'node:crypto'
import { renamedOption } from '@ayala/internal'
import { defineIndex, field, type IndexDefinition, type SearchClient } from '@ayala/search'
import {
  type DynamicModule,
  Logger,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common'
import { type Duration, toMilliseconds } from '../duration.js'
import { rejectUnknownOptions } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import { PerformanceEvents, type RequestEvent } from '../metrics/performance-events.js'
import { AYALA_SEARCH_CLIENT } from './tokens.js'

/** The index definition of request documents (one per request). */
export function requestMetricsIndex(name = 'request-metrics') {
  return defineIndex({
    name,
    id: 'id',
    fields: {
      id: field.keyword(),
      at: field.date(),
      transport: field.keyword(),
      method: field.keyword(),
      route: field.keyword(),
      statusCode: field.integer(),
      durationMs: field.double(),
      slow: field.boolean(),
      l1Hits: field.integer(),
      l2Hits: field.integer(),
      misses: field.integer(),
      bypassed: field.integer(),
    },
  })
}

/** The request-document index type. */
export type RequestMetricsIndex = ReturnType<typeof requestMetricsIndex>

/** Options of {@link AyalaRequestMetricsSinkModule.forRoot}. */
export interface RequestMetricsSinkOptions {
  /** Index (or alias) name; created at start-up when missing. @default 'request-metrics' */
  index?: string | undefined
  /** How often buffered documents are written. @default '5s' */
  flushInterval?: Duration | undefined
  /** Documents per bulk write; a full batch is written at once. @default 500 */
  batchSize?: number | undefined
  /**
   * @deprecated Renamed `batchSize` (one option vocabulary across the SDK); still read, with one
   * `DeprecationWarning` (`AYALA_NEST_MAXBATCH`) per process. Giving both is an error.
   */
  maxBatch?: number | undefined
  /** Documents kept while the engine does not accept them; older ones are dropped. @default 10_000 */
  maxBuffer?: number | undefined
  /** Retries of one bulk write before its documents wait for the next flush. @default 2 */
  retries?: number | undefined
}

/** Figures of the sink (see {@link RequestMetricsSink.stats}). */
export interface RequestMetricsSinkStats {
  /** Documents written. */
  written: number
  /** Documents dropped because the buffer was full. */
  dropped: number
  /** Documents the engine rejected (not retried). */
  rejected: number
  /** Bulk writes that failed (their documents were kept, up to `maxBuffer`). */
  failedFlushes: number
  /** Documents waiting. */
  buffered: number
  /** Documents in the bulk write in progress. */
  writing: number
}

/** Buffers request events and bulk-writes them into the request index. */
export class RequestMetricsSink implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('AyalaRequestMetricsSink')
  private buffer: Array<ReturnType<typeof toDocument>> = []
  private flushing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly counters = { written: 0, dropped: 0, rejected: 0, failedFlushes: 0 }
  private ensured = false
  private writing = 0
  private readonly listener = (event: RequestEvent) => this.push(event)

  constructor(
    private readonly client: SearchClient,
    private readonly events: PerformanceEvents,
    /** The index documents are written to. */
    readonly definition: IndexDefinition<RequestMetricsIndex['fields']>,
    private readonly flushIntervalMs: number,
    private readonly batchSize: number,
    private readonly maxBuffer: number,
    private readonly retries: number,
  ) {}

  /**
   * Start listening, and create the index if missing. An unreachable engine does not stop the
   * application: the index is ensured again before the next write.
   */
  async onModuleInit(): Promise<void> {
    this.events.on('request', this.listener)
    try {
      await this.ensureIndex()
    } catch (error) {
      this.logger.warn(`index "${this.definition.name}" not ensured yet: ${String(error)}`)
    }
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs)
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
    return { ...this.counters, buffered: this.buffer.length, writing: this.writing }
  }

  /** Write the buffered documents now (one flush at a time; resolves when this one is done). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing
    if (this.buffer.length === 0) return
    const batch = this.buffer.splice(0, this.batchSize)
    this.flushing = this.write(batch).finally(() => {
      this.flushing = undefined
    })
    await this.flushing
  }

  private push(event: RequestEvent): void {
    if (this.buffer.length >= this.maxBuffer) {
      this.buffer.shift()
      this.counters.dropped++
    }
    this.buffer.push(toDocument(event))
    if (this.buffer.length >= this.batchSize && this.flushing === undefined) void this.flush()
  }

  private async ensureIndex(): Promise<void> {
    if (this.ensured) return
    const raw = await this.client.raw()
    if (!(await raw.indices.exists({ index: this.definition.name })))
      await this.client.createIndex(this.definition)
    this.ensured = true
  }

  private async write(batch: Array<ReturnType<typeof toDocument>>): Promise<void> {
    this.writing = batch.length
    try {
      await this.ensureIndex()
      // No forced refresh per flush (a small segment every few seconds): the documents become
      // searchable at the index's own refresh interval.
      const report = await this.client.bulk(this.definition, batch, { retries: this.retries, refresh: false })
      this.counters.written += report.indexed
      this.counters.rejected += report.failed
    } catch (error) {
      // The engine is unavailable: keep the batch (bounded by maxBuffer) for the next flush.
      this.counters.failedFlushes++
      const overflow = Math.max(0, batch.length + this.buffer.length - this.maxBuffer)
      this.counters.dropped += overflow
      this.buffer.unshift(...batch.slice(overflow))
      this.logger.warn(`bulk write of ${batch.length} request documents failed: ${String(error)}`)
    } finally {
      this.writing = 0
    }
  }
}

function toDocument(event: RequestEvent) {
  return {
    id: randomUUID(),
    at: new Date(event.at).toISOString(),
    transport: event.transport,
    method: event.method,
    route: event.route,
    statusCode: event.statusCode,
    durationMs: event.durationMs,
    slow: event.slow,
    l1Hits: event.cache?.l1Hits ?? 0,
    l2Hits: event.cache?.l2Hits ?? 0,
    misses: event.cache?.misses ?? 0,
    bypassed: event.cache?.bypassed ?? 0,
  }
}

const SINK_KEYS: ReadonlySet<string> = new Set([
  'index',
  'flushInterval',
  'batchSize',
  'maxBatch',
  'maxBuffer',
  'retries',
])
const BATCH_SIZE_RENAME = { from: 'maxBatch', to: 'batchSize', code: 'AYALA_NEST_MAXBATCH' } as const

/**
 * Writes every measured request into a search index. Needs `PerformanceEvents` (import
 * `AyalaMetricsModule` with `isGlobal: true`) and the search client (`AyalaSearchModule` with
 * `isGlobal: true`).
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class AyalaRequestMetricsSinkModule {
  /** Register the sink. */
  static forRoot(options: RequestMetricsSinkOptions = {}): DynamicModule {
    rejectUnknownOptions(options, SINK_KEYS)
    const flushIntervalMs = toMilliseconds(options.flushInterval ?? '5s', 'flushInterval')
    if (flushIntervalMs < 1) throw new InvalidOptionError('flushInterval', 'must be at least 1 ms')
    const batchSize =
      renamedOption<number>(
        options,
        BATCH_SIZE_RENAME,
        (message) => new InvalidOptionError('maxBatch', message),
      ) ?? 500
    const maxBuffer = options.maxBuffer ?? 10_000
    for (const [name, value] of [
      ['batchSize', batchSize],
      ['maxBuffer', maxBuffer],
    ] as const) {
      if (!Number.isInteger(value) || value < 1)
        throw new InvalidOptionError(name, 'expected a positive integer')
    }
    const retries = options.retries ?? 2
    if (!Number.isInteger(retries) || retries < 0)
      throw new InvalidOptionError('retries', 'expected an integer >= 0')
    const definition = requestMetricsIndex(options.index)
    return {
      module: AyalaRequestMetricsSinkModule,
      providers: [
        {
          provide: RequestMetricsSink,
          useFactory: (client: SearchClient, events: PerformanceEvents) =>
            new RequestMetricsSink(
              client,
              events,
              definition,
              flushIntervalMs,
              batchSize,
              maxBuffer,
              retries,
            ),
          inject: [AYALA_SEARCH_CLIENT, PerformanceEvents],
        },
      ],
      exports: [RequestMetricsSink],
    }
  }
}
