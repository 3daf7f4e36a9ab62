import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** A Kafka listener that asks for SCRAM credentials (the harness's SASL_PLAINTEXT or SASL_SSL). */
export interface KafkaScramListener {
  brokers: string[]
  /** kafkajs mechanism name. */
  mechanism: 'scram-sha-256' | 'scram-sha-512'
  username: string
  password: string
}

/** A Kafka listener over TLS (the harness's SSL, or SASL_SSL with {@link KafkaScramListener}). */
export interface KafkaTlsListener {
  brokers: string[]
  /** Path of the CA certificate that signed the broker's certificate. */
  caFile: string
  /** PEM text of that CA. */
  caPem: string
}

/** Addresses of the services integration tests talk to. */
export interface ServiceUrls {
  redis: string
  kafkaBrokers: string[]
  /**
   * The harness's SASL_PLAINTEXT listener (SCRAM), when the harness runs Kafka (see
   * services/README.md, "Kafka with credentials and TLS").
   */
  kafkaSasl: KafkaScramListener | undefined
  /** The harness's SSL listener, when the harness runs Kafka. */
  kafkaSsl: KafkaTlsListener | undefined
  /** The harness's SASL_SSL listener (TLS + SCRAM), when the harness runs Kafka. */
  kafkaSaslSsl: (KafkaScramListener & KafkaTlsListener) | undefined
  opensearch: string
  elasticsearch: string
  database: string
  /** PostgreSQL, `postgres://user@host:port/database`. */
  postgres: string
}

/** `.services/env.json` of this checkout, written by `node services/cli.mjs up`. */
function harnessEnv(): Record<string, string> {
  const file = join(import.meta.dirname, '..', '..', '..', '.services', 'env.json')
  if (!existsSync(file)) return {}
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>
  } catch (error) {
    throw new Error(`${file} is not valid JSON: run node services/cli.mjs up`, { cause: error })
  }
}

function brokers(list: string): string[] {
  return list.split(',').map((b) => b.trim())
}

/**
 * Service addresses from the environment, with the defaults the services harness
 * (`pnpm services up`) listens on. Set a variable to point the tests at your own server. The
 * Kafka SCRAM and TLS listeners come from `KAFKA_SASL_BROKERS`, `KAFKA_SSL_BROKERS`,
 * `KAFKA_SASL_SSL_BROKERS`, `KAFKA_SCRAM_*` and `KAFKA_CA_FILE`, else from the harness's
 * `.services/env.json` (the password is random per checkout).
 */
export function serviceUrls(env: NodeJS.ProcessEnv = process.env): ServiceUrls {
  const kafkaBrokers = brokers(env.KAFKA_BROKERS || '127.0.0.1:9092')
  // The harness file describes the harness's broker: only used when the tests talk to it.
  let harness: Record<string, string> = {}
  if (!env.KAFKA_SASL_BROKERS) {
    harness = harnessEnv()
    if (env.KAFKA_BROKERS && env.KAFKA_BROKERS !== harness.KAFKA_BROKERS) harness = {}
  }
  const value = (name: string): string | undefined => env[name] || harness[name] || undefined
  const scram = (list: string | undefined): KafkaScramListener | undefined => {
    const username = value('KAFKA_SCRAM_USERNAME')
    const password = value('KAFKA_SCRAM_PASSWORD')
    if (list === undefined || username === undefined || password === undefined) return undefined
    const mechanism = (value('KAFKA_SCRAM_MECHANISM') ?? 'scram-sha-256') as KafkaScramListener['mechanism']
    return { brokers: brokers(list), mechanism, username, password }
  }
  const caFile = value('KAFKA_CA_FILE')
  const tls = (list: string | undefined): KafkaTlsListener | undefined =>
    list === undefined || caFile === undefined || !existsSync(caFile)
      ? undefined
      : { brokers: brokers(list), caFile, caPem: readFileSync(caFile, 'utf8') }
  const saslSsl = scram(value('KAFKA_SASL_SSL_BROKERS'))
  const saslSslTls = tls(value('KAFKA_SASL_SSL_BROKERS'))
  return {
    redis: env.REDIS_URL || 'redis://127.0.0.1:6379',
    kafkaBrokers,
    kafkaSasl: scram(value('KAFKA_SASL_BROKERS')),
    kafkaSsl: tls(value('KAFKA_SSL_BROKERS')),
    kafkaSaslSsl: saslSsl && saslSslTls ? { ...saslSsl, ...saslSslTls } : undefined,
    opensearch: env.OPENSEARCH_URL || 'http://127.0.0.1:9200',
    elasticsearch: env.ELASTICSEARCH_URL || 'http://127.0.0.1:9201',
    database: env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/test',
    postgres: env.POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/test',
  }
}
