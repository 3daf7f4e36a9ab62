/**
 * The request bodies of the writes, checked field by field with the value rules of `input.ts`
 * (the raw checks, UTF-8 and repeated keys, ran before in `InputInterceptor`): only known fields,
 * each of its type and within its column, integers as JSON integers (`1`, not `"1"` nor `1.5`),
 * and the computed amounts of an invoice within its `INT` columns. A refusal is an
 * `InvalidInputException` naming the field (`lines[2].quantity` for a line's).
 */
import { INVOICE_STATUSES, type InvoiceStatus } from '../invoices/invoice.ts'
import { REPORT_CURRENCIES } from '../invoices/invoice-events.ts'
import { dateValue, enumValue, INT_MAX, InvalidInputException, textValue } from './input.ts'

/** The currencies an invoice may be in (the dashboard keeps a top of clients per currency). */
export const CURRENCIES = REPORT_CURRENCIES

/** One of {@link CURRENCIES}. */
export type Currency = (typeof CURRENCIES)[number]

/** Most lines of one invoice. */
export const MAX_LINES = 100

/** A line as the client sends it. */
export interface LineInput {
  description: string
  quantity: number
  unitPriceCents: number
  /** Basis points (2100 = 21 %). */
  taxRateBp: number
}

/** POST /invoices. */
export interface InvoiceInput {
  clientId: number
  issuedAt: string
  dueAt: string
  currency: Currency
  lines: LineInput[]
  status: InvoiceStatus
  description: string
}

/** PATCH /invoices/:id: what may change, and the version the client read (optional). */
export interface InvoicePatch {
  status?: InvoiceStatus | undefined
  description?: string | undefined
  /** `YYYY-MM-DD`. */
  issuedAt?: string | undefined
  /** `YYYY-MM-DD`. */
  dueAt?: string | undefined
  /** The lines, as a whole (replaces every line; the amounts are computed again). */
  lines?: LineInput[] | undefined
  /** With it, the write happens only if the invoice is still at this version (else 409). */
  version?: number | undefined
}

/** POST /clients. */
export interface ClientInput {
  name: string
  taxId: string
  city: string
}

/** PATCH /clients/:id. */
export interface ClientPatch {
  name?: string | undefined
  taxId?: string | undefined
  city?: string | undefined
  version?: number | undefined
}

/** The body as a plain object, or a 400 naming `body`. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputException('body', 'expected a JSON object')
  }
  return body as Record<string, unknown>
}

/** A JSON integer in `[min, max]` (a safe integer: `1.0` is 1, `1.5`, `"1"` and `1e400` are not). */
export function jsonInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidInputException(name, `${name} must be an integer from ${min} to ${max}`)
  }
  return value
}

function unknownField(key: string): never {
  throw new InvalidInputException(key, `unknown field "${key}"`)
}

function required(name: string): never {
  throw new InvalidInputException(name, `${name} is required`)
}

/** `B12345678`, `ESX1234567Z`, `12-3456789`: 1 to 20 of A-Z, 0-9 and `-`, upper-cased. */
function taxIdValue(name: string, value: unknown): string {
  const text = textValue(name, value, { maxLength: 20 }).toUpperCase()
  if (!/^[A-Z0-9-]+$/.test(text)) {
    throw new InvalidInputException(name, `${name} must be 1 to 20 of A-Z, 0-9 and -`)
  }
  return text
}

/** The lines of an invoice: 1 to {@link MAX_LINES} objects of exactly the four fields. */
export function linesValue(name: string, value: unknown): LineInput[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LINES) {
    throw new InvalidInputException(name, `${name} must be an array of 1 to ${MAX_LINES} lines`)
  }
  return value.map((line, i) => {
    const at = `${name}[${i}]`
    if (line === null || typeof line !== 'object' || Array.isArray(line)) {
      throw new InvalidInputException(at, `${at} must be an object`)
    }
    const fields = line as Record<string, unknown>
    const parsed: Partial<LineInput> = {}
    for (const [key, v] of Object.entries(fields)) {
      if (key === 'description') parsed.description = textValue(`${at}.description`, v, { maxLength: 300 })
      else if (key === 'quantity') parsed.quantity = jsonInteger(`${at}.quantity`, v, 1, 1_000_000)
      else if (key === 'unitPriceCents')
        parsed.unitPriceCents = jsonInteger(`${at}.unitPriceCents`, v, 1, 100_000_000)
      else if (key === 'taxRateBp') parsed.taxRateBp = jsonInteger(`${at}.taxRateBp`, v, 0, 10_000)
      else throw new InvalidInputException(`${at}.${key}`, `unknown field "${key}" in ${at}`)
    }
    for (const key of ['description', 'quantity', 'unitPriceCents', 'taxRateBp'] as const) {
      if (parsed[key] === undefined) required(`${at}.${key}`)
    }
    return parsed as LineInput
  })
}

/** The amounts of `lines`: net, tax (rounded per line) and total, each within `INT`. */
export function invoiceAmounts(
  lines: readonly LineInput[],
  name = 'lines',
): { netCents: number; taxCents: number; totalCents: number } {
  let netCents = 0
  let taxCents = 0
  for (const line of lines) {
    const net = line.quantity * line.unitPriceCents
    netCents += net
    taxCents += Math.round((net * line.taxRateBp) / 10_000)
  }
  const totalCents = netCents + taxCents
  if (totalCents > INT_MAX) {
    throw new InvalidInputException(
      name,
      `the invoice's total (${totalCents} cents) exceeds ${INT_MAX} cents; split it into several invoices`,
    )
  }
  return { netCents, taxCents, totalCents }
}

/** Validate a POST /invoices body. */
export function parseInvoiceInput(body: unknown): InvoiceInput {
  const fields = objectBody(body)
  const input: Partial<InvoiceInput> = {}
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'clientId') input.clientId = jsonInteger(key, value, 1, INT_MAX)
    else if (key === 'issuedAt' || key === 'dueAt') input[key] = dateValue(key, value)
    else if (key === 'currency') input.currency = enumValue(key, value, CURRENCIES)
    else if (key === 'lines') input.lines = linesValue(key, value)
    else if (key === 'status') input.status = enumValue(key, value, INVOICE_STATUSES)
    else if (key === 'description') input.description = textValue(key, value, { maxLength: 500 })
    else unknownField(key)
  }
  for (const key of ['clientId', 'issuedAt', 'dueAt', 'currency', 'lines'] as const) {
    if (input[key] === undefined) required(key)
  }
  const lines = input.lines as LineInput[]
  invoiceAmounts(lines)
  return {
    ...(input as InvoiceInput),
    status: input.status ?? 'draft',
    description: input.description ?? (lines[0] as LineInput).description,
  }
}

/** Validate a PATCH /invoices/:id body: only known fields, each of the right shape. */
export function parseInvoicePatch(body: unknown): InvoicePatch {
  const fields = objectBody(body)
  const patch: InvoicePatch = {}
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'status') patch.status = enumValue(key, value, INVOICE_STATUSES)
    // VARCHAR(500): 500 code units are never more than 500 characters.
    else if (key === 'description') patch.description = textValue(key, value, { maxLength: 500 })
    else if (key === 'issuedAt' || key === 'dueAt') patch[key] = dateValue(key, value)
    else if (key === 'lines') {
      patch.lines = linesValue(key, value)
      invoiceAmounts(patch.lines)
    } else if (key === 'version') patch.version = jsonInteger(key, value, 1, INT_MAX)
    else unknownField(key)
  }
  if (Object.keys(patch).filter((key) => key !== 'version').length === 0) {
    throw new InvalidInputException('body', 'nothing to change')
  }
  return patch
}

/** Validate a POST /clients body. */
export function parseClientInput(body: unknown): ClientInput {
  const fields = objectBody(body)
  const input: Partial<ClientInput> = {}
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'name') input.name = textValue(key, value, { maxLength: 160 })
    else if (key === 'taxId') input.taxId = taxIdValue(key, value)
    else if (key === 'city') input.city = textValue(key, value, { maxLength: 80 })
    else unknownField(key)
  }
  for (const key of ['name', 'taxId', 'city'] as const) if (input[key] === undefined) required(key)
  return input as ClientInput
}

/** Validate a PATCH /clients/:id body. */
export function parseClientPatch(body: unknown): ClientPatch {
  const fields = objectBody(body)
  const patch: ClientPatch = {}
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'name') patch.name = textValue(key, value, { maxLength: 160 })
    else if (key === 'taxId') patch.taxId = taxIdValue(key, value)
    else if (key === 'city') patch.city = textValue(key, value, { maxLength: 80 })
    else if (key === 'version') patch.version = jsonInteger(key, value, 1, INT_MAX)
    else unknownField(key)
  }
  if (Object.keys(patch).filter((key) => key !== 'version').length === 0) {
    throw new InvalidInputException('body', 'nothing to change')
  }
  return patch
}
