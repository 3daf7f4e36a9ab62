import type { SqlExecutor } from '../../src/index.js'

/** A fake SQL executor for unit tests: records every statement, optionally fails. */
export class RecordingDb implements SqlExecutor {
  readonly statements: Array<{ sql: string; params: unknown[] }> = []
  fail: Error | undefined

  constructor(readonly label: string) {}

  async query(sql: string, params: unknown[] = []): Promise<unknown> {
    if (this.fail) throw this.fail
    this.statements.push({ sql, params })
    return []
  }

  /** `[op, id, version]` of every outbox row inserted. */
  inserted(): Array<[unknown, unknown, unknown]> {
    return this.statements
      .filter((s) => s.sql.startsWith('INSERT INTO'))
      .flatMap((s) => {
        const rows: Array<[unknown, unknown, unknown]> = []
        for (let i = 0; i < s.params.length; i += 5)
          rows.push([s.params[i + 2], s.params[i + 1], s.params[i + 3]])
        return rows
      })
  }
}
