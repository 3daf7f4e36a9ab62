/**
 * Options of the request-metrics sink, validated once into a frozen
 * {@link ResolvedRequestMetricsSinkOptions} from {@link DEFAULT_REQUEST_METRICS_SINK_OPTIONS}.
 */
import { hostname } from 'node:os'
import { renamedOption } from '@ayala/internal'
import { type Duration, toMilliseconds } from '../duration.js'
import { rejectUnknownOptions } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import type { RequestMetricsDataStreamSpec } from './request-metrics-data-stream.js'
import { dataStreamParts, type RequestMetricsDocumentContext } from './request-metrics-documents.js'

/** The service the request documents are attributed to. */
export interface RequestMetricsService {
  /** `service.name`. @default 'unknown_service:node' (OpenTelemetry's default) */
  name?: string | undefined
  /** `service.version`. @default none */
  version?: string | undefined
  /** `service.environment` (`production`, `staging`). @default none */
  environment?: string | undefined
}

/** When the write index of the data stream is rolled over (whichever comes first). */
export interface RequestMetricsRollover {
  /** Age of the write index. @default '1d' */
  maxAge?: Duration | undefined
  /** Size of its primary shard, with a unit (`'50gb'`, `'500mb'`). @default '50gb' */
  maxPrimaryShardSize?: string | undefined
}

/** Options of `AyalaRequestMetricsSinkModule.forRoot`. */
export interface RequestMetricsSinkOptions {
  /**
   * Data stream the ECS documents are appended to. The default follows the Elastic naming scheme
   * `<type>-<dataset>-<namespace>` (then `data_stream.*` and `event.dataset` come from it); any
   * lowercase index name works. @default 'logs-ayala.requests-default'
   */
  dataStream?: string | undefined
  /** `service.*` of every document. @default { name: 'unknown_service:node' } */
  service?: RequestMetricsService | undefined
  /**
   * Install the data stream's index template and retention policy at start-up (each only when
   * missing or different; a failure is retried before each write). `false`: they are installed
   * by other means (`installRequestMetricsDataStream` from a deployment script): the application
   * then needs only the right to append to the data stream. @default true
   */
  install?: boolean | undefined
  /**
   * Delete a backing index this long after its rollover (so documents are kept at least this
   * long): an ILM policy on Elasticsearch, an ISM policy on OpenSearch. `false`: no policy (the
   * data stream grows until its indices are deleted by hand). @default '30d'
   */
  retention?: Duration | false | undefined
  /** When the write index rolls over. @default { maxAge: '1d', maxPrimaryShardSize: '50gb' } */
  rollover?: RequestMetricsRollover | undefined
  /** Write `url.path` (the HTTP path, no query string). @default true */
  urlPath?: boolean | undefined
  /**
   * @deprecated Writes the pre-ECS documents (`at`, `route`, `durationMs`, ... of
   * `requestMetricsIndex`) into this plain index, as before, with no template, data stream or
   * retention; one `DeprecationWarning` (`AYALA_NEST_SINK_INDEX`) per process. Not with the
   * data-stream options. Removed in the next minor version: move dashboards to the data stream.
   */
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

/** Defaults of {@link RequestMetricsSinkOptions}. */
export const DEFAULT_REQUEST_METRICS_SINK_OPTIONS = Object.freeze({
  dataStream: 'logs-ayala.requests-default',
  serviceName: 'unknown_service:node',
  install: true,
  retention: '30d' as Duration | false,
  rollover: Object.freeze({ maxAge: '1d' as Duration, maxPrimaryShardSize: '50gb' }),
  urlPath: true,
  flushInterval: '5s' as Duration,
  batchSize: 500,
  maxBuffer: 10_000,
  retries: 2,
})

/** {@link RequestMetricsSinkOptions} after validation. */
export interface ResolvedRequestMetricsSinkOptions {
  /** `'data-stream'`, or `'legacy-index'` with the deprecated `index`. */
  readonly mode: 'data-stream' | 'legacy-index'
  /** The data stream (mode `data-stream`) or the legacy index. */
  readonly target: string
  readonly install: boolean
  readonly spec: RequestMetricsDataStreamSpec
  readonly document: RequestMetricsDocumentContext
  readonly flushIntervalMs: number
  readonly batchSize: number
  readonly maxBuffer: number
  readonly retries: number
}

const KNOWN: ReadonlySet<string> = new Set([
  'dataStream',
  'service',
  'install',
  'retention',
  'rollover',
  'urlPath',
  'index',
  'flushInterval',
  'batchSize',
  'maxBatch',
  'maxBuffer',
  'retries',
])
const DATA_STREAM_ONLY = ['dataStream', 'service', 'install', 'retention', 'rollover', 'urlPath'] as const
const BATCH_SIZE_RENAME = { from: 'maxBatch', to: 'batchSize', code: 'AYALA_NEST_MAXBATCH' } as const
const INDEX_WARNING = 'AYALA_NEST_SINK_INDEX'
let indexWarned = false

/**
 * Index and data stream names the engines accept: lowercase, none of `\ / * ? " < > | , #` or
 * space, not starting with `-`, `_`, `+` or `.`, at most 255 bytes.
 */
const INDEX_NAME = /^[a-z0-9][^A-Z\\/*?"<>|,# ]*$/

function checkName(option: string, value: unknown): string {
  if (typeof value !== 'string' || !INDEX_NAME.test(value) || Buffer.byteLength(value) > 255)
    throw new InvalidOptionError(
      option,
      'expected a lowercase index name (no \\ / * ? " < > | , # or space, not starting with - _ + .)',
    )
  return value
}

function optionalText(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '')
    throw new InvalidOptionError(option, 'expected a non-empty string')
  return value
}

function positiveInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidOptionError(option, 'expected a positive integer')
  return value
}

function resolveSpec(options: RequestMetricsSinkOptions, dataStream: string): RequestMetricsDataStreamSpec {
  const retention = options.retention ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.retention
  const retentionMs = retention === false ? false : toMilliseconds(retention, 'retention')
  if (retentionMs !== false && retentionMs < 1_000)
    throw new InvalidOptionError('retention', 'must be at least 1 s (or false)')
  const rollover = options.rollover ?? {}
  rejectUnknownOptions(rollover, ['maxAge', 'maxPrimaryShardSize'], 'rollover')
  const maxAgeMs = toMilliseconds(
    rollover.maxAge ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.rollover.maxAge,
    'rollover.maxAge',
  )
  if (maxAgeMs < 1_000) throw new InvalidOptionError('rollover.maxAge', 'must be at least 1 s')
  const size =
    rollover.maxPrimaryShardSize ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.rollover.maxPrimaryShardSize
  if (typeof size !== 'string' || !/^[1-9][0-9]*(b|kb|mb|gb|tb|pb)$/.test(size))
    throw new InvalidOptionError('rollover.maxPrimaryShardSize', "expected a size with a unit, e.g. '50gb'")
  return Object.freeze({
    dataStream,
    retentionMs,
    rolloverMaxAgeMs: maxAgeMs,
    rolloverMaxPrimaryShardSize: size,
  })
}

function resolveDocument(
  options: RequestMetricsSinkOptions,
  dataStream: string,
): RequestMetricsDocumentContext {
  const service = options.service ?? {}
  rejectUnknownOptions(service, ['name', 'version', 'environment'], 'service')
  const urlPath = options.urlPath ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.urlPath
  if (typeof urlPath !== 'boolean') throw new InvalidOptionError('urlPath', 'expected a boolean')
  const parts = dataStreamParts(dataStream)
  return Object.freeze({
    serviceName:
      optionalText('service.name', service.name) ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.serviceName,
    serviceVersion: optionalText('service.version', service.version),
    serviceEnvironment: optionalText('service.environment', service.environment),
    hostName: hostname(),
    dataStream: parts === undefined ? undefined : Object.freeze(parts),
    dataset: parts?.dataset ?? 'ayala.requests',
    urlPath,
  })
}

/** Validate `options` (unknown keys are rejected by name) and freeze the result. */
export function resolveRequestMetricsSinkOptions(
  options: RequestMetricsSinkOptions = {},
): ResolvedRequestMetricsSinkOptions {
  rejectUnknownOptions(options, KNOWN)
  const legacy = options.index !== undefined
  if (legacy) {
    const given = DATA_STREAM_ONLY.filter((key) => options[key] !== undefined)
    if (given.length > 0)
      throw new InvalidOptionError(
        'index',
        `the deprecated "index" (legacy documents in a plain index) cannot be combined with ${given.map((k) => `"${k}"`).join(', ')}: drop "index" to write the data stream`,
      )
    if (!indexWarned) {
      indexWarned = true
      process.emitWarning(
        'option "index" of AyalaRequestMetricsSinkModule is deprecated: it writes the legacy documents (at, route, durationMs) into a plain index; drop it to write ECS documents into the data stream "logs-ayala.requests-default" (see docs/kibana.md)',
        { type: 'DeprecationWarning', code: INDEX_WARNING },
      )
    }
  }
  const target = legacy
    ? checkName('index', options.index)
    : checkName('dataStream', options.dataStream ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.dataStream)
  if (target.startsWith('.ds-')) throw new InvalidOptionError('dataStream', 'must not start with ".ds-"')
  const install = options.install ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.install
  if (typeof install !== 'boolean') throw new InvalidOptionError('install', 'expected a boolean')
  const flushIntervalMs = toMilliseconds(
    options.flushInterval ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.flushInterval,
    'flushInterval',
  )
  if (flushIntervalMs < 1) throw new InvalidOptionError('flushInterval', 'must be at least 1 ms')
  const batchSize =
    renamedOption<number>(
      options,
      BATCH_SIZE_RENAME,
      (message) => new InvalidOptionError('maxBatch', message),
    ) ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.batchSize
  const retries = options.retries ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.retries
  if (!Number.isInteger(retries) || retries < 0)
    throw new InvalidOptionError('retries', 'expected an integer >= 0')
  return Object.freeze({
    mode: legacy ? 'legacy-index' : 'data-stream',
    target,
    install,
    spec: resolveSpec(options, target),
    document: resolveDocument(options, target),
    flushIntervalMs,
    batchSize: positiveInteger('batchSize', batchSize),
    maxBuffer: positiveInteger(
      'maxBuffer',
      options.maxBuffer ?? DEFAULT_REQUEST_METRICS_SINK_OPTIONS.maxBuffer,
    ),
    retries,
  })
}
