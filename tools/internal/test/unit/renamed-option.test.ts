import { afterEach, describe, expect, it, vi } from 'vitest'
import { renamedOption } from '../../src/index.ts'

const conflict = (message: string) => new RangeError(message)

describe('renamedOption', () => {
  afterEach(() => vi.restoreAllMocks())

  it('reads the new name, or the old one with one DeprecationWarning per process', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const rename = { from: 'maxBatch', to: 'batchSize', code: 'AYALA_TEST_MAXBATCH' }
    expect(renamedOption({ batchSize: 5 }, rename, conflict)).toBe(5)
    expect(renamedOption({}, rename, conflict)).toBeUndefined()
    expect(warn).toHaveBeenCalledTimes(0)
    expect(renamedOption({ maxBatch: 7 }, rename, conflict)).toBe(7)
    expect(renamedOption({ maxBatch: 8, batchSize: undefined }, rename, conflict)).toBe(8)
    expect(warn).toHaveBeenCalledTimes(1)
    expect(warn).toHaveBeenCalledWith('option "maxBatch" is deprecated: use "batchSize"', {
      type: 'DeprecationWarning',
      code: 'AYALA_TEST_MAXBATCH',
    })
    // Another rename warns on its own, once.
    const other = { from: 'maxRetries', to: 'retries', code: 'AYALA_TEST_MAXRETRIES' }
    renamedOption({ maxRetries: 1 }, other, conflict)
    renamedOption({ maxRetries: 2 }, other, conflict)
    expect(warn).toHaveBeenCalledTimes(2)
  })

  it('refuses both names with the caller’s error', () => {
    const rename = { from: 'maxBatch', to: 'batchSize', code: 'AYALA_TEST_BOTH' }
    expect(() => renamedOption({ maxBatch: 1, batchSize: 2 }, rename, conflict)).toThrow(
      new RangeError('"maxBatch" is the deprecated name of "batchSize": give only "batchSize"'),
    )
  })
})
