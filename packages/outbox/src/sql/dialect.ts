/**
 * The outbox's SQL, per dialect. Every time the relay compares (claim expiry, retry time, age) is
 * the database's own clock (`NOW(3)` / `now()`), so relays on hosts with skewed clocks agree.
 *
 * Table: one row per effect. `sink` names who delivers it, `payload` is its JSON, `created_at` is
 * when the write committed it (the transaction's time), `age_from` is when its `maxAge` started
 * (reset by a replay), `available_at` is the earliest time of the next attempt (set by a per-item
 * retry), `claimed_by`/`claimed_until` is the lease of the relay delivering it, `dead_at` marks a
 * dead letter.
 */

/** SQL dialect of the outbox table. */
export type SqlDialect = 'mysql' | 'postgres'

/** Statements of one dialect on one table. */
export interface DialectSql {
  readonly dialect: SqlDialect
  readonly table: string
  createTable(): string[]
  insert(rows: number): string
  /** Candidate rows for a claim (run inside the claim transaction). */
  selectClaimable(): string
  /** Mark the selected rows as claimed (MySQL's second claim statement). */
  markClaimed(rows: number): string
  /** PostgreSQL's claim in one statement (RETURNING), or undefined. */
  claimReturning(): string | undefined
  deleteDone(rows: number): string
  retryOne(): string
  releaseMany(rows: number): string
  /** Drop every lease held by a relay id (its previous incarnation's, at start). */
  releaseOwn(): string
  deadOne(): string
  lag(): string
  /** Parameters: the sink when `bySink`, then the limit. */
  deadLetters(bySink: boolean): string
  /** Parameters: the sink when `bySink`, then `seqs` sequence numbers. */
  replay(bySink: boolean, seqs: number): string
  /** Parameters: as {@link replay}. */
  purge(bySink: boolean, seqs: number): string
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/** Whether `name` is a plain SQL identifier the outbox accepts as its table name. */
export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name)
}

function mysql(name: string): DialectSql {
  const t = `\`${name}\``
  const list = (n: number) => Array.from({ length: n }, () => '?').join(', ')
  const age = 'TIMESTAMPDIFF(MICROSECOND, age_from, NOW(3))'
  return {
    dialect: 'mysql',
    table: t,
    createTable: () => [
      `CREATE TABLE IF NOT EXISTS ${t} (
        seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        sink VARCHAR(64) NOT NULL,
        payload LONGTEXT NOT NULL,
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        age_from TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        available_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        claimed_by VARCHAR(64) NULL,
        claimed_until TIMESTAMP(3) NULL,
        attempts INT NOT NULL DEFAULT 0,
        last_error TEXT NULL,
        dead_at TIMESTAMP(3) NULL,
        KEY ${name}_by_sink (sink, dead_at, seq)
      )`,
    ],
    insert: (rows) =>
      `INSERT INTO ${t} (sink, payload) VALUES ${Array.from({ length: rows }, () => '(?, ?)').join(', ')}`,
    selectClaimable: () =>
      `SELECT seq, payload, attempts, ${age} AS age_us FROM ${t} WHERE sink = ? AND dead_at IS NULL AND available_at <= NOW(3) AND (claimed_until IS NULL OR claimed_until < NOW(3)) ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED`,
    markClaimed: (rows) =>
      `UPDATE ${t} SET claimed_by = ?, claimed_until = DATE_ADD(NOW(3), INTERVAL ? MICROSECOND) WHERE seq IN (${list(rows)})`,
    claimReturning: () => undefined,
    deleteDone: (rows) => `DELETE FROM ${t} WHERE seq IN (${list(rows)})`,
    retryOne: () =>
      `UPDATE ${t} SET attempts = attempts + 1, last_error = ?, available_at = DATE_ADD(NOW(3), INTERVAL ? MICROSECOND), claimed_by = NULL, claimed_until = NULL WHERE seq = ? AND claimed_by = ?`,
    releaseMany: (rows) =>
      `UPDATE ${t} SET attempts = attempts + 1, last_error = ?, claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ? AND seq IN (${list(rows)})`,
    releaseOwn: () => `UPDATE ${t} SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?`,
    deadOne: () =>
      `UPDATE ${t} SET dead_at = NOW(3), attempts = attempts + 1, last_error = ?, claimed_by = NULL, claimed_until = NULL WHERE seq = ? AND claimed_by = ?`,
    lag: () =>
      `SELECT sink, SUM(dead_at IS NULL) AS pending, SUM(dead_at IS NULL AND attempts > 0) AS retrying, SUM(dead_at IS NOT NULL) AS dead, MAX(CASE WHEN dead_at IS NULL THEN TIMESTAMPDIFF(MICROSECOND, created_at, NOW(3)) END) AS oldest_us FROM ${t} GROUP BY sink`,
    deadLetters: (bySink) =>
      `SELECT seq, sink, payload, attempts, last_error, created_at, dead_at FROM ${t} WHERE dead_at IS NOT NULL${bySink ? ' AND sink = ?' : ''} ORDER BY seq LIMIT ?`,
    replay: (bySink, seqs) =>
      `UPDATE ${t} SET dead_at = NULL, attempts = 0, last_error = NULL, age_from = NOW(3), available_at = NOW(3), claimed_by = NULL, claimed_until = NULL WHERE dead_at IS NOT NULL${bySink ? ' AND sink = ?' : ''}${seqs > 0 ? ` AND seq IN (${list(seqs)})` : ''}`,
    purge: (bySink, seqs) =>
      `DELETE FROM ${t} WHERE dead_at IS NOT NULL${bySink ? ' AND sink = ?' : ''}${seqs > 0 ? ` AND seq IN (${list(seqs)})` : ''}`,
  }
}

function postgres(name: string): DialectSql {
  const t = `"${name}"`
  const list = (from: number, n: number) => Array.from({ length: n }, (_, i) => `$${from + i}`).join(', ')
  const age = 'CAST(EXTRACT(EPOCH FROM (now() - age_from)) * 1000000 AS BIGINT)'
  return {
    dialect: 'postgres',
    table: t,
    createTable: () => [
      `CREATE TABLE IF NOT EXISTS ${t} (
        seq BIGSERIAL PRIMARY KEY,
        sink VARCHAR(64) NOT NULL,
        payload TEXT NOT NULL,
        created_at TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
        age_from TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
        available_at TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
        claimed_by VARCHAR(64) NULL,
        claimed_until TIMESTAMPTZ(3) NULL,
        attempts INT NOT NULL DEFAULT 0,
        last_error TEXT NULL,
        dead_at TIMESTAMPTZ(3) NULL
      )`,
      `CREATE INDEX IF NOT EXISTS ${name}_by_sink ON ${t} (sink, seq) WHERE dead_at IS NULL`,
    ],
    insert: (rows) =>
      `INSERT INTO ${t} (sink, payload) VALUES ${Array.from({ length: rows }, (_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ')}`,
    selectClaimable: () => '',
    markClaimed: () => '',
    // `available_at` is a timestamptz(3), which PostgreSQL rounds to the NEAREST millisecond: a
    // row written or replayed with `now()` may lie up to 0.5 ms after the `now()` of a claim that
    // follows at once, and a drain would skip it (contract.test.ts). Hence the 500 us of slack.
    claimReturning: () =>
      `UPDATE ${t} SET claimed_by = $1, claimed_until = now() + ($2::double precision * interval '1 microsecond') WHERE seq IN (SELECT seq FROM ${t} WHERE sink = $3 AND dead_at IS NULL AND available_at <= now() + interval '500 microseconds' AND (claimed_until IS NULL OR claimed_until < now()) ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING seq, payload, attempts, ${age} AS age_us`,
    deleteDone: (rows) => `DELETE FROM ${t} WHERE seq IN (${list(1, rows)})`,
    retryOne: () =>
      `UPDATE ${t} SET attempts = attempts + 1, last_error = $1, available_at = now() + ($2::double precision * interval '1 microsecond'), claimed_by = NULL, claimed_until = NULL WHERE seq = $3 AND claimed_by = $4`,
    releaseMany: (rows) =>
      `UPDATE ${t} SET attempts = attempts + 1, last_error = $1, claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $2 AND seq IN (${list(3, rows)})`,
    releaseOwn: () => `UPDATE ${t} SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1`,
    deadOne: () =>
      `UPDATE ${t} SET dead_at = now(), attempts = attempts + 1, last_error = $1, claimed_by = NULL, claimed_until = NULL WHERE seq = $2 AND claimed_by = $3`,
    lag: () =>
      `SELECT sink, COUNT(*) FILTER (WHERE dead_at IS NULL) AS pending, COUNT(*) FILTER (WHERE dead_at IS NULL AND attempts > 0) AS retrying, COUNT(*) FILTER (WHERE dead_at IS NOT NULL) AS dead, MAX(CAST(EXTRACT(EPOCH FROM (now() - created_at)) * 1000000 AS BIGINT)) FILTER (WHERE dead_at IS NULL) AS oldest_us FROM ${t} GROUP BY sink`,
    deadLetters: (bySink) =>
      `SELECT seq, sink, payload, attempts, last_error, created_at, dead_at FROM ${t} WHERE dead_at IS NOT NULL${bySink ? ' AND sink = $1' : ''} ORDER BY seq LIMIT $${bySink ? 2 : 1}`,
    replay: (bySink, seqs) =>
      `UPDATE ${t} SET dead_at = NULL, attempts = 0, last_error = NULL, age_from = now(), available_at = now(), claimed_by = NULL, claimed_until = NULL WHERE dead_at IS NOT NULL${bySink ? ' AND sink = $1' : ''}${seqs > 0 ? ` AND seq IN (${list(bySink ? 2 : 1, seqs)})` : ''}`,
    purge: (bySink, seqs) =>
      `DELETE FROM ${t} WHERE dead_at IS NOT NULL${bySink ? ' AND sink = $1' : ''}${seqs > 0 ? ` AND seq IN (${list(bySink ? 2 : 1, seqs)})` : ''}`,
  }
}

/** The statements of `dialect` on table `name` (validated by the caller). */
export function dialectSql(dialect: SqlDialect, name: string): DialectSql {
  return dialect === 'postgres' ? postgres(name) : mysql(name)
}
