/**
 * The two rules every factory of this package applies to its options object before reading it:
 * unknown keys are refused by name (a misspelt option is a bug, not a default), and a renamed
 * option's old name is a deprecated alias (`@ayala/internal`'s `renamedOption`: its value, one
 * `DeprecationWarning` per process with an `AYALA_SEARCH_<OLD>` code; both names given is an
 * error). Both throw `E_SEARCH_INVALID_OPTION`. The one option vocabulary they serve is the table
 * of `docs/architecture.md`.
 */
import { type OptionRename, renamedOption } from '@ayala/internal'
import { SearchError } from './errors.js'

/**
 * Throw `E_SEARCH_INVALID_OPTION` unless `options` is an object whose every key is in `known`,
 * naming the unknown ones. `factory` names the function in the message.
 */
export function checkOptionKeys(options: unknown, known: ReadonlySet<string>, factory: string): void {
  if (options === null || typeof options !== 'object') {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `${factory} expects an options object`)
  }
  const unknown = Object.keys(options).filter((name) => !known.has(name))
  if (unknown.length > 0) {
    const names = unknown.map((name) => JSON.stringify(name)).join(', ')
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `${factory}: unknown option${unknown.length > 1 ? 's' : ''} ${names} (known: ${[...known].join(', ')})`,
    )
  }
}

/** A renamed option as read: its value and the name it was given under (for messages). */
export interface RenamedValue<T> {
  /** The value, under either name; `undefined` when neither is given. */
  readonly value: T | undefined
  /** The name the caller used (the new one when neither is given). */
  readonly name: string
}

/**
 * The value of a renamed option (the new name's, or its deprecated alias's with one warning per
 * process); both given: `E_SEARCH_INVALID_OPTION`.
 */
export function renamed<T>(options: object, rename: OptionRename, factory: string): RenamedValue<T> {
  const value = renamedOption<T>(
    options,
    rename,
    (message) => new SearchError('E_SEARCH_INVALID_OPTION', `${factory}: ${message}`),
  )
  const old = (options as Record<string, unknown>)[rename.from] !== undefined
  return { value, name: old ? rename.from : rename.to }
}
