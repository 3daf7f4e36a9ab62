/**
 * The write transactions of the API. Each write first takes its row locks with locking reads
 * (`FOR UPDATE` on the invoice it changes; a new invoice `LOCK IN SHARE MODE` on its client), so
 * the plain reads that follow see the latest committed rows (InnoDB takes a REPEATABLE READ
 * snapshot at a transaction's first plain read, which comes after the locks) and two writes of
 * one invoice are serialized: without a `version` in the request there is nothing to conflict
 * on, the second waits and writes on top of the first. A client rename locks the client's
 * invoices first, then the client, so an invoice write either waits for the rename (and reads
 * the new name) or the rename waits for it (and re-indexes it with the new name). InnoDB still
 * reports a deadlock now and then (a new invoice's insert and a rename of its client lock the
 * client's index range in two orders): such a transaction is rolled back by the server and run
 * again from the start, up to 4 times.
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

/** Lock the invoice row for writing: its version and client, or undefined when there is none. */
export async function lockInvoice(
  tx: Tx,
  id: number,
): Promise<{ version: number; clientId: number } | undefined> {
  const rows = await tx.$queryRaw<Array<{ version: number; client_id: number }>>`
    SELECT version, client_id FROM invoices WHERE id = ${id} FOR UPDATE`
  const row = rows[0]
  return row === undefined ? undefined : { version: Number(row.version), clientId: Number(row.client_id) }
}
