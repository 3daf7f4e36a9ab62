/**
 * The data every cache scenario uses, built once outside the timed loops: one ~600-byte invoice
 * per key, a fixed key set, the TTL and a run prefix unique to this process so that scenarios
 * never collide with each other or with tests on the shared Redis, and can delete exactly what
 * they wrote.
 */
import { randomBytes } from 'node:crypto'

/** The invoice shape cached in every scenario (600 bytes as msgpack, ~700 as JSON). */
export interface Invoice {
  id: number
  number: string
  client: { id: number; name: string; taxId: string; email: string }
  issuedAt: string
  dueAt: string
  status: 'draft' | 'sent' | 'paid'
  currency: string
  lines: { sku: string; description: string; quantity: number; unitPriceCents: number }[]
  totalCents: number
  notes: string
}

/**
 * One invoice. Dates are ISO strings (not `Date`s) so that every contender, including the JSON
 * serializers of the peers, caches exactly the same value.
 */
export function makeInvoice(id: number): Invoice {
  const lines = Array.from({ length: 4 }, (_, i) => ({
    sku: `SKU-${1000 + i}`,
    description: `Servicio de mantenimiento ${i + 1}`,
    quantity: i + 1,
    unitPriceCents: 1999 * (i + 1),
  }))
  return {
    id,
    number: `FAC-2026-${String(id).padStart(6, '0')}`,
    client: {
      id: 7,
      name: 'Electrónica Pequeño S.L.',
      taxId: 'B12345678',
      email: 'facturas@pequeno.example',
    },
    issuedAt: '2026-11-27T10:00:00.000Z',
    dueAt: '2026-12-27T10:00:00.000Z',
    status: 'paid',
    currency: 'EUR',
    lines,
    totalCents: lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0),
    notes: 'Pago por transferencia.',
  }
}

/** Number of distinct keys each timed loop cycles through. */
export const KEY_COUNT = 100

/** Entry TTL for every contender, in milliseconds (10 minutes). */
export const TTL_MS = 600_000

/** The three tags of the tagged scenarios. */
export const TAGS: readonly string[] = ['invoice:42', 'client:7', 'tenant:1']

/** A prefix no other run uses: every Redis key a scenario writes contains it. */
export function runPrefix(scenario: string): string {
  return `ayala-bench-${scenario}-${randomBytes(4).toString('hex')}`
}

/** Keys `invoice:0 .. invoice:<count-1>` and their values, index-aligned. */
export function dataset(count = KEY_COUNT): { keys: string[]; values: Invoice[] } {
  const keys = Array.from({ length: count }, (_, i) => `invoice:${i}`)
  const values = keys.map((_, i) => makeInvoice(i))
  return { keys, values }
}

/**
 * Loader calls since the process started. The hit scenarios check that it does not move while a
 * contender is timed: a loader call there means the contender missed (e.g. a circuit breaker
 * skipping Redis), which would make it look faster than it is.
 */
export const loaderCalls = { count: 0 }

/** One loader per value, built once: a timed call never allocates a closure for its loader. */
export function loadersFor<T>(values: readonly T[]): (() => Promise<T>)[] {
  return values.map((value) => async () => {
    loaderCalls.count++
    return value
  })
}
