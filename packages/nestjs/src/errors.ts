/**
 * Every error this package throws is an {@link AyalaNestError} with a stable `code`, so callers
 * branch on codes, never on messages.
 */

/** Stable error codes of `@ayala/nestjs`. */
export type AyalaNestErrorCode =
  | 'E_NEST_INVALID_OPTION'
  | 'E_NEST_INVALID_DURATION'
  | 'E_NEST_HEALTH_CHECK_FAILED'
  | 'E_NEST_SHUTDOWN_TIMEOUT'
  | 'E_NEST_SINK_SETUP'
  | 'E_NEST_SINK_NO_LIFECYCLE'

/** Context carried by an {@link AyalaNestError}. */
export interface AyalaNestErrorContext {
  /** The option that was rejected, for `E_NEST_INVALID_OPTION` and `E_NEST_INVALID_DURATION`. */
  option?: string | undefined
  /** Whether retrying the same call may succeed. @default false */
  retriable?: boolean | undefined
  /** The underlying error. */
  cause?: unknown
}

/** Base class of every error thrown by `@ayala/nestjs`. */
export class AyalaNestError extends Error {
  override readonly name: string = 'AyalaNestError'
  /** Stable, documented code. */
  readonly code: AyalaNestErrorCode
  /** The option that was rejected, when there is one. */
  readonly option: string | undefined
  /** Whether retrying the same call may succeed. */
  readonly retriable: boolean

  constructor(code: AyalaNestErrorCode, message: string, context: AyalaNestErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause })
    this.code = code
    this.option = context.option
    this.retriable = context.retriable ?? false
  }
}

/** An option given to a module, interceptor or indicator is invalid; `option` names it. */
export class InvalidOptionError extends AyalaNestError {
  override readonly name = 'InvalidOptionError'
  constructor(
    option: string,
    message: string,
    code: 'E_NEST_INVALID_OPTION' | 'E_NEST_INVALID_DURATION' = 'E_NEST_INVALID_OPTION',
  ) {
    super(code, `Invalid option "${option}": ${message}`, { option })
  }
}

/** A health check could not reach its service or the service reported itself unhealthy. */
export class HealthCheckFailedError extends AyalaNestError {
  override readonly name = 'HealthCheckFailedError'
  /** The health indicator key (e.g. `redis`). */
  readonly indicator: string
  constructor(indicator: string, message: string, cause?: unknown) {
    super('E_NEST_HEALTH_CHECK_FAILED', `${indicator}: ${message}`, { retriable: true, cause })
    this.indicator = indicator
  }
}

/**
 * The request-metrics sink could not install its data stream's index template or retention
 * policy (`AyalaRequestMetricsSinkModule`, `installRequestMetricsDataStream`):
 *
 * - `E_NEST_SINK_NO_LIFECYCLE`: the engine has no lifecycle API, index lifecycle management
 *   (ILM) on Elasticsearch or the Index State Management plugin (ISM) on OpenSearch; install it
 *   or set `retention: false`. Not retriable.
 * - `E_NEST_SINK_SETUP`: the engine refused the template or the policy (a 4xx: permissions, a
 *   template of the same priority over the same name, a mapping conflict), or could not be
 *   reached (`retriable: true`: the sink tries again before its next write).
 */
export class RequestMetricsSetupError extends AyalaNestError {
  override readonly name = 'RequestMetricsSetupError'
  /** The data stream being set up. */
  readonly dataStream: string
  /** The engine, once known. */
  readonly engine: string | undefined
  /** The HTTP status of the engine's answer, when there is one. */
  readonly status: number | undefined
  constructor(
    code: 'E_NEST_SINK_SETUP' | 'E_NEST_SINK_NO_LIFECYCLE',
    message: string,
    context: {
      dataStream: string
      engine?: string | undefined
      status?: number | undefined
      retriable?: boolean | undefined
      cause?: unknown
    },
  ) {
    super(code, message, { retriable: context.retriable ?? false, cause: context.cause })
    this.dataStream = context.dataStream
    this.engine = context.engine
    this.status = context.status
  }
}
