/**
 * The write transactions of the API. A change of an invoice reads it, then writes it guarded by
 * the version it read (`WHERE version = ?`: the row lock is held only from that statement to
 * the commit), and reads and writes again when another write came in between
 * (`InvoiceRepository`); two writes of one invoice are serialized by the row lock, and without a
 * `version` in the request there is nothing to answer 409 for. A client rename locks the client's
 * invoices first, then the client, and raises each invoice's version: an invoice write that read
 * the old name before the rename committed finds its version moved and reads again; one that
 * wrote first is re-indexed by the rename. A new invoice locks its client row in share mode
 * (`lockClient`, a locking read: the name read after it is the latest). InnoDB still reports a
 * deadlock now and then (a new invoice's insert and a rename of its client lock the client's
 * index range in two orders): such a transaction is rolled back by the server and run again from
 * the start, up to 4 times.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Prisma } from '../generated/prisma/client.ts'
import type { Database } from './connection.ts'

/** The client of an interactive transaction. */
export type Tx = Prisma.TransactionClient

/** MariaDB's deadlock (1213) and lock wait timeout (1205), and Prisma's "write conflict or deadlock". */
export function isRetriableConflict(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; depth < 6 && current !== null && typeof current === 'object'; depth++) {
    const e = current as {
      code?: unknown
      errno?: unknown
      meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; code?: unknown; kind?: unknown } } }
    }
    if (e.code === 'P2034' || e.errno === 1213 || e.errno === 1205) return true
    const cause = e.meta?.driverAdapterError?.cause
    if (cause !== undefined) {
      const code = Number(cause.originalCode ?? cause.code)
      if (code === 1213 || code === 1205 || cause.kind === 'TransactionWriteConflict') return true
    }
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** Options of {@link writeTransaction}. */
export interface WriteOptions {
  /** Longest the transaction may run (ms). @default 10_000 */
  timeout?: number | undefined
}

/** Run `work` in an interactive transaction, again (up to 4 runs) when the server rolled it back for a deadlock. */
export async function writeTransaction<T>(
  db: Database,
  work: (tx: Tx) => Promise<T>,
  options: WriteOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.prisma.$transaction(work, { maxWait: 2_000, timeout: options.timeout ?? 10_000 })
    } catch (error) {
      if (attempt >= 4 || !isRetriableConflict(error)) throw error
      await sleep(5 + Math.random() * 20 * attempt)
    }
  }
}

/** Lock the client row for reading (`LOCK IN SHARE MODE`): false when there is none. */
export async function lockClient(tx: Tx, clientId: number): Promise<boolean> {
  const rows = await tx.$queryRaw<Array<{ id: number }>>`
    SELECT id FROM clients WHERE id = ${clientId} LOCK IN SHARE MODE`
  return rows.length === 1
}
