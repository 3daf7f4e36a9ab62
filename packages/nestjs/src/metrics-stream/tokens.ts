import { Inject } from '@nestjs/common'

/** Token of the module's `Dashboard` (when `dashboard` is not `false`). */
export const AYALA_DASHBOARD: symbol = Symbol.for('@ayala/nestjs:dashboard')
/** Token of the module's `MetricsConsumer` (when `consumer` is given), or `null`. */
export const AYALA_METRICS_CONSUMER: symbol = Symbol.for('@ayala/nestjs:metrics-consumer')

/** Parameter decorator injecting the module's `Dashboard`. */
export function InjectDashboard(): PropertyDecorator & ParameterDecorator {
  return Inject(AYALA_DASHBOARD)
}

/** Parameter decorator injecting the module's `MetricsConsumer` (or `null` when it runs elsewhere). */
export function InjectMetricsConsumer(): PropertyDecorator & ParameterDecorator {
  return Inject(AYALA_METRICS_CONSUMER)
}
