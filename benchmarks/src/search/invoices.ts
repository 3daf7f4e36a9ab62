/**
 * The search benchmark's data: generated Spanish invoices (deterministic per index: invoice `i`
 * is the same in every load, so every contender indexes the same documents), the index
 * definitions (the Spanish preset on OpenSearch; a plain one for a bare Elasticsearch without the
 * analysis modules), and the streaming generator (nothing held in memory).
 */
import { defineIndex, field } from '@ayala/search'

export const WORDS = [
  'mantenimiento',
  'electrónica',
  'consultoría',
  'pequeño',
  'servicio',
  'reparación',
  'licencia',
  'envío',
  'instalación',
  'formación',
  'auditoría',
  'limpieza',
  'transporte',
  'alquiler',
  'diseño',
  'desarrollo',
  'soporte',
  'hosting',
  'material',
  'oficina',
  'papelería',
  'mobiliario',
  'catering',
  'fontanería',
  'calefacción',
  'climatización',
  'jardinería',
  'seguridad',
  'publicidad',
  'traducción',
  'asesoría',
  'contabilidad',
]
export const CITIES = [
  'Madrid',
  'Málaga',
  'Córdoba',
  'Cádiz',
  'León',
  'Ávila',
  'Logroño',
  'Jaén',
  'Alcalá',
  'Gijón',
]
export const CLIENTS = [
  'Pequeño Comercio',
  'Electrónica Díaz',
  'Consultores Núñez',
  'Ferretería López',
  'Óptica Peña',
  'Talleres Martín',
  'Panadería Sánchez',
  'Construcciones Gómez',
  'Farmacia Ruiz',
  'Librería Castro',
]
export const STATUSES = ['draft', 'issued', 'paid', 'overdue']

/** Deterministic per document: invoice `i` is the same in every load. */
export function invoice(i: number) {
  let s = (i + 1) * 2_654_435_761
  const pick = <T>(list: readonly T[]): T => {
    s = (s ^ (s >>> 15)) * 2_246_822_519
    s = (s ^ (s >>> 13)) >>> 0
    return list[s % list.length] as T
  }
  const client = `${pick(CLIENTS)} ${pick(CITIES)}`
  const description = `${pick(WORDS)} de ${pick(WORDS)} y ${pick(WORDS)} en ${pick(CITIES)} para ${client}`
  return {
    id: `inv-${i}`,
    number: `FAC-${2020 + (i % 7)}-${String(i).padStart(7, '0')}`,
    description,
    client,
    status: STATUSES[i % STATUSES.length] as string,
    issuedAt: new Date(Date.UTC(2020, 0, 1) + (i % 2_500) * 86_400_000).toISOString().slice(0, 10),
    totalCents: 100 + ((i * 7_919) % 1_000_000),
    suggest: description,
    suggestEdge: description,
    suggestCompletion: description,
  }
}
export type Invoice = ReturnType<typeof invoice>

/** The Spanish preset (OpenSearch, with analysis-common and mapper-extras). */
export const spanishDefinition = (name: string) =>
  defineIndex({
    name,
    id: 'id',
    fields: {
      id: field.keyword(),
      number: field.identifier(),
      description: field.text(),
      client: field.keyword({ normalizer: 'folded' }),
      status: field.keyword(),
      issuedAt: field.date(),
      totalCents: field.money(),
      suggest: field.autocomplete({ strategy: 'search_as_you_type' }),
      suggestEdge: field.autocomplete({ strategy: 'edge_ngram' }),
      suggestCompletion: field.autocomplete({ strategy: 'completion' }),
    },
  })

/** What a bare Elasticsearch server (no analysis modules) can index. */
export const plainDefinition = (name: string) =>
  defineIndex({
    name,
    id: 'id',
    fields: {
      id: field.keyword(),
      number: field.keyword(),
      description: field.text({ analyzer: 'standard' }),
      client: field.keyword({ normalizer: 'lowercase' }),
      status: field.keyword(),
      issuedAt: field.date(),
      totalCents: field.money(),
    },
  })

export async function* generate(count: number): AsyncGenerator<Invoice> {
  for (let i = 0; i < count; i++) yield invoice(i)
}

/** Strip the fields a definition does not declare (the plain one has fewer). */
export function project(doc: Invoice, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const name of fields) out[name] = (doc as Record<string, unknown>)[name]
  return out
}

/** The definition the benchmark is typed with (the plain one only uses fields both declare). */
export type InvoicesDefinition = ReturnType<typeof spanishDefinition>
