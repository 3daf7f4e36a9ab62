import type { DeliveryOutcome, OutboxDelivery, OutboxSink } from '../../src/index.ts'
import { DELIVERED } from '../../src/index.ts'

/** A sink that records what it was given and answers what the test says. */
export interface RecordingSink extends OutboxSink<unknown> {
  /** Every delivered (done) effect, in delivery order. */
  readonly delivered: Array<OutboxDelivery<unknown>>
  /** Calls of deliver(). */
  calls: number
  /** Throw this (the sink is down) instead of delivering. */
  failWith: Error | undefined
  /** Per-item outcome; default done. */
  outcome: (item: OutboxDelivery<unknown>) => DeliveryOutcome
  /** Resolve deliveries only once this promise resolves (a slow or hung sink). */
  gate: Promise<void> | undefined
}

export function recordingSink(): RecordingSink {
  const sink: RecordingSink = {
    delivered: [],
    calls: 0,
    failWith: undefined,
    outcome: () => DELIVERED,
    gate: undefined,
    async deliver(items, context) {
      sink.calls++
      if (sink.gate) await sink.gate
      // A delivery the relay gave up on (timeout) does not land late: this sink honours the abort.
      if (context.signal.aborted) throw context.signal.reason
      if (sink.failWith) throw sink.failWith
      const outcomes = items.map((item) => sink.outcome(item))
      items.forEach((item, i) => {
        if (outcomes[i]?.status === 'done') sink.delivered.push(item)
      })
      return outcomes
    },
  }
  return sink
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`${what} not met within ${timeoutMs} ms`)
}
