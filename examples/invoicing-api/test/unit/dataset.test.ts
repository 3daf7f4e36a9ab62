import { describe, expect, it } from 'vitest'
import { INVOICE_STATUSES } from '../../src/invoices/invoice.ts'
import { seedClients, seedInvoices } from '../../src/seed/dataset.ts'

describe('the seed data set', () => {
  it('is the same for the same indexes, whatever the chunking', () => {
    const whole = seedInvoices(0, 300, 20)
    const chunked = [...seedInvoices(0, 120, 20), ...seedInvoices(120, 300, 20)]
    expect(chunked).toEqual(whole)
    expect(seedClients(20_000)).toEqual(seedClients(20_000))
  })

  it('keeps amounts consistent: total = net + tax, net = sum of the lines', () => {
    for (const invoice of seedInvoices(0, 500, 20)) {
      expect(invoice.totalCents).toBe(invoice.netCents + invoice.taxCents)
      expect(invoice.netCents).toBe(invoice.lines.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0))
      expect(Number.isSafeInteger(invoice.totalCents)).toBe(true)
      expect(INVOICE_STATUSES).toContain(invoice.status)
      expect(invoice.clientId).toBeGreaterThanOrEqual(1)
      expect(invoice.clientId).toBeLessThanOrEqual(20)
    }
  })

  it('writes Spanish text with accents and unique invoice numbers', () => {
    const invoices = seedInvoices(0, 1_000, 20)
    expect(new Set(invoices.map((v) => v.number)).size).toBe(1_000)
    expect(invoices.some((v) => v.description.includes('climatización'))).toBe(true)
    expect(seedClients(100).some((c) => /[áéíóúñ]/i.test(c.name + c.city))).toBe(true)
  })
})
