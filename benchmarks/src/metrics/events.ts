/**
 * The benchmark's data: invoice events (a third of them corrections carrying their previous
 * state, each with its version) and the view they feed, in delta mode and in entity mode.
 */
import { day, defineAggregates, defineView } from '@ayala/metrics-stream'

/** An invoice's state, as the aggregates see it. */
export interface Row {
  status: 'open' | 'paid' | 'cancelled'
  amountCents: number
  clientId: string
  issuedAt: number
}
/** One produced event: the invoice after the change, and before it for a correction. */
export interface BenchEvent extends Row {
  id: string
  /** The invoice's version: 1 when created, 2 for its correction (entity mode). */
  version: number
  at: number
  previous?: Row | undefined
}

const aggregates = defineAggregates<Row>()((a) => ({
  byStatus: a.count({ by: { status: (r) => r.status } }),
  amountByStatus: a.sum({ value: (r) => r.amountCents, by: { status: (r) => r.status } }),
  amountByDay: a.sum({ value: (r) => r.amountCents, bucket: day((r) => r.issuedAt), readBuckets: 7 }),
  topClients: a.top({ member: (r) => r.clientId, score: (r) => r.amountCents, size: 10 }),
  clients: a.distinct({ value: (r) => r.clientId }),
}))
/** The aggregates of both views. */
export type BenchAggregates = typeof aggregates
/** The view in delta mode: add the new row, retract the previous one. */
export const view = defineView<BenchEvent, Row, typeof aggregates>({
  name: 'bench',
  eventTime: (e) => e.at,
  rows: (e) => ({
    add: { status: e.status, amountCents: e.amountCents, clientId: e.clientId, issuedAt: e.issuedAt },
    retract: e.previous,
  }),
  aggregates,
})
/** The same aggregates in entity mode: the row after the change, by version. */
export const entityView = defineView<BenchEvent, Row, typeof aggregates>({
  name: 'bench',
  eventTime: (e) => e.at,
  entity: (e) => ({
    key: e.id,
    version: e.version,
    row: { status: e.status, amountCents: e.amountCents, clientId: e.clientId, issuedAt: e.issuedAt },
  }),
  aggregates,
})

/** `count` events numbered from `from`; every third one corrects the one before it (paid). */
export function makeEvents(count: number, from: number): BenchEvent[] {
  const events: BenchEvent[] = []
  const now = Date.now()
  for (let i = 0; i < count; i++) {
    const n = from + i
    const state: Row = {
      status: 'open',
      amountCents: 100 + ((n * 7_919) % 100_000),
      clientId: `client-${n % 500}`,
      issuedAt: now - (n % 7) * 86_400_000,
    }
    if (i % 3 === 2) {
      const prev = events[events.length - 1] as BenchEvent
      const { id: _id, at: _at, previous: _previous, version: _version, ...before } = prev
      events.push({ ...before, status: 'paid', id: prev.id, version: 2, at: now, previous: before })
    } else {
      events.push({ ...state, id: `inv-${n}`, version: 1, at: now })
    }
  }
  return events
}
