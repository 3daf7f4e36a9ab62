/**
 * What the metrics-stream pages' snippets assume (preludes import it as `#context/metrics`): the
 * view of packages/metrics-stream/README.md's quick start, its Redis and Kafka clients, a
 * consumer and a dashboard on them. Nothing here runs.
 */
import {
  createDashboard,
  createMetricsConsumer,
  day,
  defineAggregates,
  defineView,
  kafkaSource,
} from '@ayala/metrics-stream'
import type { Redis } from 'ioredis'
import type { Kafka } from 'kafkajs'

/** The row the aggregates count. */
export interface Invoice {
  status: 'open' | 'paid' | 'cancelled'
  amountCents: number
  clientId: string
  issuedAt: number
}
/** An event carrying the new row and the one it replaces. */
export interface InvoiceEvent {
  invoiceId: string
  at: number
  invoice: Invoice
  previous?: Invoice
}
/** An event of entity mode: the row after the change (none when deleted) and its version. */
export interface InvoiceVersionEvent {
  invoiceId: string
  at: number
  version: number
  deleted?: boolean
  invoice: Invoice
}

export const aggregates = defineAggregates<Invoice>()((a) => ({
  byStatus: a.count({ by: { status: (r) => r.status } }),
  amountByDay: a.sum({ value: (r) => r.amountCents, bucket: day((r) => r.issuedAt) }),
}))
export const view = defineView<InvoiceEvent, Invoice, typeof aggregates>({
  name: 'invoices',
  eventTime: (e) => e.at,
  rows: (e) => ({ add: e.invoice, retract: e.previous }),
  aggregates,
})

export declare const redis: Redis
export declare const kafka: Kafka
export const source = kafkaSource({ kafka, groupId: 'dash', topics: ['invoices'] })
/** The consumer's options, for `{ ...options, ... }`. */
export const options = { redis, namespace: 'dash', view, source }
export const consumer = createMetricsConsumer(options)
export const dashboard = createDashboard({ redis, namespace: 'dash', view })
export { log } from './app.ts'
