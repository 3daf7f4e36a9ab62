/**
 * A deterministic invoice data set in Spanish: the same `count` always yields the same clients,
 * invoices and lines (a small PRNG seeded with a constant), with accents everywhere a search for
 * unaccented words must see through ("climatizacion" -> "climatización").
 */
import type { InvoiceStatus } from '../invoices/invoice.ts'

/** A client row. */
export interface SeedClient {
  id: number
  name: string
  taxId: string
  city: string
}

/** A line row. */
export interface SeedLine {
  position: number
  description: string
  quantity: number
  unitPriceCents: number
  taxRateBp: number
}

/** An invoice row with its lines. */
export interface SeedInvoice {
  id: number
  number: string
  clientId: number
  status: InvoiceStatus
  issuedAt: Date
  dueAt: Date
  currency: string
  netCents: number
  taxCents: number
  totalCents: number
  description: string
  lines: SeedLine[]
}

const COMPANY_WORDS = [
  'Electrónica',
  'Pequeño',
  'Ibérica',
  'Logística',
  'Panadería',
  'Construcciones',
  'Papelería',
  'Ferretería',
  'Tecnologías',
  'Montaña',
  'Cerámica',
  'Jardinería',
] as const
const COMPANY_FORMS = ['S.L.', 'S.A.', 'y Asociados', 'Hermanos', 'Cooperativa'] as const
const CITIES = [
  'Málaga',
  'Córdoba',
  'León',
  'Cádiz',
  'Logroño',
  'Ávila',
  'Almería',
  'Jaén',
  'Cáceres',
  'Bilbao',
] as const

/** Services: each description word belongs to one service only (the demo counts them in SQL). */
const SERVICES = [
  {
    what: 'Mantenimiento de climatización',
    lines: ['Revisión de equipos de aire', 'Recarga de gas refrigerante'],
  },
  {
    what: 'Consultoría tributaria',
    lines: ['Horas de asesoría fiscal', 'Declaración trimestral de impuestos'],
  },
  { what: 'Instalación de fontanería', lines: ['Tubería de cobre', 'Mano de obra de fontanero'] },
  { what: 'Reparación de maquinaria', lines: ['Piezas de recambio', 'Horas de técnico especialista'] },
  { what: 'Diseño gráfico y publicidad', lines: ['Diseño de catálogo', 'Impresión de folletos'] },
  { what: 'Limpieza de oficinas', lines: ['Servicio de limpieza semanal', 'Productos de limpieza'] },
  { what: 'Suministro de papelería', lines: ['Cajas de folios', 'Material de oficina variado'] },
  {
    what: 'Auditoría de seguridad informática',
    lines: ['Análisis de vulnerabilidades', 'Informe de auditoría'],
  },
  { what: 'Transporte de mercancías', lines: ['Portes nacionales', 'Seguro de mercancía'] },
  { what: 'Formación en prevención de riesgos', lines: ['Curso presencial', 'Certificados de asistencia'] },
] as const
const QUALIFIERS = [
  'urgente',
  'mensual',
  'anual',
  'en Andalucía',
  'para la sede central',
  'según presupuesto',
] as const
const TAX_RATES_BP = [2100, 2100, 2100, 1000, 400] as const
const STATUS_WEIGHTS: ReadonlyArray<readonly [InvoiceStatus, number]> = [
  ['draft', 5],
  ['issued', 25],
  ['paid', 55],
  ['overdue', 10],
  ['cancelled', 5],
]

/** Mulberry32: a tiny deterministic PRNG in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)] as T
}

function weighted<T>(random: () => number, list: ReadonlyArray<readonly [T, number]>): T {
  const total = list.reduce((sum, [, weight]) => sum + weight, 0)
  let roll = random() * total
  for (const [value, weight] of list) {
    roll -= weight
    if (roll < 0) return value
  }
  return (list.at(-1) as readonly [T, number])[0]
}

const DAY_MS = 86_400_000
/** Invoices are issued over the 22 months up to this day (UTC). */
const LAST_ISSUE_DAY = Date.UTC(2026, 10, 27)
const ISSUE_DAYS = 669

/** The clients of a data set of `invoices` invoices (one per 100 invoices, at least 20). */
export function seedClients(invoices: number): SeedClient[] {
  const random = prng(7)
  const count = Math.max(20, Math.ceil(invoices / 100))
  return Array.from({ length: count }, (_, i) => {
    const first = pick(random, COMPANY_WORDS)
    let second = pick(random, COMPANY_WORDS)
    if (second === first) second = COMPANY_WORDS[(COMPANY_WORDS.indexOf(first) + 1) % COMPANY_WORDS.length]!
    return {
      id: i + 1,
      name: `${first} ${second} ${pick(random, COMPANY_FORMS)}`,
      taxId: `B${String(10_000_000 + i * 7_919).padStart(8, '0')}`,
      city: pick(random, CITIES),
    }
  })
}

/** Invoices `from` (0-based) to `to` (exclusive) of the data set; each depends on its index only. */
export function seedInvoices(from: number, to: number, clients: number): SeedInvoice[] {
  const invoices: SeedInvoice[] = []
  for (let i = from; i < to; i++) {
    const random = prng(1_000_003 * (i + 1))
    const service = pick(random, SERVICES)
    const issuedAt = new Date(LAST_ISSUE_DAY - Math.floor(random() * ISSUE_DAYS) * DAY_MS)
    const lineCount = 1 + Math.floor(random() * 3)
    const lines: SeedLine[] = []
    let netCents = 0
    let taxCents = 0
    for (let position = 1; position <= lineCount; position++) {
      const quantity = 1 + Math.floor(random() * 10)
      const unitPriceCents = 500 + Math.floor(random() * 50_000)
      const taxRateBp = pick(random, TAX_RATES_BP)
      const net = quantity * unitPriceCents
      netCents += net
      taxCents += Math.round((net * taxRateBp) / 10_000)
      lines.push({
        position,
        description: service.lines[(position - 1) % service.lines.length] as string,
        quantity,
        unitPriceCents,
        taxRateBp,
      })
    }
    invoices.push({
      id: i + 1,
      number: `FAC-${issuedAt.getUTCFullYear()}-${String(i + 1).padStart(6, '0')}`,
      clientId: 1 + Math.floor(random() * clients),
      status: weighted(random, STATUS_WEIGHTS),
      issuedAt,
      dueAt: new Date(issuedAt.getTime() + 30 * DAY_MS),
      currency: random() < 0.9 ? 'EUR' : 'USD',
      netCents,
      taxCents,
      totalCents: netCents + taxCents,
      description: `${service.what} ${pick(random, QUALIFIERS)}`,
      lines,
    })
  }
  return invoices
}
