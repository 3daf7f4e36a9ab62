/**
 * The one rule every factory of this package follows for its options object: an object, and no
 * key it does not know. A misspelt option (`batchsize`, `retry`) is an error naming the keys, never
 * a default silently used instead.
 */
import { OutboxError } from './errors.js'

/** Throw `E_OUTBOX_INVALID_OPTION` naming the keys of `options` that are not in `known`. */
export function rejectUnknownKeys(options: object, known: ReadonlySet<string>, what: string): void {
  if (options === null || typeof options !== 'object') {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', `${what} options must be an object`)
  }
  const unknown = Object.keys(options).filter((key) => !known.has(key))
  if (unknown.length > 0) {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', `unknown ${what} option(s): ${unknown.join(', ')}`)
  }
}
