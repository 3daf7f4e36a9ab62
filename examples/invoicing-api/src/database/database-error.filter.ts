/**
 * The database is a dependency too: when it cannot answer (unreachable, hung past the pool's
 * `socketTimeout`, no connection within `acquireTimeout`, refusing the application's login), a
 * request that needed it answers 503 with `Retry-After`, never a 500 and never a hang. The body
 * is a fixed text with a stable code; the driver's message (host, user) goes to the log only.
 *
 * Everything else goes to the SDK's `AyalaErrorFilter` (its typed errors), then to Nest's own.
 */
import { AyalaErrorFilter } from '@ayala/nestjs'
import { type ArgumentsHost, Catch, Logger } from '@nestjs/common'

/**
 * Prisma's codes of a database that cannot be reached or used in time (not a query's own error):
 * authentication failed (P1000), unreachable (P1001, P1002), timed out (P1008), TLS (P1011),
 * connection closed (P1017), no connection from the pool in time (P2024), and an interactive
 * transaction that could not start (or finish) within its time (P2028).
 */
const PRISMA_UNAVAILABLE = new Set(['P1000', 'P1001', 'P1002', 'P1008', 'P1011', 'P1017', 'P2024', 'P2028'])
/** Network error codes a driver passes through. */
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'])
/**
 * MySQL/MariaDB server errors of the connection itself: too many connections (1040), access
 * denied (1044, 1045), server gone or lost (2002, 2003, 2006, 2013).
 */
const SERVER_CONNECTION = new Set([1040, 1044, 1045, 2002, 2003, 2006, 2013])

interface DriverCause {
  code?: unknown
  originalCode?: unknown
  kind?: unknown
}

/** Whether `error` means "the database cannot answer now" rather than "this query is wrong". */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; depth < 6 && current !== null && typeof current === 'object'; depth++) {
    const e = current as {
      name?: unknown
      code?: unknown
      meta?: { driverAdapterError?: { cause?: DriverCause } }
    }
    if (e.name === 'PrismaClientInitializationError') return true
    if (typeof e.code === 'string' && (PRISMA_UNAVAILABLE.has(e.code) || NETWORK.has(e.code))) return true
    const cause = e.meta?.driverAdapterError?.cause
    if (cause !== undefined) {
      const code = Number(cause.originalCode ?? cause.code)
      // 45000-45999: the mariadb connector's own connection errors (socket timeout 45026, no
      // connection from the pool in time 45028, connection closed 45001...).
      if ((code >= 45_000 && code < 46_000) || SERVER_CONNECTION.has(code)) return true
      if (
        typeof cause.kind === 'string' &&
        /NotReachable|Authentication|SocketTimeout|TooManyConnections|ConnectionClosed/.test(cause.kind)
      )
        return true
    }
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** `AyalaErrorFilter` plus the database's unavailability: see the module note. */
@Catch()
export class DatabaseErrorFilter extends AyalaErrorFilter {
  private readonly databaseLogger = new Logger('DatabaseErrorFilter')

  override catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType<string>() !== 'http' || !isDatabaseUnavailable(exception))
      return super.catch(exception, host)
    const code = exception as { meta?: { driverAdapterError?: { cause?: DriverCause } }; code?: unknown }
    this.databaseLogger.warn(
      `503 for E_DATABASE_UNAVAILABLE (${String(code.meta?.driverAdapterError?.cause?.originalCode ?? code.code ?? 'unknown')})`,
    )
    const adapter = this.httpAdapterHost?.httpAdapter ?? this.applicationRef
    if (adapter === undefined) throw exception
    const response = host.switchToHttp().getResponse()
    adapter.setHeader(response, 'retry-after', '1')
    adapter.reply(
      response,
      {
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'The database is temporarily unavailable',
        code: 'E_DATABASE_UNAVAILABLE',
        retriable: true,
      },
      503,
    )
    return undefined
  }
}
