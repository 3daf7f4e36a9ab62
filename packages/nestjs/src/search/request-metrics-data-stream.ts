/**
 * The data stream of the request documents: its index template and its retention policy, and
 * the idempotent install of both.
 *
 * A data stream is a name that routes appends to a hidden series of backing indices
 * (`.ds-<name>-...`). The composable index template whose pattern is exactly that name makes
 * the first write create it as a data stream with {@link REQUEST_METRICS_MAPPINGS}; the policy
 * rolls the write index over (`rollover.maxAge` or `rollover.maxPrimaryShardSize`, whichever
 * comes first) and deletes a backing index `retention` after its rollover, so each document is
 * kept at least `retention` and at most `retention + rollover.maxAge`, and the data never grows
 * without bound. The two engines spell the policy differently:
 *
 * - Elasticsearch: an ILM policy (`PUT _ilm/policy/<name>`: hot phase with `rollover`, delete
 *   phase at `min_age`), named by the template's `index.lifecycle.name` setting.
 * - OpenSearch: an ISM policy (`PUT _plugins/_ism/policies/<name>`: a `hot` state with
 *   `rollover`, a transition on `min_rollover_age` to a `delete` state), attached to the data
 *   stream's backing indices by its `ism_template` (the data stream name).
 *
 * The engine is the search client's (`engine: 'auto'` detects it once). Idempotence: each object
 * carries a fingerprint of its body (`_meta.fingerprint`; the ISM policy, which has no `_meta`,
 * in its description); install reads each first and writes only a missing or different one, so
 * ten instances starting together write at most once each and then nothing. An ISM update sends
 * the `if_seq_no`/`if_primary_term` read (ISM refuses a blind overwrite); a concurrent create
 * that loses (409) re-reads and is fine when the winner wrote the same body. Changing a template
 * affects only backing indices created later (the next rollover).
 */
import { createHash } from 'node:crypto'
import { redactText } from '@ayala/internal'
import type { EngineKind, SearchClient } from '@ayala/search'
import { RequestMetricsSetupError } from '../errors.js'
import { REQUEST_METRICS_MAPPINGS } from './request-metrics-documents.js'

/** Priority of the index template: above the built-in `logs-*-*` / `metrics-*-*` (100). */
export const REQUEST_METRICS_TEMPLATE_PRIORITY = 500

/** What the template and policy are built from (resolved sink options). */
export interface RequestMetricsDataStreamSpec {
  /** The data stream name. */
  readonly dataStream: string
  /** Delete a backing index this long after its rollover, ms; `false`: no policy. */
  readonly retentionMs: number | false
  /** Roll the write index over at this age, ms. */
  readonly rolloverMaxAgeMs: number
  /** ... or at this primary shard size (`'50gb'`). */
  readonly rolloverMaxPrimaryShardSize: string
}

/** What {@link installRequestMetricsDataStream} found and did. */
export interface RequestMetricsInstallReport {
  /** The engine the client talks to. */
  engine: EngineKind
  /** The data stream. */
  dataStream: string
  /** The template's name, and whether it was written now (`false`: it was already up to date). */
  template: { name: string; written: boolean }
  /** The policy (ILM or ISM), when `retention` is set. */
  policy: { kind: 'ilm' | 'ism'; name: string; written: boolean } | undefined
}

/** Name of the template and of the policy of `dataStream`. */
export function requestMetricsObjectName(dataStream: string): string {
  return `ayala-${dataStream}`
}

/** A duration in ms as an engine time value (`30d`, `12h`, `90m`, `45s`, `250ms`). */
export function engineTimeValue(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${Math.round(ms)}ms`
}

function fingerprint(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16)
}

/** The composable index template body of the data stream (without its fingerprint). */
export function requestMetricsTemplate(spec: RequestMetricsDataStreamSpec, engine: EngineKind) {
  const settings: Record<string, unknown> = {}
  if (spec.retentionMs !== false && engine === 'elasticsearch')
    settings['index.lifecycle.name'] = requestMetricsObjectName(spec.dataStream)
  return {
    index_patterns: [spec.dataStream],
    data_stream: {},
    priority: REQUEST_METRICS_TEMPLATE_PRIORITY,
    template: { settings, mappings: REQUEST_METRICS_MAPPINGS },
  }
}

/** The ILM policy (Elasticsearch) of the data stream. */
export function requestMetricsIlmPolicy(spec: RequestMetricsDataStreamSpec & { retentionMs: number }) {
  return {
    phases: {
      hot: {
        min_age: '0ms',
        actions: {
          rollover: {
            max_age: engineTimeValue(spec.rolloverMaxAgeMs),
            max_primary_shard_size: spec.rolloverMaxPrimaryShardSize,
          },
        },
      },
      delete: { min_age: engineTimeValue(spec.retentionMs), actions: { delete: {} } },
    },
  }
}

/** The ISM policy (OpenSearch) of the data stream (without its fingerprint). */
export function requestMetricsIsmPolicy(spec: RequestMetricsDataStreamSpec & { retentionMs: number }) {
  return {
    default_state: 'hot',
    states: [
      {
        name: 'hot',
        actions: [
          {
            rollover: {
              min_index_age: engineTimeValue(spec.rolloverMaxAgeMs),
              min_primary_shard_size: spec.rolloverMaxPrimaryShardSize,
            },
          },
        ],
        transitions: [
          { state_name: 'delete', conditions: { min_rollover_age: engineTimeValue(spec.retentionMs) } },
        ],
      },
      { name: 'delete', actions: [{ delete: {} }], transitions: [] },
    ],
    ism_template: [{ index_patterns: [spec.dataStream], priority: 100 }],
  }
}

interface Transport {
  request(params: {
    method: string
    path: string
    body?: unknown
    querystring?: Record<string, unknown> | undefined
  }): Promise<unknown>
}

/** The HTTP status of an official-client error (`meta.statusCode`) or a `SearchError` (`status`). */
function statusOf(error: unknown): number | undefined {
  const record = error as { meta?: { statusCode?: unknown }; statusCode?: unknown; status?: unknown } | null
  const status = record?.meta?.statusCode ?? record?.statusCode ?? record?.status
  // A failure of the link (refused, reset, timed out) carries status 0: no HTTP answer.
  return typeof status === 'number' && status > 0 ? status : undefined
}

function bodyText(error: unknown): string {
  const body = (error as { meta?: { body?: unknown } } | null)?.meta?.body
  if (body === undefined) return error instanceof Error ? error.message : String(error)
  return typeof body === 'string' ? body : JSON.stringify(body)
}

/** An engine without the endpoint: "no handler found for uri [...]" (400) or a 404/405 on it. */
function isMissingEndpoint(error: unknown): boolean {
  const status = statusOf(error)
  return (status === 400 || status === 404 || status === 405) && /no handler found/i.test(bodyText(error))
}

async function getOrUndefined<T>(transport: Transport, path: string): Promise<T | undefined> {
  try {
    return (await transport.request({ method: 'GET', path })) as T
  } catch (error) {
    if (statusOf(error) === 404 && !isMissingEndpoint(error)) return undefined
    throw error
  }
}

function setupError(
  error: unknown,
  spec: RequestMetricsDataStreamSpec,
  engine: EngineKind | undefined,
  what: string,
): RequestMetricsSetupError {
  if (error instanceof RequestMetricsSetupError) return error
  const status = statusOf(error)
  const flagged = (error as { retriable?: unknown } | null)?.retriable
  const retriable =
    typeof flagged === 'boolean' ? flagged : status === undefined || status === 429 || status >= 500
  const detail = redactText(
    status === undefined ? String(error instanceof Error ? error.message : error) : bodyText(error),
  )
  return new RequestMetricsSetupError(
    'E_NEST_SINK_SETUP',
    `Could not install ${what} of the request-metrics data stream "${spec.dataStream}"${engine ? ` on ${engine}` : ''}${status === undefined ? '' : ` (HTTP ${status})`}: ${detail.slice(0, 500)}`,
    { dataStream: spec.dataStream, engine, status, retriable, cause: error },
  )
}

function noLifecycle(
  spec: RequestMetricsDataStreamSpec,
  engine: EngineKind,
  cause: unknown,
): RequestMetricsSetupError {
  const what =
    engine === 'elasticsearch'
      ? 'no index lifecycle management (the _ilm API of the default distribution)'
      : 'no Index State Management plugin (the _plugins/_ism API, opensearch-index-management)'
  return new RequestMetricsSetupError(
    'E_NEST_SINK_NO_LIFECYCLE',
    `The ${engine} engine has ${what}, so the retention of the request-metrics data stream "${spec.dataStream}" cannot be installed: use an engine with it, or set retention: false (the data stream then grows until you delete its backing indices yourself)`,
    { dataStream: spec.dataStream, engine, status: statusOf(cause), retriable: false, cause },
  )
}

/** The body of `PUT _ilm/policy/<name>`: the policy and its `_meta` fingerprint. */
export function ilmPutBody(spec: RequestMetricsDataStreamSpec & { retentionMs: number }) {
  const policy = requestMetricsIlmPolicy(spec)
  return { policy: { ...policy, _meta: metaOf(fingerprint(policy)) } }
}

async function installIlm(
  transport: Transport,
  spec: RequestMetricsDataStreamSpec & { retentionMs: number },
) {
  const name = requestMetricsObjectName(spec.dataStream)
  const body = ilmPutBody(spec)
  const print = body.policy._meta.fingerprint
  const path = `/_ilm/policy/${encodeURIComponent(name)}`
  const current = await getOrUndefined<Record<string, { policy?: { _meta?: { fingerprint?: unknown } } }>>(
    transport,
    path,
  )
  if (current?.[name]?.policy?._meta?.fingerprint === print)
    return { kind: 'ilm' as const, name, written: false }
  await transport.request({ method: 'PUT', path, body })
  return { kind: 'ilm' as const, name, written: true }
}

interface IsmPolicyAnswer {
  _seq_no?: number
  _primary_term?: number
  policy?: { description?: unknown }
}

async function installIsm(
  transport: Transport,
  spec: RequestMetricsDataStreamSpec & { retentionMs: number },
) {
  const name = requestMetricsObjectName(spec.dataStream)
  const policy = requestMetricsIsmPolicy(spec)
  const print = fingerprint(policy)
  const description = `Retention of the @ayala/nestjs request metrics in ${spec.dataStream} (fingerprint ${print})`
  const path = `/_plugins/_ism/policies/${encodeURIComponent(name)}`
  for (let attempt = 0; ; attempt++) {
    const current = await getOrUndefined<IsmPolicyAnswer>(transport, path)
    if (current?.policy?.description === description) return { kind: 'ism' as const, name, written: false }
    const querystring =
      current === undefined
        ? undefined
        : { if_seq_no: current._seq_no, if_primary_term: current._primary_term }
    try {
      await transport.request({
        method: 'PUT',
        path,
        querystring,
        body: { policy: { description, ...policy } },
      })
      return { kind: 'ism' as const, name, written: true }
    } catch (error) {
      // Another instance created or updated it between our read and write: read again.
      if (statusOf(error) !== 409 || attempt >= 2) throw error
    }
  }
}

function metaOf(print: string) {
  return { managed_by: '@ayala/nestjs', fingerprint: print }
}

async function installTemplate(transport: Transport, spec: RequestMetricsDataStreamSpec, engine: EngineKind) {
  const name = requestMetricsObjectName(spec.dataStream)
  const body = requestMetricsTemplate(spec, engine)
  const print = fingerprint(body)
  const path = `/_index_template/${encodeURIComponent(name)}`
  const current = await getOrUndefined<{
    index_templates?: Array<{ index_template?: { _meta?: { fingerprint?: unknown } } }>
  }>(transport, path)
  if (current?.index_templates?.[0]?.index_template?._meta?.fingerprint === print)
    return { name, written: false }
  await transport.request({ method: 'PUT', path, body: { ...body, _meta: metaOf(print) } })
  return { name, written: true }
}

/**
 * Install the data stream's retention policy (ILM on Elasticsearch, ISM on OpenSearch; none with
 * `retentionMs: false`) and then its index template, each only when missing or different. The
 * policy goes first, so that no backing index is ever created unmanaged. Safe to call from every
 * instance at every start; the sink calls it unless `install: false` (a deployment script can
 * call it instead, with credentials the application does not hold).
 *
 * @throws RequestMetricsSetupError `E_NEST_SINK_NO_LIFECYCLE` when the engine has no ILM / ISM
 * API, `E_NEST_SINK_SETUP` when the engine refuses a write (4xx) or cannot be reached (retriable)
 */
export async function installRequestMetricsDataStream(
  client: SearchClient,
  spec: RequestMetricsDataStreamSpec,
): Promise<RequestMetricsInstallReport> {
  let engine: EngineKind | undefined
  let step = 'the engine detection'
  try {
    engine = await client.engine()
    const transport = (await client.raw()).transport as unknown as Transport
    let policy: RequestMetricsInstallReport['policy']
    const retentionMs = spec.retentionMs
    if (retentionMs !== false) {
      step = engine === 'elasticsearch' ? 'the ILM policy' : 'the ISM policy'
      const withRetention = { ...spec, retentionMs }
      try {
        policy =
          engine === 'elasticsearch'
            ? await installIlm(transport, withRetention)
            : await installIsm(transport, withRetention)
      } catch (error) {
        if (isMissingEndpoint(error)) throw noLifecycle(spec, engine, error)
        throw error
      }
    }
    step = 'the index template'
    const template = await installTemplate(transport, spec, engine)
    return { engine, dataStream: spec.dataStream, template, policy }
  } catch (error) {
    throw setupError(error, spec, engine, step)
  }
}
