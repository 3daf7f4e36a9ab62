/**
 * OpenSearch only: the Spanish preset, folded keywords, identifier prefixes, autocomplete and
 * scaled_float need analysis-common and mapper-extras, which the Maven-built Elasticsearch node lacks.
 */
import { uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DocumentOf, defineIndex, field, type SearchClient } from '../../../src/index.js'
import { clientFor, loadDocs } from '../../helpers/engines.js'
import { spanishInvoices } from '../../helpers/invoices.js'

type Invoice = DocumentOf<ReturnType<typeof spanishInvoices>>

const docs: Invoice[] = [
  {
    id: '1',
    number: 'FAC-2026-000123',
    taxId: 'B12345678',
    description: 'Reparación de equipos de Electrónica',
    clientName: 'Pequeño Comercio S.L.',
    client: 'Pequeño Comercio',
    status: 'Pagada',
    issuedAt: '2026-03-01',
    total: 1234.56,
    paid: true,
    suggest: 'Reparación de equipos de electrónica',
  },
  {
    id: '2',
    number: 'FAC-2026-000456',
    taxId: 'X9876543Z',
    description: 'Licencias de software anual',
    clientName: 'Consultores Núñez',
    client: 'Consultores Núñez',
    status: 'pendiente',
    issuedAt: '2026-04-15',
    total: 99.9,
    paid: false,
    suggest: 'Licencias de software anual',
  },
  {
    id: '3',
    number: 'ABO-2025-000001',
    taxId: 'B12399999',
    description: 'Facturas electrónicas del pequeno almacén',
    clientName: 'Ferretería López',
    client: 'Ferretería López',
    status: 'PAGADA',
    issuedAt: '2025-12-31',
    total: 10,
    paid: true,
    suggest: 'Facturas electronicas del pequeño almacén',
  },
]

describe('Spanish preset on OpenSearch (needs analysis-common + mapper-extras)', () => {
  const invoices = spanishInvoices(uniqueName('es-text'))
  let search: SearchClient

  beforeAll(async () => {
    search = clientFor('opensearch')
    await search.createIndex(invoices)
    await loadDocs(await search.raw(), invoices.name, docs)
  })
  afterAll(async () => {
    await search.deleteIndex(invoices.name)
    await search.close()
  })

  const ids = async (query: ReturnType<typeof invoices.q.match>) =>
    (await search.search(invoices, { query, sort: ['id'] })).hits.map((hit) => hit.id)

  it('matches accent- and case-insensitively: "electronica" finds "Electrónica"', async () => {
    expect(await ids(invoices.q.match('description', 'electronica'))).toEqual(['1', '3'])
    expect(await ids(invoices.q.match('description', 'ELECTRÓNICA'))).toEqual(['1', '3'])
  })

  it('"pequeño" and "pequeno" find each other', async () => {
    expect(await ids(invoices.q.match('description', 'pequeño'))).toEqual(['3'])
    expect(await ids(invoices.q.match('clientName', 'pequeno'))).toEqual(['1'])
    expect(await ids(invoices.q.multiMatch({ description: 1, clientName: 2 }, 'PEQUEÑO'))).toEqual(['1', '3'])
  })

  it('stems light Spanish plurals and ignores stop words', async () => {
    expect(await ids(invoices.q.match('description', 'licencia'))).toEqual(['2'])
    expect(await ids(invoices.q.match('description', 'factura de la'))).toEqual(['3'])
  })

  it('normalizes keywords (lowercase + folding) for filters', async () => {
    expect(await ids(invoices.q.term('status', 'pagada'))).toEqual(['1', '3'])
    expect(await ids(invoices.q.term('client', 'PEQUENO COMERCIO'))).toEqual(['1'])
  })

  it('finds invoice numbers and tax ids by prefix', async () => {
    expect(await ids(invoices.q.prefix('number', 'fac-2026-000'))).toEqual(['1', '2'])
    expect(await ids(invoices.q.prefix('number', 'FAC-2026-0004'))).toEqual(['2'])
    expect(await ids(invoices.q.prefix('taxId', 'b123'))).toEqual(['1', '3'])
  })

  it('autocompletes partial words in any order', async () => {
    expect(await ids(invoices.q.autocomplete('suggest', 'repar'))).toEqual(['1'])
    expect(await ids(invoices.q.autocomplete('suggest', 'equipos electro'))).toEqual(['1'])
    expect(await ids(invoices.q.autocomplete('suggest', 'pequen'))).toEqual(['3'])
  })

  it('stores money as scaled_float and filters by amount', async () => {
    expect(await ids(invoices.q.range('total', { gte: 50, lte: 2_000 }))).toEqual(['1', '2'])
  })

  it('supports edge n-gram and completion autocomplete strategies', async () => {
    const alt = defineIndex({
      name: uniqueName('es-auto'),
      id: 'id',
      fields: {
        id: field.keyword(),
        edge: field.autocomplete({ strategy: 'edge_ngram' }),
        completion: field.autocomplete({ strategy: 'completion' }),
      },
    })
    await search.createIndex(alt)
    try {
      await loadDocs(await search.raw(), alt.name, [
        { id: 'a', edge: 'Electrónica Díaz', completion: 'Electrónica Díaz' },
        { id: 'b', edge: 'Eléctricas del Sur', completion: 'Eléctricas del Sur' },
      ])
      const edge = await search.search(alt, { query: alt.q.autocomplete('edge', 'electro'), sort: ['id'] })
      expect(edge.hits.map((hit) => hit.id)).toEqual(['a'])
      const suggested = await search.suggest(alt, 'completion', 'elec')
      expect(suggested.map((s) => s.id).sort()).toEqual(['a', 'b'])
      await expect(search.suggest(alt, 'edge' as never, 'elec')).rejects.toMatchObject({
        code: 'E_SEARCH_FIELD_KIND',
      })
    } finally {
      await search.deleteIndex(alt.name)
    }
  })
})
