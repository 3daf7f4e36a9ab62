/**
 * Repository writes that keep the index in sync: the `@IndexOnWrite` method decorator and the
 * `indexOnWrite` function wrapper, both over a transactional outbox.
 *
 * Mechanism: the wrapped write (create, update or delete) runs first; when it resolves, its
 * result and arguments are mapped to outbox events (each carrying the row's version, applied
 * with `version_type: external`). Then:
 *
 * - **In a transaction** (the `transaction` option returns the caller's connection): the events
 *   are inserted with that connection, i.e. inside the same transaction as the write. They exist
 *   if and only if the caller commits; a rollback leaves neither the row nor the events.
 * - **Without one** (`transaction` absent or returning `undefined`/`null`): the write has already
 *   committed on its own, so the events are inserted right after it through `db` (a pool). If that
 *   insert fails the call rejects with an {@link OutboxEnqueueError} holding the events, so the
 *   caller can retry it; a crash between the two statements loses the event (the transactional
 *   form has no such window).
 *
 * A write that throws records nothing. Whatever the order in which events of one document are
 * enqueued or drained, the engine refuses a version lower than or equal to the one it holds, so
 * the newest write wins (see `outbox.ts`).
 *
 * The outbox and the pool are found per call, so a DI container can inject them: an `Outbox` /
 * executor object, the name (or symbol) of a property of the instance holding it, or a function
 * of the instance. Options are validated when the decorator or wrapper is created.
 */
import { OutboxEnqueueError, SearchError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import type { SqlExecutor } from '../sql.js'
import { Outbox } from './outbox.js'
import type { OutboxEvent } from './outbox-event.js'

/**
 * Where a wrapped write finds a dependency: the object itself, the name or symbol of a property
 * of the instance (`this`) holding it, or a function of the instance.
 */
export type InstanceLocator<T> = T | string | symbol | ((instance: any) => T)

/** Events of a completed write: one, several, or none (`undefined`). */
export type WriteEvents = OutboxEvent | readonly OutboxEvent[] | undefined

/**
 * Options of {@link IndexOnWrite} and {@link indexOnWrite}. `A`: the leading parameters `event`
 * reads, `T`: those `transaction` reads (each may use fewer parameters than the method has);
 * `R`: the write's result.
 */
export interface IndexOnWriteOptions<A extends unknown[], R, T extends unknown[] = A> {
  /**
   * The outbox events of a completed write, from its result and arguments (`undefined`: no
   * event). Every event carries the row's version: an optimistic-lock column incremented by each
   * write, or an update timestamp in ms, including deletes.
   */
  event: (result: R, ...args: A) => WriteEvents
  /** The outbox (or where to find it). */
  outbox: InstanceLocator<Outbox>
  /**
   * The connection of the transaction the write ran in, from the call's arguments (called with
   * the instance as `this`). When it returns a connection, the events are recorded with it,
   * inside that transaction. `undefined`/`null`, or no option: the write committed on its own and
   * the events are recorded right after it through `db`.
   */
  transaction?: ((...args: T) => SqlExecutor | null | undefined) | undefined
  /** Where events of writes made outside a transaction are recorded (a pool, or where to find it). */
  db?: InstanceLocator<SqlExecutor> | undefined
}

/** An async method whose leading parameters match `A` and `T` and whose result is assignable to `R`. */
export type WriteMethod<A extends unknown[], R, T extends unknown[]> = ((
  ...args: [...A, ...any[]]
) => Promise<R>) &
  ((...args: [...T, ...any[]]) => Promise<R>)

/**
 * A method decorator usable as a legacy (`experimentalDecorators`, what NestJS compiles) or a
 * TC39 standard decorator, on async methods whose leading parameters match `A` (read by
 * `event`) and `T` (read by `transaction`) and whose result is assignable to `R`.
 */
export interface WriteMethodDecorator<A extends unknown[], R, T extends unknown[] = A> {
  <M extends WriteMethod<A, R, T>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): TypedPropertyDescriptor<M> | undefined
  <M extends WriteMethod<A, R, T>>(method: M, context: ClassMethodDecoratorContext<unknown, M>): M
}

const KNOWN_WRITE_OPTIONS: ReadonlySet<string> = new Set(['event', 'outbox', 'transaction', 'db'])

function invalid(option: string, message: string): SearchError {
  return new SearchError('E_SEARCH_INVALID_OPTION', `${option} ${message}`)
}

function checkLocator(value: unknown, option: string, required: boolean): void {
  if (value === undefined && !required) return
  const kind = typeof value
  if (kind === 'string' || kind === 'symbol' || kind === 'function' || (kind === 'object' && value !== null))
    return
  throw invalid(option, 'must be the object, a property name, a symbol or a function of the instance')
}

function locate<T>(locator: InstanceLocator<T> | undefined, instance: any): T | undefined {
  if (locator === undefined) return undefined
  if (typeof locator === 'function') return (locator as (instance: any) => T)(instance)
  if (typeof locator === 'string' || typeof locator === 'symbol') return instance?.[locator] as T | undefined
  return locator
}

/** Validate once, return the per-call wrapper factory. */
function compile<A extends unknown[], R, T extends unknown[]>(
  options: IndexOnWriteOptions<A, R, T>,
  factory: string,
): (
  write: (...args: any[]) => Promise<unknown>,
  name: string,
) => (this: any, ...args: any[]) => Promise<unknown> {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'must be an object')
  checkOptionKeys(options, KNOWN_WRITE_OPTIONS, factory)
  const { event, transaction, outbox, db } = options
  if (typeof event !== 'function') throw invalid('event', 'must be a function (result, ...args) => event(s)')
  if (transaction !== undefined && typeof transaction !== 'function')
    throw invalid('transaction', 'must be a function (...args) => connection | undefined')
  checkLocator(outbox, 'outbox', true)
  checkLocator(db, 'db', false)
  return (write, name) =>
    async function indexOnWrite(this: any, ...args: any[]) {
      const result = await write.apply(this, args)
      const produced = event.call(this, result as R, ...(args as A))
      if (produced === undefined) return result
      const events = (Array.isArray(produced) ? produced : [produced]) as OutboxEvent[]
      if (events.length === 0) return result
      const box = locate(outbox, this)
      if (!(box instanceof Outbox))
        throw invalid('outbox', `of ${name} did not resolve to an Outbox (createOutbox)`)
      const tx = transaction?.apply(this, args as T)
      if (tx !== undefined && tx !== null) {
        // Same transaction as the write: a failure here rejects the call, so the caller rolls back.
        await box.enqueue(tx, events)
        return result
      }
      const executor = locate(db, this)
      if (executor === undefined || executor === null || typeof executor.query !== 'function') {
        throw new OutboxEnqueueError(
          events,
          `${name} ran outside a transaction and no db was given to record its outbox event(s) with`,
        )
      }
      try {
        await box.enqueue(executor, events)
      } catch (error) {
        if (error instanceof SearchError && error.code !== 'E_SEARCH_OUTBOX') throw error
        throw new OutboxEnqueueError(
          events,
          `${name} committed but its outbox event(s) could not be recorded`,
          {
            cause: error,
          },
        )
      }
      return result
    }
}

/**
 * Method decorator for repository writes (create, update, delete): after the method resolved,
 * record its outbox event(s) in the caller's transaction when the `transaction` option finds one
 * among the arguments, else right after the write through `db`. A method that throws records
 * nothing. Works as a legacy and as a TC39 decorator.
 *
 * @example
 * class InvoiceRepository {
 *   constructor(readonly pool: Pool, readonly outbox: Outbox) {}
 *
 *   @IndexOnWrite({
 *     outbox: 'outbox',
 *     db: 'pool',
 *     transaction: (_invoice: Invoice, tx?: SqlExecutor) => tx,
 *     event: (saved: Invoice) => ({
 *       op: 'upsert', index: 'invoices-write', id: saved.id, version: saved.version, document: toDoc(saved),
 *     }),
 *   })
 *   async update(invoice: Invoice, tx?: SqlExecutor): Promise<Invoice> { ... }
 * }
 */
export function IndexOnWrite<A extends unknown[] = [], R = unknown, T extends unknown[] = []>(
  options: IndexOnWriteOptions<A, R, T>,
): WriteMethodDecorator<A, R, T> {
  const wrap = compile(options, '@IndexOnWrite')
  return ((target: any, context: any, descriptor?: PropertyDescriptor) => {
    if (descriptor !== undefined) {
      // Legacy: (prototype, name, descriptor)
      if (typeof descriptor.value !== 'function') throw invalid('@IndexOnWrite', 'applies to methods only')
      descriptor.value = wrap(descriptor.value, `${target?.constructor?.name ?? 'object'}.${String(context)}`)
      return descriptor
    }
    // TC39: (method, context)
    const ctx = context as ClassMethodDecoratorContext
    if (ctx?.kind !== 'method') throw invalid('@IndexOnWrite', 'applies to methods only')
    return wrap(target, String(ctx.name))
  }) as WriteMethodDecorator<A, R, T>
}

/**
 * Wrap a repository write function (create, update, delete) so its outbox event(s) are recorded
 * in the caller's transaction when `transaction` finds one among the arguments, else right after
 * the write through `db`. The wrapper keeps the function's signature and its `this`.
 *
 * @example
 * const deleteInvoice = indexOnWrite(rawDelete, {
 *   outbox,
 *   db: pool,
 *   transaction: (tx: SqlExecutor | undefined) => tx,
 *   event: (deleted: { id: string; version: number }) => ({
 *     op: 'delete', index: 'invoices-write', id: deleted.id, version: deleted.version,
 *   }),
 * })
 */
export function indexOnWrite<F extends (...args: any[]) => Promise<any>>(
  write: F,
  options: IndexOnWriteOptions<Parameters<F>, Awaited<ReturnType<F>>, Parameters<F>>,
): F {
  if (typeof write !== 'function') throw invalid('write', 'must be a function')
  return compile(options, 'indexOnWrite')(write, write.name || 'write') as F
}
