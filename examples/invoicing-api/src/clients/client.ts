/** A client as the API serves it (the cache stores this shape). */
import type { Client } from '../generated/prisma/client.ts'

/** One client. */
export interface ClientView {
  id: number
  name: string
  taxId: string
  city: string
  version: number
}

/** Map a Prisma client row. */
export function toClientView(row: Pick<Client, 'id' | 'name' | 'taxId' | 'city' | 'version'>): ClientView {
  return { id: row.id, name: row.name, taxId: row.taxId, city: row.city, version: row.version }
}

/** The columns {@link toClientView} needs. */
export const CLIENT_SELECT = { id: true, name: true, taxId: true, city: true, version: true } as const
