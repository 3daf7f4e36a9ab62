/**
 * What one committed write of an invoice owes the copies, recorded in the write's transaction
 * through `@ayala/outbox` (and applied at once for the cache, for latency):
 *
 * - the search document, upserted with the row's version as external version, or deleted with
 *   the tombstone's version (the last version plus one), so an older effect never wins;
 * - the Kafka event the dashboard aggregator applies in entity mode: the invoice's figures at
 *   that version, or `null` for a deletion; the aggregator retracts the stored contribution of
 *   the previous version, so status changes and deletions leave every figure exact;
 * - the cache tags: the invoice itself, the monthly reports and the list pages of the states
 *   before and after the write (`list-tags.ts`).
 */
import { cacheEffect, kafkaEffect, type OutboxEffect } from '@ayala/outbox'
import { indexEffect } from '@ayala/outbox/search'
import type { AppSettings } from '../infrastructure.ts'
import type { InvoiceView } from './invoice.ts'
import { type InvoiceEvent, invoiceFigures } from './invoice-events.ts'
import { toInvoiceDocument } from './invoice-index.ts'
import { type ListedState, writeTags } from './list-tags.ts'

/** The list-relevant state of an invoice. */
export function listedState(invoice: InvoiceView): ListedState {
  return { clientId: invoice.client.id, status: invoice.status, issuedAt: invoice.issuedAt }
}

/** Every cache tag a write from `before` to `after` (either absent: a creation, a deletion) drops. */
export function invoiceWriteTags(before: InvoiceView | undefined, after: InvoiceView | undefined): string[] {
  const id = (after ?? before)?.id
  return [
    `invoice:${id}`,
    'reports',
    ...writeTags(before && listedState(before), after && listedState(after)),
  ]
}

/**
 * The effects of one committed write of an invoice: `after` is the invoice as written (absent
 * for a deletion, whose tombstone version is `deletedVersion`), `before` as it was (absent for
 * a creation).
 */
export function invoiceEffects(
  settings: AppSettings,
  before: InvoiceView | undefined,
  after: InvoiceView | undefined,
  deletedVersion?: number,
): OutboxEffect[] {
  const current = after ?? before
  if (current === undefined) throw new Error('invoiceEffects needs the invoice before or after the write')
  const version = after?.version ?? (deletedVersion as number)
  const event: InvoiceEvent = {
    invoiceId: String(current.id),
    version,
    at: Date.now(),
    invoice: after === undefined ? null : invoiceFigures(after),
    previous: before === undefined ? undefined : invoiceFigures(before),
  }
  return [
    after === undefined
      ? indexEffect({ op: 'delete', index: settings.names.index, id: String(current.id), version })
      : indexEffect({
          op: 'upsert',
          index: settings.names.index,
          id: String(after.id),
          version,
          document: { ...toInvoiceDocument(after) },
        }),
    kafkaEffect({ topic: settings.names.topic, key: event.invoiceId, value: event }),
    cacheEffect({ tags: invoiceWriteTags(before, after) }),
  ]
}
