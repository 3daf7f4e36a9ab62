import { vi } from 'vitest'
import { SearchError } from '../../src/index.js'

/** The `SearchError` `fn` throws or rejects with; `undefined` when it returns. */
export async function refusal(fn: () => unknown): Promise<SearchError | undefined> {
  try {
    await fn()
  } catch (error) {
    if (error instanceof SearchError) return error
    throw error
  }
  return undefined
}

/** The codes of the `DeprecationWarning`s emitted while `fn` runs. */
export async function deprecations(fn: () => unknown): Promise<string[]> {
  const codes: string[] = []
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation(((
    _message: string,
    options?: { type?: string; code?: string },
  ) => {
    if (options?.type === 'DeprecationWarning' && options.code !== undefined) codes.push(options.code)
  }) as typeof process.emitWarning)
  try {
    await fn()
  } finally {
    spy.mockRestore()
  }
  return codes
}
