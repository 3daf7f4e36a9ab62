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

/** Read the addresses from `env` (`DATABASE_URL`, `REDIS_URL`, `ELASTICSEARCH`/`OPENSEARCH`(`_URL`), `KAFKA_BROKERS`). */
export function serviceAddresses(env: NodeJS.ProcessEnv = process.env): ServiceAddresses {
  return {
    databaseUrl: env.DATABASE_URL || DEFAULT_DATABASE_URL,
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
    outboxTable: 'search_outbox',
  }
}
