/**
 * The two rules every factory of this package applies to its options object, before reading
 * it: unknown keys are refused by name (a misspelt option is a bug, not a default), and a
 * renamed option's old name is a deprecated alias (`@ayala/internal`'s `renamedOption`: one
 * `DeprecationWarning` per process with an `AYALA_STREAM_<OLD>` code; both names given is an
 * error). Both throw `E_STREAM_INVALID_OPTION`.
 */
import { type OptionRename, renamedOption } from '@ayala/internal'
import { MetricsStreamError } from './errors.js'

/**
 * Throw `E_STREAM_INVALID_OPTION` unless `options` is an object whose every key is in `known`,
 * naming the unknown ones. `factory` names the function in the message.
 * @internal
 */
export function checkOptionKeys(options: unknown, known: ReadonlySet<string>, factory: string): void {
  if (options === null || typeof options !== 'object') {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `${factory} expects an options object`)
  }
  const unknown = Object.keys(options).filter((name) => !known.has(name))
  if (unknown.length > 0) {
    const names = unknown.map((name) => JSON.stringify(name)).join(', ')
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `${factory}: unknown option${unknown.length > 1 ? 's' : ''} ${names} (known: ${[...known].join(', ')})`,
    )
  }
}

/**
 * The value of a renamed option (the new name's, or its deprecated alias's with one warning per
 * process); both given: `E_STREAM_INVALID_OPTION`.
 * @internal
 */
export function renamed<T>(options: object, rename: OptionRename, factory: string): T | undefined {
  return renamedOption<T>(
    options,
    rename,
    (message) => new MetricsStreamError('E_STREAM_INVALID_OPTION', `${factory}: ${message}`),
  )
}
