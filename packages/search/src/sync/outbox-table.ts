/**
 * The outbox table's shape, shared by the outbox (which writes and inspects it) and the worker
 * (which drains it): one row per event, in `seq` order; `attempts` counts permanent rejections
 * only, so an event is a dead letter once `attempts` reaches the worker's limit (it is then
 * skipped by the claim's `WHERE attempts < ?` and kept with its `last_error`).
 */

/** What the worker needs of its outbox: the quoted table name. */
export interface OutboxTable {
  /** Quoted table name. */
  readonly table: string
}

/** A row of the outbox table, as the drain claims it. */
export interface OutboxRow {
  seq: number
  index_name: string
  doc_id: string
  op: 'upsert' | 'delete'
  version: number
  payload: string | null
  attempts: number
}

/** A dead-lettered event with the engine's last answer. */
export interface DeadLetter {
  seq: number
  index: string
  id: string
  op: 'upsert' | 'delete'
  version: number
  attempts: number
  lastError: string
}

/** The DDL of the table (MariaDB/MySQL). */
export function outboxTableDdl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
        seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        index_name VARCHAR(255) NOT NULL,
        doc_id VARCHAR(512) NOT NULL,
        op VARCHAR(8) NOT NULL,
        version BIGINT NOT NULL,
        payload LONGTEXT NULL,
        attempts INT NOT NULL DEFAULT 0,
        last_error TEXT NULL,
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        KEY by_attempts (attempts, seq)
      )`
}
