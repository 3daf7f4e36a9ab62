/**
 * The rule for a renamed option (issue 15: one option vocabulary). The old name keeps working
 * for one minor version as a deprecated alias:
 *
 * - only the new name given: its value;
 * - only the old name given: its value, and one `DeprecationWarning` (with the rename's `code`)
 *   per process, however many instances read it;
 * - both given (neither `undefined`): an error, built by the package (`conflict`) so it carries the
 *   package's own class and code: which of the two values was meant cannot be guessed.
 */

/** One renamed option. */
export interface OptionRename {
  /** The deprecated name. */
  readonly from: string
  /** The name to use. */
  readonly to: string
  /** The warning's code, `AYALA_<PKG>_<OLD>` (e.g. `AYALA_NEST_MAXBATCH`). */
  readonly code: string
}

const warned = new Set<string>()

/**
 * The value of `rename.to` in `options`, or of its deprecated alias `rename.from` (warning once per
 * process); `undefined` when neither is given. Both given: throws `conflict(message)`.
 */
export function renamedOption<T>(
  options: object,
  rename: OptionRename,
  conflict: (message: string) => Error,
): T | undefined {
  const record = options as Record<string, unknown>
  const current = record[rename.to]
  const old = record[rename.from]
  if (old === undefined) return current as T | undefined
  if (current !== undefined) {
    throw conflict(`"${rename.from}" is the deprecated name of "${rename.to}": give only "${rename.to}"`)
  }
  if (!warned.has(rename.code)) {
    warned.add(rename.code)
    process.emitWarning(`option "${rename.from}" is deprecated: use "${rename.to}"`, {
      type: 'DeprecationWarning',
      code: rename.code,
    })
  }
  return old as T
}
