/** Addresses of the services integration tests talk to. */
export interface ServiceUrls {
  redis: string
  kafkaBrokers: string[]
  opensearch: string
  elasticsearch: string
  database: string
  /** PostgreSQL, `postgres://user@host:port/database`. */
  postgres: string
}

/**
 * Service addresses from the environment, with the defaults the services harness
 * (`pnpm services up`) listens on. Set a variable to point the tests at your own server.
 */
export function serviceUrls(env: NodeJS.ProcessEnv = process.env): ServiceUrls {
  return {
    redis: env.REDIS_URL || 'redis://127.0.0.1:6379',
    kafkaBrokers: (env.KAFKA_BROKERS || '127.0.0.1:9092').split(',').map((b) => b.trim()),
    opensearch: env.OPENSEARCH_URL || 'http://127.0.0.1:9200',
    elasticsearch: env.ELASTICSEARCH_URL || 'http://127.0.0.1:9201',
    database: env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/test',
    postgres: env.POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test',
  }
}
