/**
 * The index event: one change to mirror into an index, with the row's version (applied with
 * `version_type: external`, so an older event never overwrites a newer document). A leaf module
 * on purpose: the outbox, `applyIndexEvents`, `reconcile()`'s repairs, the write decorators and
 * `OutboxEnqueueError` all speak it, and none of them has to import another to do so.
 */

/** One change to mirror into the index. */
export type OutboxEvent =
  | { op: 'upsert'; index: string; id: string; version: number; document: unknown }
  | { op: 'delete'; index: string; id: string; version: number }
