/**
 * The reader's application as the documentation's snippets assume it (preludes import it as
 * `#context/app`): a Prisma-like client `db` with an `invoice` model, a MariaDB pool, a cache,
 * the ids a request carries and a logger. Declarations only: nothing here runs.
 */
import type { Cache } from '@ayala/cache'
import type { Pool } from 'mariadb'

/** An invoice row as the application's ORM returns it. */
export interface Invoice {
  id: number
  number: string
  clientId: number
  clientName: string
  description: string
  status: 'draft' | 'open' | 'paid' | 'cancelled'
  totalCents: number
  issuedAt: Date
  version: number
}

/** The fields an update may change. */
export type Patch = Partial<Pick<Invoice, 'clientId' | 'status' | 'description' | 'totalCents'>>

/** The part of a Prisma client the snippets use. */
export interface Db {
  invoice: {
    findUnique(args: { where: { id: number } }): Promise<Invoice | null>
    findMany(args?: { where?: { clientId?: number } }): Promise<Invoice[]>
    update(args: { where: { id: number }; data: Patch }): Promise<Invoice>
  }
}

export declare const db: Db
export declare const pool: Pool
export declare const cache: Cache
export declare const invoice: Invoice
export declare const id: number
export declare const clientId: number
export declare const log: {
  info(...values: unknown[]): void
  warn(...values: unknown[]): void
  error(...values: unknown[]): void
}
