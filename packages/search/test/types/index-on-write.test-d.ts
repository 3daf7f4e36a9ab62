import { describe, expectTypeOf, it } from 'vitest'
import { createOutbox, IndexOnWrite, indexOnWrite, type SqlExecutor } from '../../src/index.js'

interface Invoice {
  id: string
  version: number
}
const outbox = createOutbox()
const upsert = (saved: Invoice) => ({
  op: 'upsert' as const,
  index: 'invoices',
  id: saved.id,
  version: saved.version,
  document: saved,
})

describe('indexOnWrite', () => {
  it('keeps the signature and types event and transaction from the write', () => {
    const save = async (tx: SqlExecutor | undefined, invoice: Invoice): Promise<Invoice> => {
      void tx
      return invoice
    }
    const wrapped = indexOnWrite(save, {
      outbox,
      transaction: (tx) => tx,
      event: (saved, _tx, input) => {
        expectTypeOf(saved).toEqualTypeOf<Invoice>()
        expectTypeOf(input).toEqualTypeOf<Invoice>()
        return upsert(saved)
      },
    })
    expectTypeOf(wrapped).toEqualTypeOf(save)
    const noVersion = (saved: Invoice) => ({ op: 'upsert' as const, index: 'i', id: saved.id, document: {} })
    // @ts-expect-error: an event needs a version
    indexOnWrite(save, { outbox, event: noVersion })
    // @ts-expect-error: the transaction must be a connection
    indexOnWrite(save, { outbox, transaction: () => 'tx', event: upsert })
  })
})

describe('@IndexOnWrite', () => {
  it('checks the method against event and transaction', () => {
    const decorate = IndexOnWrite({
      outbox,
      transaction: (_invoice: Invoice, tx?: SqlExecutor) => tx,
      event: (saved: Invoice) => upsert(saved),
    })
    type Context<M extends (...args: any) => any> = ClassMethodDecoratorContext<unknown, M>
    const good = async (invoice: Invoice, _tx?: SqlExecutor) => invoice
    const wrongArgs = async (id: string, _tx?: SqlExecutor) => ({ id, version: 1 })
    const wrongResult = async (_invoice: Invoice, _tx?: SqlExecutor) => 42
    decorate(good, {} as Context<typeof good>)
    // @ts-expect-error: the method takes a string where transaction expects an Invoice
    decorate(wrongArgs, {} as Context<typeof wrongArgs>)
    // @ts-expect-error: the method's result is not what event reads
    decorate(wrongResult, {} as Context<typeof wrongResult>)
  })
})
