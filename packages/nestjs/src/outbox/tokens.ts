import { Inject } from '@nestjs/common'

/** Token of the module's `Outbox` (to `enqueue` effects in a write's transaction). */
export const AYALA_OUTBOX: symbol = Symbol.for('@ayala/nestjs:outbox')
/** Token of the module's `OutboxRelay` (when `sinks` are given), or `null`. */
export const AYALA_OUTBOX_RELAY: symbol = Symbol.for('@ayala/nestjs:outbox-relay')

/** Parameter decorator injecting the module's `Outbox`. */
export function InjectOutbox(): PropertyDecorator & ParameterDecorator {
  return Inject(AYALA_OUTBOX)
}

/** Parameter decorator injecting the module's `OutboxRelay` (or `null` when it runs elsewhere). */
export function InjectOutboxRelay(): PropertyDecorator & ParameterDecorator {
  return Inject(AYALA_OUTBOX_RELAY)
}
