/**
 * The invoice model shared by the tests: events carrying their previous state, a seeded event
 * generator, the view, and the ground truth computed independently from the produced events.
 */
import { day, defineAggregates, defineView, type Ranked } from '../../src/index.js'

export type InvoiceStatus = 'open' | 'paid' | 'cancelled'

export interface InvoiceState {
  status: InvoiceStatus
  amountCents: number
  clientId: string
  issuedAt: number
}

export interface InvoiceEvent extends InvoiceState {
  id: string
  type: 'created' | 'amount_changed' | 'paid' | 'cancelled'
  /** Event time (epoch ms). */
  at: number
  previous?: InvoiceState | undefined
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

/** The schema validator the view is given. */
export function decodeInvoice(value: unknown): InvoiceEvent {
  const v = value as Record<string, unknown>
  if (!isState(value) || typeof v.id !== 'string' || typeof v.at !== 'number') {
    throw new TypeError('not an invoice event')
  }
  if (v.previous !== undefined && !isState(v.previous)) throw new TypeError('invalid previous state')
  return value as InvoiceEvent
}

export const invoiceAggregates = defineAggregates<InvoiceState>()((a) => ({
  invoices: a.count(),
  byStatus: a.count({ by: { status: (r) => r.status } }),
  amountByStatus: a.sum({ value: (r) => r.amountCents, by: { status: (r) => r.status } }),
  amountByDay: a.sum({
    value: (r) => r.amountCents,
    by: { status: (r) => r.status },
    bucket: day((r) => r.issuedAt),
  }),
  topClients: a.top({
    member: (r) => r.clientId,
    score: (r) => r.amountCents,
    size: 100,
    where: (r) => r.status !== 'cancelled',
  }),
  clients: a.distinct({ value: (r) => r.clientId }),
}))

export const invoiceView = defineView<InvoiceEvent, InvoiceState, typeof invoiceAggregates>({
  name: 'invoices',
  decode: decodeInvoice,
  eventTime: (e) => e.at,
  rows: (e) => ({
    add: { status: e.status, amountCents: e.amountCents, clientId: e.clientId, issuedAt: e.issuedAt },
    retract: e.previous,
  }),
  aggregates: invoiceAggregates,
})

/** A small deterministic PRNG (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const BASE_TIME = Date.UTC(2026, 10, 20)
export const DAYS = 5

/**
 * `count` invoices, each created then maybe amount-changed, paid, cancelled, interleaved across
 * invoices, per-invoice order kept. Event times rise with the sequence (never late).
 */
export function generateEvents(count: number, seed: number, prefix = 'inv'): InvoiceEvent[] {
  const rnd = random(seed)
  const lives: InvoiceEvent[][] = []
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`
    const clientId = `client-${Math.floor(rnd() * 15)}`
    const issuedAt = BASE_TIME + Math.floor(rnd() * DAYS) * 86_400_000 + Math.floor(rnd() * 86_400_000)
    let state: InvoiceState = {
      status: 'open',
      amountCents: 100 + Math.floor(rnd() * 100_000),
      clientId,
      issuedAt,
    }
    const life: InvoiceEvent[] = [{ id, type: 'created', at: 0, ...state }]
    const step = (type: InvoiceEvent['type'], next: InvoiceState) => {
      life.push({ id, type, at: 0, ...next, previous: state })
      state = next
    }
    if (rnd() < 0.3) step('amount_changed', { ...state, amountCents: 100 + Math.floor(rnd() * 100_000) })
    if (rnd() < 0.6) step('paid', { ...state, status: 'paid' })
    if (rnd() < 0.2) step('cancelled', { ...state, status: 'cancelled' })
    lives.push(life)
  }
  const out: InvoiceEvent[] = []
  const cursors = lives.map(() => 0)
  let remaining = lives.reduce((n, l) => n + l.length, 0)
  while (remaining > 0) {
    const i = Math.floor(rnd() * lives.length)
    const life = lives[i] as InvoiceEvent[]
    const c = cursors[i] as number
    if (c >= life.length) continue
    const event = life[c] as InvoiceEvent
    event.at = BASE_TIME + out.length * 1_000
    out.push(event)
    cursors[i] = c + 1
    remaining--
  }
  return out
}

/** The figures computed from the events, independently of the library. */
export interface Truth {
  invoices: number
  byStatus: Record<string, number>
  amountByStatus: Record<string, number>
  amountByDay: Record<string, Record<string, number>>
  topClients: Record<string, number>
  clients: number
}

export function groundTruth(events: readonly InvoiceEvent[]): Truth {
  const last = new Map<string, InvoiceEvent>()
  const seenClients = new Set<string>()
  for (const e of events) {
    last.set(e.id, e)
    seenClients.add(e.clientId)
  }
  const truth: Truth = {
    invoices: last.size,
    byStatus: {},
    amountByStatus: {},
    amountByDay: {},
    topClients: {},
    clients: seenClients.size,
  }
  for (const e of last.values()) {
    truth.byStatus[e.status] = (truth.byStatus[e.status] ?? 0) + 1
    truth.amountByStatus[e.status] = (truth.amountByStatus[e.status] ?? 0) + e.amountCents
    const label = new Date(e.issuedAt).toISOString().slice(0, 10)
    const dayFigures = truth.amountByDay[label] ?? {}
    truth.amountByDay[label] = dayFigures
    dayFigures[e.status] = (dayFigures[e.status] ?? 0) + e.amountCents
    if (e.status !== 'cancelled')
      truth.topClients[e.clientId] = (truth.topClients[e.clientId] ?? 0) + e.amountCents
  }
  return truth
}

/** The dashboard figures in the shape of {@link Truth}. */
export function asTruth(figures: {
  invoices: number
  byStatus: Record<string, number>
  amountByStatus: Record<string, number>
  amountByDay: Record<string, Record<string, number>>
  topClients: Ranked[]
  clients: number
}): Truth {
  return {
    invoices: figures.invoices,
    byStatus: figures.byStatus,
    amountByStatus: figures.amountByStatus,
    amountByDay: figures.amountByDay,
    topClients: Object.fromEntries(figures.topClients.map((r) => [r.member, r.score])),
    clients: figures.clients,
  }
}

/** Read range covering every generated invoice day. */
export const READ_RANGE = { from: BASE_TIME, to: BASE_TIME + (DAYS - 1) * 86_400_000 }
