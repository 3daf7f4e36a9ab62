/**
 * Where the services are and what this application names its things. Every name (Redis key
 * namespace, Kafka topic, consumer group, search index) carries the dataset's generation (see
 * `dataset` in the schema), so each seed starts from clean figures and the names never collide with
 * another application on the same servers.
 */
import { readFileSync } from 'node:fs'

/**
 * Addresses and credentials of the services, from the environment (defaults: the harness's local
 * services, no credentials). Secrets live here and in the clients built from them only: nothing
 * prints this object (see docs/example-invoicing-api.md, "Credentials and TLS").
 */
export interface ServiceAddresses {
  /** `mysql://user:password@host:port/database`. */
  databaseUrl: string
  /**
   * `redis://host:port`, or `rediss://user:password@host:port` for TLS and an ACL user. Through
   * Sentinel (`redisOptions.sentinels`), ioredis asks the Sentinels for the primary and the URL's
   * host and port are not used; its user, password and database are.
   */
  redisUrl: string
  /**
   * ioredis options for what the URL does not carry: the CA of a private TLS certificate
   * (`REDIS_CA_FILE`), an ACL user and password kept out of the URL (`REDIS_USERNAME`,
   * `REDIS_PASSWORD`), the Sentinels and the primary's name (`REDIS_SENTINELS`,
   * `REDIS_SENTINEL_NAME`).
   */
  redisOptions?: RedisConnectionOptions | undefined
  /** Elasticsearch or OpenSearch base URL (credentials in it are accepted too): the first node. */
  searchUrl: string
  /**
   * Every node of the search cluster (`SEARCH_NODES`, or a comma-separated `OPENSEARCH_URL` /
   * `ELASTICSEARCH_URL`...): the search client spreads requests over them and retries reads on
   * another node. Absent for a single node (`searchUrl` is then the only one).
   */
  searchNodes?: string[] | undefined
  /** The search engine's credentials (`SEARCH_USERNAME`/`SEARCH_PASSWORD` or `SEARCH_API_KEY`). */
  searchAuth?: { username: string; password: string } | { apiKey: string } | undefined
  /** The CA of the search engine's certificate (`SEARCH_CA_FILE`). */
  searchTls?: { ca: string } | undefined
  /** Kafka bootstrap brokers. */
  kafkaBrokers: string[]
  /** SASL login (`KAFKA_SASL_MECHANISM`, `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`). */
  kafkaSasl?: KafkaSaslSettings | undefined
  /** TLS to the brokers: `{ ca }` from `KAFKA_SSL_CA` (a file), or `true` (`KAFKA_SSL=true`: system CAs). */
  kafkaSsl?: { ca: string } | true | undefined
  /**
   * The dataset generation to serve (`INVOICING_GENERATION`), as `seed` printed it. Given, the
   * application starts without reading it from the database, so a database that is down or
   * refuses the credentials at start-up does not keep it from starting (its health says so).
   */
  generation?: string | undefined
}

/** The Redis connection settings a URL cannot carry. */
export interface RedisConnectionOptions {
  /** TLS with this CA (PEM). */
  tls?: { ca: string } | undefined
  /** ACL user (wins over the URL's). */
  username?: string | undefined
  /** Its password (wins over the URL's). */
  password?: string | undefined
  /** Connect through these Sentinels (`REDIS_SENTINELS`), which name the current primary. */
  sentinels?: Array<{ host: string; port: number }> | undefined
  /** The name the Sentinels monitor the primary under (`REDIS_SENTINEL_NAME`). */
  name?: string | undefined
  /** TLS to the primary found through Sentinel too (set with `rediss://` or `REDIS_CA_FILE`). */
  enableTLSForSentinelMode?: boolean | undefined
}

/** A Kafka SASL login. */
export interface KafkaSaslSettings {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'
  username: string
  password: string
}

/** The default database: one of its own on the machine's MariaDB. */
export const DEFAULT_DATABASE_URL = 'mysql://root@127.0.0.1:3306/ayala_invoicing'

/**
 * The database URL: `INVOICING_DATABASE_URL` as given; otherwise the server and credentials of
 * `DATABASE_URL` (the services' `.services/env` names a shared `test` database there) with this
 * application's own database, `ayala_invoicing`.
 */
function databaseUrl(env: NodeJS.ProcessEnv): string {
  if (env.INVOICING_DATABASE_URL) return env.INVOICING_DATABASE_URL
  if (!env.DATABASE_URL) return DEFAULT_DATABASE_URL
  const url = new URL(env.DATABASE_URL)
  url.pathname = new URL(DEFAULT_DATABASE_URL).pathname
  return url.toString()
}

/** A CA given as a file path (the usual) or as PEM text. */
function pem(value: string, variable: string): string {
  if (value.includes('-----BEGIN')) return value
  try {
    return readFileSync(value, 'utf8')
  } catch (error) {
    throw new Error(`${variable}: cannot read the CA file ${value} (${(error as Error).message})`)
  }
}

/** `host:port` (or `[v6]:port`), in `variable`'s list. */
function hostPort(entry: string, variable: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(entry)
  const port = Number(match?.[3])
  if (match === null || port < 1 || port > 65_535)
    throw new Error(`${variable}: expected host:port entries separated by commas, got "${entry}"`)
  return { host: (match[1] ?? match[2]) as string, port }
}

/** A comma-separated list, entries trimmed; an empty entry is an error naming `variable`. */
function list(value: string, variable: string): string[] {
  const entries = value.split(',').map((entry) => entry.trim())
  if (entries.some((entry) => entry === ''))
    throw new Error(`${variable}: an empty entry in "${value}" (entries are separated by single commas)`)
  return entries
}

/** `REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`: both or neither. */
function sentinelOptions(env: NodeJS.ProcessEnv): RedisConnectionOptions {
  const listed = env.REDIS_SENTINELS?.trim()
  const name = env.REDIS_SENTINEL_NAME?.trim()
  if (!listed) {
    if (name) throw new Error('REDIS_SENTINEL_NAME needs REDIS_SENTINELS (host:port,host:port)')
    return {}
  }
  if (!name)
    throw new Error(
      'REDIS_SENTINELS needs REDIS_SENTINEL_NAME (the name the Sentinels monitor the primary under)',
    )
  const sentinels = list(listed, 'REDIS_SENTINELS').map((entry) => hostPort(entry, 'REDIS_SENTINELS'))
  const tls = env.REDIS_CA_FILE !== undefined && env.REDIS_CA_FILE !== ''
  const secure = tls || (env.REDIS_URL ?? '').startsWith('rediss:')
  return { sentinels, name, ...(secure ? { enableTLSForSentinelMode: true } : {}) }
}

/** A node URL for an error message: whatever stands before an `@` (credentials) hidden. */
function shown(node: string): string {
  const at = node.lastIndexOf('@')
  return at < 0 ? node : `***@${node.slice(at + 1)}`
}

/** Search nodes: `SEARCH_NODES`, else the first of the URL variables; each an http(s) URL. */
function searchNodes(env: NodeJS.ProcessEnv): string[] {
  const named = env.SEARCH_NODES ? 'SEARCH_NODES' : undefined
  const variable =
    named ??
    (['ELASTICSEARCH', 'OPENSEARCH', 'ELASTICSEARCH_URL', 'OPENSEARCH_URL'] as const).find(
      (candidate) => env[candidate],
    )
  if (variable === undefined) return ['http://127.0.0.1:9200']
  const nodes = list(env[variable] as string, variable)
  for (const node of nodes) {
    let protocol: string
    try {
      protocol = new URL(node).protocol
    } catch {
      throw new Error(`${variable}: "${shown(node)}" is not a URL (http://host:port)`)
    }
    if (protocol !== 'http:' && protocol !== 'https:')
      throw new Error(`${variable}: "${shown(node)}" is not an http(s) URL`)
  }
  return nodes
}

const SASL_MECHANISMS = new Set(['plain', 'scram-sha-256', 'scram-sha-512'])

function kafkaSasl(env: NodeJS.ProcessEnv): KafkaSaslSettings | undefined {
  const mechanism = env.KAFKA_SASL_MECHANISM?.toLowerCase()
  if (!mechanism) {
    if (env.KAFKA_SASL_USERNAME || env.KAFKA_SASL_PASSWORD)
      throw new Error(
        'KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD need KAFKA_SASL_MECHANISM (scram-sha-256, ...)',
      )
    return undefined
  }
  if (!SASL_MECHANISMS.has(mechanism))
    throw new Error(`KAFKA_SASL_MECHANISM must be plain, scram-sha-256 or scram-sha-512, got "${mechanism}"`)
  if (!env.KAFKA_SASL_USERNAME || env.KAFKA_SASL_PASSWORD === undefined)
    throw new Error('KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD')
  return {
    mechanism: mechanism as KafkaSaslSettings['mechanism'],
    username: env.KAFKA_SASL_USERNAME,
    password: env.KAFKA_SASL_PASSWORD,
  }
}

/**
 * Read the addresses and credentials from `env`: `INVOICING_DATABASE_URL` or `DATABASE_URL` (see
 * {@link databaseUrl}); `REDIS_URL` (`rediss://user:password@...`), `REDIS_CA_FILE`,
 * `REDIS_USERNAME`, `REDIS_PASSWORD`, `REDIS_SENTINELS` (`host:port,host:port`) +
 * `REDIS_SENTINEL_NAME`; `SEARCH_NODES` or `ELASTICSEARCH` / `OPENSEARCH` (or `..._URL`), each a
 * URL or a comma-separated list of node URLs,
 * `SEARCH_USERNAME` + `SEARCH_PASSWORD` or `SEARCH_API_KEY`, `SEARCH_CA_FILE`; `KAFKA_BROKERS`,
 * `KAFKA_SASL_MECHANISM` + `KAFKA_SASL_USERNAME` + `KAFKA_SASL_PASSWORD`, `KAFKA_SSL_CA` (or
 * `KAFKA_SSL=true`); `INVOICING_GENERATION`. A CA variable takes a file path or PEM text.
 */
export function serviceAddresses(env: NodeJS.ProcessEnv = process.env): ServiceAddresses {
  const redisOptions: RedisConnectionOptions = {
    ...(env.REDIS_CA_FILE ? { tls: { ca: pem(env.REDIS_CA_FILE, 'REDIS_CA_FILE') } } : {}),
    ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}),
    ...(env.REDIS_PASSWORD !== undefined && env.REDIS_PASSWORD !== ''
      ? { password: env.REDIS_PASSWORD }
      : {}),
    ...sentinelOptions(env),
  }
  if (env.SEARCH_API_KEY && env.SEARCH_USERNAME)
    throw new Error('give SEARCH_API_KEY or SEARCH_USERNAME/SEARCH_PASSWORD, not both')
  const nodes = searchNodes(env)
  return {
    databaseUrl: databaseUrl(env),
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    redisOptions: Object.keys(redisOptions).length > 0 ? redisOptions : undefined,
    searchUrl: nodes[0] as string,
    searchNodes: nodes.length > 1 ? nodes : undefined,
    searchAuth: env.SEARCH_API_KEY
      ? { apiKey: env.SEARCH_API_KEY }
      : env.SEARCH_USERNAME
        ? { username: env.SEARCH_USERNAME, password: env.SEARCH_PASSWORD ?? '' }
        : undefined,
    searchTls: env.SEARCH_CA_FILE ? { ca: pem(env.SEARCH_CA_FILE, 'SEARCH_CA_FILE') } : undefined,
    kafkaBrokers: list(env.KAFKA_BROKERS || '127.0.0.1:9092', 'KAFKA_BROKERS'),
    kafkaSasl: kafkaSasl(env),
    kafkaSsl: env.KAFKA_SSL_CA
      ? { ca: pem(env.KAFKA_SSL_CA, 'KAFKA_SSL_CA') }
      : env.KAFKA_SSL === 'true'
        ? true
        : undefined,
    generation: env.INVOICING_GENERATION || undefined,
  }
}

/**
 * The search client options of `addresses`: the nodes (one URL for a single node, the list for a
 * cluster), their credentials and CA.
 */
export function searchClientOptions(addresses: ServiceAddresses): {
  node: string | string[]
  auth?: ServiceAddresses['searchAuth']
  tls?: ServiceAddresses['searchTls']
} {
  const nodes = addresses.searchNodes
  return {
    node: nodes !== undefined && nodes.length > 1 ? [...nodes] : addresses.searchUrl,
    ...(addresses.searchAuth ? { auth: addresses.searchAuth } : {}),
    ...(addresses.searchTls ? { tls: addresses.searchTls } : {}),
  }
}

/**
 * Where the dashboard's figures come from (`INVOICING_DASHBOARD_SOURCE`):
 * - `embedded` (the default): every figure is aggregated by the consumer running in this
 *   application, from the invoice events topic;
 * - `flink`: the figures a Flink SQL job computes (count overall, count and total by status, count
 *   and total per day, the top clients: `services/launcher/flink`, `InvoiceDashboardJob`) are read
 *   from the job's upsert changelog topics ({@link ResourceNames.changelogTopics}), the month
 *   figures (the report's, distinct clients, tops per currency) still from the events by the
 *   embedded consumer, in one view (`dashboard/dashboard-source.ts`).
 */
export type DashboardSource = 'embedded' | 'flink'

const DASHBOARD_SOURCES: ReadonlySet<string> = new Set(['embedded', 'flink'])

/** `INVOICING_DASHBOARD_SOURCE` of `env`: `embedded` (or unset) or `flink`; anything else is an error. */
export function dashboardSource(env: NodeJS.ProcessEnv = process.env): DashboardSource {
  const value = env.INVOICING_DASHBOARD_SOURCE?.trim().toLowerCase()
  if (value === undefined || value === '') return 'embedded'
  if (!DASHBOARD_SOURCES.has(value))
    throw new Error(`INVOICING_DASHBOARD_SOURCE must be embedded or flink, got "${value}"`)
  return value as DashboardSource
}

/** The upsert changelog topics of the Flink dashboard job (see `InvoiceDashboardJob`). */
export interface ChangelogTopics {
  /** Key `{"scope":"all"}`, value `{scope, invoices}`: the count of invoices. */
  overall: string
  /** Key `{"status":...}`, value `{status, invoices, total_cents}`. */
  byStatus: string
  /** Key `{"day":"YYYY-MM-DD"}` (UTC issue day), value `{day, invoices, total_cents}`. */
  byDay: string
  /** Key `{"clientId":...}`, value `{clientId, total_cents}`: the best 20 clients by total. */
  topClients: string
}

/** The names of one dataset generation's resources. */
export interface ResourceNames {
  /** The generation (from the `dataset` table). */
  generation: string
  /** Redis namespace of the two-tier cache. */
  cacheNamespace: string
  /** Redis namespace of the dashboard aggregates. */
  dashboardNamespace: string
  /** Kafka topic of invoice events. */
  topic: string
  /** Kafka consumer group of the aggregator. */
  groupId: string
  /** Search index of invoices. */
  index: string
  /** Outbox table (in the application's database). */
  outboxTable: string
  /**
   * The Flink dashboard job's topics: they start with {@link flinkPrefix} (the job's argument),
   * and the job writes them (`INVOICING_DASHBOARD_SOURCE=flink`).
   */
  changelogTopics: ChangelogTopics
  /** The prefix of {@link changelogTopics}, as the Flink job takes it. */
  flinkPrefix: string
  /**
   * Kafka consumer group of the aggregator under the Flink source: a view of its own (other
   * figures, other Redis keys), so it reads the events from the start in a group of its own.
   */
  flinkGroupId: string
}

/** Names of `generation`'s resources; all start with `ayala-invoicing`. */
export function resourceNames(generation: string): ResourceNames {
  if (!/^[a-z0-9]+$/.test(generation)) throw new Error(`invalid dataset generation "${generation}"`)
  const base = `ayala-invoicing-${generation}`
  return {
    generation,
    cacheNamespace: `${base}-cache`,
    dashboardNamespace: `${base}-dashboard`,
    topic: `${base}-invoice-events`,
    groupId: `${base}-dashboard`,
    index: `${base}-invoices`,
    outboxTable: 'ayala_outbox',
    changelogTopics: {
      overall: `${base}-dashboard-flink-overall`,
      byStatus: `${base}-dashboard-flink-by-status`,
      byDay: `${base}-dashboard-flink-by-day`,
      topClients: `${base}-dashboard-flink-top-clients`,
    },
    flinkPrefix: `${base}-dashboard-flink`,
    flinkGroupId: `${base}-dashboard-flink`,
  }
}
