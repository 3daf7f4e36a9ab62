/**
 * The search outbox's options in the one vocabulary (issue 15): `maxRetryDelay` is the former
 * `maxBackoff` (same meaning) and `retries` replaces `maxAttempts`, counting one less
 * (`maxAttempts: n` is `retries: n - 1`): the same dead-letter limit either way, one
 * `DeprecationWarning` per process and name, both names given is `E_SEARCH_INVALID_OPTION`. The
 * same for the limit `lag()`, `deadLetters()` and `replayDeadLetters()` take. A recording fake
 * stands in for the database (no network).
 */
import { describe, expect, it } from 'vitest'
import { createOutbox, DEFAULT_OUTBOX_OPTIONS, type SearchClient } from '../../../src/index.js'
import { resolveOutboxWorkerOptions } from '../../../src/sync/outbox-options.js'
import { deprecations, refusal } from '../../helpers/options.js'
import { RecordingDb } from '../../helpers/recording-db.js'

const base = { search: {} as SearchClient, db: {} as never }

describe('outbox worker options', () => {
  it('retries and maxRetryDelay, with their defaults (the same limit as maxAttempts 5)', async () => {
    const codes = await deprecations(() => {
      expect(resolveOutboxWorkerOptions(base)).toMatchObject({
        retries: 4,
        maxAttempts: 5,
        maxRetryDelayMs: 30_000,
      })
      expect(resolveOutboxWorkerOptions({ ...base, retries: 0, maxRetryDelay: '2s' })).toMatchObject({
        retries: 0,
        maxAttempts: 1,
        maxRetryDelayMs: 2_000,
      })
    })
    expect(codes).toEqual([])
    expect(DEFAULT_OUTBOX_OPTIONS).toMatchObject({ retries: 4, maxRetryDelay: '30s', maxAttempts: 5 })
  })

  it('maxAttempts n is retries n - 1, maxBackoff is maxRetryDelay; one warning per name and process', async () => {
    const outbox = createOutbox()
    const codes = await deprecations(() => {
      const old = resolveOutboxWorkerOptions({ ...base, maxAttempts: 3, maxBackoff: '2s' })
      const renamed = resolveOutboxWorkerOptions({ ...base, retries: 2, maxRetryDelay: '2s' })
      expect(old).toEqual(renamed)
      expect(old).toMatchObject({ retries: 2, maxAttempts: 3, maxRetryDelayMs: 2_000 })
      const worker = outbox.worker({ ...base, maxAttempts: 1, maxBackoff: 50 })
      expect(worker.retries).toBe(0)
      expect(worker.maxAttempts).toBe(1)
    })
    expect(codes.sort()).toEqual(['AYALA_SEARCH_MAXATTEMPTS', 'AYALA_SEARCH_MAXBACKOFF'])
  })

  it('both names given is an error; a bad value is named as given', async () => {
    const attempts = await refusal(() => resolveOutboxWorkerOptions({ ...base, maxAttempts: 3, retries: 2 }))
    expect(attempts?.code).toBe('E_SEARCH_INVALID_OPTION')
    expect(attempts?.message).toContain('"maxAttempts" is the deprecated name of "retries"')
    const backoff = await refusal(() =>
      resolveOutboxWorkerOptions({ ...base, maxBackoff: 1, maxRetryDelay: 1 }),
    )
    expect(backoff?.message).toContain('"maxBackoff" is the deprecated name of "maxRetryDelay"')
    expect((await refusal(() => resolveOutboxWorkerOptions({ ...base, maxAttempts: 0 })))?.message).toContain(
      'maxAttempts must be a positive integer',
    )
    expect((await refusal(() => resolveOutboxWorkerOptions({ ...base, retries: -1 })))?.message).toContain(
      'retries must be a non-negative integer',
    )
  })
})

describe('the dead-letter limit of lag, deadLetters and replayDeadLetters', () => {
  it('retries r counts events at r + 1 attempts as dead, as maxAttempts r + 1 did', async () => {
    const outbox = createOutbox({ table: 'ob' })
    const run = async (limit: { retries?: number; maxAttempts?: number }) => {
      const db = new RecordingDb('pool')
      await outbox.lag(db, limit)
      await outbox.deadLetters(db, limit)
      await outbox.replayDeadLetters(db, limit)
      await outbox.replayDeadLetters(db, { ...limit, seqs: [7] })
      return db.statements
    }
    const renamed = await run({ retries: 2 })
    expect(renamed.map((s) => s.params)).toEqual([[3, 3, 3], [3], [3], [3, [7]]])
    expect(await run({ maxAttempts: 3 })).toEqual(renamed)
    // The default is the worker's default: 4 retries, dead at 5 attempts.
    expect((await run({})).map((s) => s.params[0])).toEqual([5, 5, 5, 5])
    const both = await refusal(() => outbox.lag(new RecordingDb('pool'), { retries: 2, maxAttempts: 3 }))
    expect(both?.code).toBe('E_SEARCH_INVALID_OPTION')
  })
})
