/**
 * The migrator. Prisma's `migrate` needs its schema engine binary, which this machine cannot
 * download, so the migrations are plain SQL files (`prisma/migrations/NNNN_name.sql`, applied in
 * name order) and this module applies them: it creates the database if missing, records each
 * applied file with its SHA-256 in `_migrations`, and skips recorded files, so running it again is
 * a no-op. A recorded file whose content changed is refused (write a new migration instead).
 *
 * MariaDB commits DDL implicitly, so a file is not atomic: keep one schema change per file.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createConnection } from 'mariadb'
import { poolConfig } from './connection.ts'

/** The folder of the SQL migrations. */
export const MIGRATIONS_DIR = join(import.meta.dirname, '..', '..', 'prisma', 'migrations')

/** What one run did. */
export interface MigrationReport {
  /** Files applied now. */
  applied: string[]
  /** Files already recorded. */
  skipped: string[]
}

/** Apply the pending migrations of `dir` to the database of `databaseUrl` (created if missing). */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<MigrationReport> {
  const { database, connectionLimit: _, ...server } = poolConfig(databaseUrl)
  const admin = await createConnection(server)
  try {
    await admin.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    )
  } finally {
    await admin.end()
  }
  const db = await createConnection({ ...server, database, multipleStatements: true })
  const report: MigrationReport = { applied: [], skipped: [] }
  try {
    await db.query(
      `CREATE TABLE IF NOT EXISTS _migrations (
        name VARCHAR(255) NOT NULL PRIMARY KEY,
        sha256 CHAR(64) NOT NULL,
        applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
      )`,
    )
    // One migrator at a time (two demos started together): a named lock held for the whole run.
    await db.query(`SELECT GET_LOCK('ayala_invoicing_migrations', 60)`)
    const done = new Map<string, string>(
      (
        (await db.query('SELECT name, sha256 FROM _migrations')) as Array<{ name: string; sha256: string }>
      ).map((row) => [row.name, row.sha256]),
    )
    const files = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort()
    for (const name of files) {
      const sql = await readFile(join(dir, name), 'utf8')
      const sha256 = createHash('sha256').update(sql).digest('hex')
      const recorded = done.get(name)
      if (recorded !== undefined) {
        if (recorded !== sha256) {
          throw new Error(`migration ${name} changed after it was applied; add a new migration instead`)
        }
        report.skipped.push(name)
        continue
      }
      await db.query(sql)
      await db.query('INSERT INTO _migrations (name, sha256) VALUES (?, ?)', [name, sha256])
      report.applied.push(name)
    }
    await db.query(`SELECT RELEASE_LOCK('ayala_invoicing_migrations')`)
  } finally {
    await db.end()
  }
  return report
}
