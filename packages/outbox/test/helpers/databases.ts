/**
 * The database drivers the outbox contract runs against, each on its real server: `mariadb` and
 * `mysql2` on MariaDB, `pg` on PostgreSQL. Each gives a pool (for the relay) and a way to run a
 * business transaction the way a user of that driver writes it.
 */
import { serviceUrls } from '@ayala/testkit'
import { createPool as createMariaPool } from 'mariadb'
import { createPool as createMysql2Pool } from 'mysql2/promise'
import pg from 'pg'
import type { SqlDialect } from '../../src/index.ts'

/** One driver on its server. */
export interface DriverUnderTest {
  name: string
  dialect: SqlDialect
  /** The pool handed to the relay (and to lag/deadLetters). */
  pool: object
  /** Run `work` in a transaction of the user's own, with the driver's connection. */
  transaction<T>(
    work: (tx: object, exec: (sql: string, params?: unknown[]) => Promise<unknown>) => Promise<T>,
  ): Promise<T>
  /** One statement outside a transaction (test set-up and checks); `?` placeholders. */
  exec(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>
  /** SQL to create a business table `items(id, version, name)`. */
  createItems(table: string): string
  close(): Promise<void>
}

function mysqlConfig() {
  const url = new URL(serviceUrls().database)
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1)) || 'test',
  }
}

/** `?` placeholders as `$1, $2...` for pg. */
function numbered(sql: string): string {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}

export function mariadbDriver(): DriverUnderTest {
  const pool = createMariaPool({ ...mysqlConfig(), connectionLimit: 6 })
  return {
    name: 'mariadb',
    dialect: 'mysql',
    pool,
    async transaction(work) {
      const connection = await pool.getConnection()
      try {
        await connection.beginTransaction()
        const result = await work(connection, (sql, params) => connection.query(sql, params))
        await connection.commit()
        return result
      } catch (error) {
        await connection.rollback()
        throw error
      } finally {
        await connection.release()
      }
    },
    async exec(sql, params) {
      const rows = await pool.query(sql, params)
      return Array.isArray(rows) ? [...rows] : []
    },
    createItems: (table) =>
      `CREATE TABLE ${table} (id INT PRIMARY KEY, version INT NOT NULL, name VARCHAR(100) NOT NULL)`,
    close: () => pool.end(),
  }
}

export function mysql2Driver(): DriverUnderTest {
  const pool = createMysql2Pool({ ...mysqlConfig(), connectionLimit: 6 })
  return {
    name: 'mysql2',
    dialect: 'mysql',
    pool,
    async transaction(work) {
      const connection = await pool.getConnection()
      try {
        await connection.beginTransaction()
        const result = await work(connection, (sql, params) => connection.query(sql, params))
        await connection.commit()
        return result
      } catch (error) {
        await connection.rollback()
        throw error
      } finally {
        connection.release()
      }
    },
    async exec(sql, params) {
      const [rows] = await pool.query(sql, params)
      return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : []
    },
    createItems: (table) =>
      `CREATE TABLE ${table} (id INT PRIMARY KEY, version INT NOT NULL, name VARCHAR(100) NOT NULL)`,
    close: () => pool.end(),
  }
}

export function pgDriver(): DriverUnderTest {
  const pool = new pg.Pool({ connectionString: serviceUrls().postgres, max: 6 })
  return {
    name: 'pg',
    dialect: 'postgres',
    pool,
    async transaction(work) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const result = await work(client, (sql, params) => client.query(numbered(sql), params))
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK')
        throw error
      } finally {
        client.release()
      }
    },
    async exec(sql, params) {
      return (await pool.query(numbered(sql), params)).rows
    },
    createItems: (table) =>
      `CREATE TABLE ${table} (id INT PRIMARY KEY, version INT NOT NULL, name VARCHAR(100) NOT NULL)`,
    close: () => pool.end(),
  }
}

/** Every driver of the contract, by name (opened by the suite that runs it). */
export const DRIVERS: Array<{ name: string; open: () => DriverUnderTest }> = [
  { name: 'mariadb', open: mariadbDriver },
  { name: 'mysql2', open: mysql2Driver },
  { name: 'pg', open: pgDriver },
]
