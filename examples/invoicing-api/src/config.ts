/**
 * Where the services are and what this application names its things. Every name (Redis key
 * namespace, Kafka topic, consumer group, search index) carries the dataset's generation (see
 * `dataset` in the schema), so each seed starts from clean figures and the names never collide with
 * another application on the same servers.
 */

/** Addresses of the services, from the environment (defaults: the harness's local services). */
export interface ServiceAddresses {
  /** `mysql://user:password@host:port/database`. */
  databaseUrl: string
  /** `redis://host:port`. */
  redisUrl: string
  /** Elasticsearch or OpenSearch base URL. */
  searchUrl: string
  /** Kafka bootstrap brokers. */
  kafkaBrokers: string[]
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

/**
 * Read the addresses from `env`: `INVOICING_DATABASE_URL` or `DATABASE_URL` (see
 * {@link databaseUrl}), `REDIS_URL`, `ELASTICSEARCH` / `OPENSEARCH` (or `..._URL`),
 * `KAFKA_BROKERS`.
 */
export function serviceAddresses(env: NodeJS.ProcessEnv = process.env): ServiceAddresses {
  return {
    databaseUrl: databaseUrl(env),
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    searchUrl:
      env.ELASTICSEARCH ||
      env.OPENSEARCH ||
      env.ELASTICSEARCH_URL ||
      env.OPENSEARCH_URL ||
      'http://127.0.0.1:9200',
    kafkaBrokers: (env.KAFKA_BROKERS || '127.0.0.1:9092').split(',').map((broker) => broker.trim()),
  }
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
  }
}
