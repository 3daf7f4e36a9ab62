import { serviceUrls } from '@ayala/testkit'
import mariadb, { type Pool } from 'mariadb'

/** A small pool on the harness's MariaDB. */
export function dbPool(connectionLimit = 4): Pool {
  const url = new URL(serviceUrls().database)
  return mariadb.createPool({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1) || 'test',
    connectionLimit,
    bigIntAsNumber: true,
    insertIdAsNumber: true,
  })
}
