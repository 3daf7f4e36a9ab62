/**
 * Quick start: what the SDK does today, against the real services started by `pnpm services up`.
 * It grows with the example invoicing backend.
 */
import { msgpackCodec, toMilliseconds } from '@ayala/cache'
import { partitionKeys } from '@ayala/metrics-stream'
import { escapeQueryText } from '@ayala/search'
import { Redis } from 'ioredis'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const redis = new Redis(redisUrl)
const codec = msgpackCodec()

const invoice = {
  number: 'FAC-2026-000042',
  client: 'Electrónica Pequeño S.L.',
  issuedAt: new Date(),
  totalCents: 1_234_500n,
}
const key = `ayala-demo:invoice:${invoice.number}`
await redis.set(key, codec.encode(invoice), 'PX', toMilliseconds('1m'))
const started = process.hrtime.bigint()
const back = codec.decode((await redis.getBuffer(key)) as Buffer)
const micros = Number(process.hrtime.bigint() - started) / 1_000
console.log(`invoice read back from Redis (${redisUrl}) in ${micros.toFixed(0)} us:`, back)
console.log('user text escaped for the search engine:', escapeQueryText('factura (2026) "urgente"'))
console.log('dashboard state keys of partition 0:', partitionKeys('dashboard', 'invoices', 0))
await redis.del(key)
redis.disconnect()
