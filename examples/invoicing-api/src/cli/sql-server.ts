/**
 * `tsx src/cli/sql-server.ts`: the SQL reference server (`load/sql-server.ts`) on `PORT` (0: a
 * free one) for the database of `INVOICING_DATABASE_URL`; prints `sql reference server on <url>`
 * and stops on SIGTERM or SIGINT. The demo and the `e2e` benchmark start it as a process of its
 * own, so that its CPU is not the load generator's.
 */
import { serviceAddresses } from '../config.ts'
import { startSqlServer } from '../load/sql-server.ts'

const server = await startSqlServer(serviceAddresses().databaseUrl, Number(process.env.PORT || 0))
console.log(`sql reference server on ${server.url}`)
const stop = () => {
  void server.close().then(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
