/**
 * A Prisma client as the pages that write through Prisma assume it (preludes import it as
 * `#context/prisma`): the part of the generated client and of an interactive transaction the
 * snippets call, with an `invoice` model. Declarations only.
 */

/** An invoice as Prisma returns it. */
export interface InvoiceRecord {
  id: number
  number: string
  clientName: string
  description: string
  status: string
  totalCents: number
  version: number
}

/** The interactive transaction's `tx`. */
export interface PrismaTransaction {
  invoice: {
    updateMany(args: { where: { id: number; version: number }; data: object }): Promise<{ count: number }>
    findUniqueOrThrow(args: { where: { id: number }; include?: object | undefined }): Promise<InvoiceRecord>
  }
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>
}

/** The client: a transaction plus the same model calls. */
export interface PrismaClient extends PrismaTransaction {
  $transaction<R>(fn: (tx: PrismaTransaction) => Promise<R>): Promise<R>
}

export declare const prisma: PrismaClient
export declare const id: number
export declare const version: number
export declare const status: string
