import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Server addresses: the harness's environment variables, else the harness's defaults. */
export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim())
export const OPENSEARCH_URL = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200'
export const ELASTICSEARCH_URL = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9201'

/** A name no other test (or earlier run) uses: every test owns its topic, group or index. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`
}

/**
 * The authenticated Kafka listeners and the SCRAM user (services/README.md, "Kafka with
 * credentials and TLS"): the environment, else the `.services/env.json` that `up` wrote.
 */
export function kafkaSecurity(): {
  sasl: string[]
  ssl: string[]
  saslSsl: string[]
  username: string
  password: string
  ca: string
} {
  let file: Record<string, string> = {}
  const path = join(import.meta.dirname, '..', '..', '..', '.services', 'env.json')
  if (!process.env.KAFKA_SASL_BROKERS && existsSync(path)) file = JSON.parse(readFileSync(path, 'utf8'))
  const value = (name: string): string => {
    const v = process.env[name] || file[name]
    if (!v)
      throw new Error(
        `${name} is not set: run node services/cli.mjs up (kafka restarted with its SASL/TLS listeners)`,
      )
    return v
  }
  const list = (name: string) =>
    value(name)
      .split(',')
      .map((b) => b.trim())
  return {
    sasl: list('KAFKA_SASL_BROKERS'),
    ssl: list('KAFKA_SSL_BROKERS'),
    saslSsl: list('KAFKA_SASL_SSL_BROKERS'),
    username: value('KAFKA_SCRAM_USERNAME'),
    password: value('KAFKA_SCRAM_PASSWORD'),
    ca: readFileSync(value('KAFKA_CA_FILE'), 'utf8'),
  }
}
