/**
 * Deliver one claimed batch to its sink, bounded by `deliveryTimeout`: past it, the sink's signal
 * is aborted with an `E_OUTBOX_TIMEOUT` (retriable) and the delivery counts as failed, so a hung
 * engine or broker never holds a batch longer than its lease allows (`claimTimeout` must exceed
 * `deliveryTimeout`, checked with the options). The relay's stop aborts the signal too.
 */
import { OutboxError } from '../errors.js'
import type { DeliveryOutcome, OutboxDelivery, OutboxSink } from '../sinks/sink.js'
import type { RelayState } from './state.js'

/** The sink's outcomes for `items` (one per item, in order), or a throw: the batch failed as a whole. */
export async function deliver(
  state: RelayState,
  sink: string,
  items: Array<OutboxDelivery<unknown>>,
  stop: AbortSignal,
): Promise<readonly DeliveryOutcome[]> {
  if (items.length === 0) return []
  const target = state.sinks.get(sink) as OutboxSink<unknown>
  const { deliveryTimeoutMs } = state.options
  const timeout = new AbortController()
  const signal = AbortSignal.any([timeout.signal, stop])
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new OutboxError(
        'E_OUTBOX_TIMEOUT',
        `sink "${sink}" did not deliver ${items.length} effect(s) within ${deliveryTimeoutMs} ms`,
        { sink, retriable: true },
      )
      timeout.abort(error)
      reject(error)
    }, deliveryTimeoutMs)
  })
  try {
    return await Promise.race([target.deliver(items, { sink, signal }), deadline])
  } finally {
    clearTimeout(timer)
  }
}
