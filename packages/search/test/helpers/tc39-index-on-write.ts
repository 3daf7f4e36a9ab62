/**
 * Run by index-on-write.test.ts in a child process through tsx, whose esbuild lowers TC39
 * standard decorators (the package tsconfig has no `experimentalDecorators`). Prints what each
 * executor received.
 */
import { createOutbox, IndexOnWrite, type Outbox, type SqlExecutor } from '../../src/index.js'
import { RecordingDb } from './recording-db.js'

class Repo {
  constructor(
    readonly outbox: Outbox,
    readonly pool: RecordingDb,
  ) {}

  @IndexOnWrite({
    outbox: 'outbox',
    db: 'pool',
    transaction: (_id: string, _version: number, tx?: SqlExecutor) => tx,
    event: (saved: { id: string; version: number }) => ({
      op: 'upsert',
      index: 'invoices',
      id: saved.id,
      version: saved.version,
      document: { id: saved.id },
    }),
  })
  async save(id: string, version: number, _tx?: SqlExecutor): Promise<{ id: string; version: number }> {
    if (version < 0) throw new Error('negative')
    return { id, version }
  }
}

const pool = new RecordingDb('pool')
const tx = new RecordingDb('tx')
const repo = new Repo(createOutbox({ table: 'ob' }), pool)
await repo.save('a', 1)
await repo.save('b', 2, tx)
const failed = await repo.save('c', -1).then(
  () => 'resolved',
  (error: Error) => error.message,
)
process.stdout.write(`${JSON.stringify({ pool: pool.inserted(), tx: tx.inserted(), failed })}\n`)
