import { describe, expectTypeOf, it } from 'vitest'
import { type ReconcileSource, type SqlExecutor, sqlReconcileSource } from '../../src/index.js'

interface Doc {
  title: string
}
declare const db: SqlExecutor

describe('sqlReconcileSource', () => {
  it("gives load string keys with keyType: 'string', without an annotation", () => {
    const source = sqlReconcileSource({
      db,
      table: 'invoices',
      keyType: 'string',
      load: async (ids) => {
        expectTypeOf(ids).toEqualTypeOf<readonly string[]>()
        return ids.map((id) => ({ key: id, version: 1, document: { title: id } as Doc }))
      },
    })
    expectTypeOf(source).toEqualTypeOf<ReconcileSource<Doc, string>>()
  })

  it('keeps integer keys by default', () => {
    const source = sqlReconcileSource({
      db,
      table: 'invoices',
      load: async (ids) => {
        expectTypeOf(ids).toEqualTypeOf<readonly number[]>()
        return ids.map((id) => ({ key: id, version: 1, document: { title: String(id) } as Doc }))
      },
    })
    expectTypeOf(source).toEqualTypeOf<ReconcileSource<Doc, number>>()
  })

  it("still takes annotated keys with keyType: 'string' (the form before the overload)", () => {
    const source = sqlReconcileSource({
      db,
      table: 'invoices',
      keyType: 'string',
      load: async (ids: readonly string[]) =>
        ids.map((id) => ({ key: id, version: 1, document: { title: id } })),
    })
    expectTypeOf(source).toEqualTypeOf<ReconcileSource<{ title: string }, string>>()
  })
})
