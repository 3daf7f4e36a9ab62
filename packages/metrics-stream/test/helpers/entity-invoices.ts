/**
 * Entity-mode model of the tests: invoice versions as a transactional outbox relays them (the row
 * after the change and, for the delta-mode control, the row before it), a seeded generator, the
 * same aggregates in both modes, and the truth computed from the final rows alone.
 */
import { defineView } from '../../src/index.js'
import {
  BASE_TIME,
  DAYS,
  type InvoiceState,
  type InvoiceStatus,
  invoiceAggregates,
  random,
  type Truth,
} from './invoices.js'

export interface InvoiceVersion {
  id: string
  /** The invoice's version after this change (1 = created). */
  version: number
  /** Event time (epoch ms). */
  at: number
  /** The invoice after the change; null: deleted. */
  invoice: InvoiceState | null
  /** The invoice before the change (what a delta-mode view retracts); null: just created. */
  previous: InvoiceState | null
}

function isState(value: unknown): value is InvoiceState {
  const v = value as Record<string, unknown>
  return (
    typeof v === 'object' &&
    v !== null &&
    (v.status === 'open' || v.status === 'paid' || v.status === 'cancelled') &&
    typeof v.amountCents === 'number' &&
    typeof v.clientId === 'string' &&
    typeof v.issuedAt === 'number'
  )
}

export function decodeVersion(value: unknown): InvoiceVersion {
  const v = value as Record<string, unknown>
  if (typeof v !== 'object' || v === null || typeof v.at !== 'number') throw new TypeError('not an event')
  if (v.invoice !== null && v.invoice !== undefined && !isState(v.invoice)) throw new TypeError('bad invoice')
  if (v.previous !== null && v.previous !== undefined && !isState(v.previous))
    throw new TypeError('bad previous')
  // id and version are left to the entity function to judge (bad ones are tested).
  return value as InvoiceVersion
}

/** Entity mode: the row after the change, by version. */
export const entityView = defineView<InvoiceVersion, InvoiceState, typeof invoiceAggregates>({
  name: 'invoices',
  decode: decodeVersion,
  eventTime: (e) => e.at,
  entity: (e) => ({ key: e.id, version: e.version, row: e.invoice }),
  aggregates: invoiceAggregates,
})

/** The same events through delta mode (add the row after, retract the row before): the control. */
export const deltaView = defineView<InvoiceVersion, InvoiceState, typeof invoiceAggregates>({
  name: 'invoices',
  decode: decodeVersion,
  eventTime: (e) => e.at,
  rows: (e) => ({ add: e.invoice, retract: e.previous }),
  aggregates: invoiceAggregates,
})

/**
 * `count` invoices, each created then maybe amount-changed, paid, cancelled, deleted, as
 * consecutive versions; interleaved across invoices, per-invoice order kept, event times rising.
 */
export function generateVersions(count: number, seed: number, prefix = 'ent'): InvoiceVersion[] {
  const rnd = random(seed)
  const lives: InvoiceVersion[][] = []
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`
    let state: InvoiceState = {
      status: 'open',
      amountCents: 100 + Math.floor(rnd() * 100_000),
      clientId: `client-${Math.floor(rnd() * 15)}`,
      issuedAt: BASE_TIME + Math.floor(rnd() * DAYS) * 86_400_000 + Math.floor(rnd() * 86_400_000),
    }
    const life: InvoiceVersion[] = [{ id, version: 1, at: 0, invoice: state, previous: null }]
    const step = (next: InvoiceState | null) => {
      life.push({ id, version: life.length + 1, at: 0, invoice: next, previous: state })
      if (next) state = next
    }
    if (rnd() < 0.4) step({ ...state, amountCents: 100 + Math.floor(rnd() * 100_000) })
    if (rnd() < 0.6) step({ ...state, status: 'paid' as InvoiceStatus })
    if (rnd() < 0.2) step({ ...state, status: 'cancelled' as InvoiceStatus })
    if (rnd() < 0.15) step(null)
    lives.push(life)
  }
  const out: InvoiceVersion[] = []
  const cursors = lives.map(() => 0)
  let remaining = lives.reduce((n, l) => n + l.length, 0)
  while (remaining > 0) {
    const i = Math.floor(rnd() * lives.length)
    const life = lives[i] as InvoiceVersion[]
    const c = cursors[i] as number
    if (c >= life.length) continue
    const event = life[c] as InvoiceVersion
    event.at = BASE_TIME + out.length * 1_000
    out.push(event)
    cursors[i] = c + 1
    remaining--
  }
  return out
}

/**
 * The figures of the final rows: per invoice the row of its highest version (whatever order the
 * events arrived in), deleted invoices left out; `clients` counts every client of any row, as a
 * HyperLogLog of the applied rows does (every invoice keeps its client).
 */
export function truthOfRows(events: readonly InvoiceVersion[]): Truth {
  const latest = new Map<string, InvoiceVersion>()
  const clients = new Set<string>()
  for (const e of events) {
    const seen = latest.get(e.id)
    if (seen === undefined || e.version > seen.version) latest.set(e.id, e)
    if (e.invoice) clients.add(e.invoice.clientId)
  }
  const truth: Truth = {
    invoices: 0,
    byStatus: {},
    amountByStatus: {},
    amountByDay: {},
    topClients: {},
    clients: clients.size,
  }
  for (const { invoice: row } of latest.values()) {
    if (row === null) continue
    truth.invoices++
    truth.byStatus[row.status] = (truth.byStatus[row.status] ?? 0) + 1
    truth.amountByStatus[row.status] = (truth.amountByStatus[row.status] ?? 0) + row.amountCents
    const label = new Date(row.issuedAt).toISOString().slice(0, 10)
    const dayFigures = truth.amountByDay[label] ?? {}
    truth.amountByDay[label] = dayFigures
    dayFigures[row.status] = (dayFigures[row.status] ?? 0) + row.amountCents
    if (row.status !== 'cancelled')
      truth.topClients[row.clientId] = (truth.topClients[row.clientId] ?? 0) + row.amountCents
  }
  return truth
}
