import { describe, expect, it } from 'vitest'
import { authFailure, redactText, scrubRedisError } from '../../../src/tiers/redis-connection.js'

/** An ioredis-like reply error carrying the command it failed on. */
function replyError(message: string, name: string, args: unknown[]) {
  return Object.assign(new Error(message), { name: 'ReplyError', command: { name, args } })
}

describe('secrets in Redis errors', () => {
  // The rules for every command are tested once, in tools/internal (scrubRedisArgs); here: the
  // cache's scrubRedisError applies them in place.
  it('scrubs the secret arguments of the command attached to an error, in place', () => {
    const error = replyError('WRONGPASS invalid username-password pair', 'hello', [
      3,
      'AUTH',
      'app',
      's3cret',
    ])
    expect(scrubRedisError(error)).toBe(error)
    expect(error.command.args).toEqual([3, 'AUTH', 'app', '***'])
    const get = replyError('LOADING', 'get', ['key'])
    expect(scrubRedisError(get).command.args).toEqual(['key'])
  })

  it('follows previousErrors (even a cycle) and redacts URL passwords in messages', () => {
    const inner = replyError('NOAUTH Authentication required.', 'auth', ['s3cret'])
    const outer = Object.assign(
      new Error('Reached the max retries per request limit, see rediss://app:s3cret@h:6380'),
      {
        previousErrors: [inner],
      },
    )
    ;(inner as unknown as { previousErrors: unknown[] }).previousErrors = [outer, inner]
    scrubRedisError(outer)
    expect(inner.command.args).toEqual(['***'])
    expect(outer.message).toBe('Reached the max retries per request limit, see rediss://app:***@h:6380')
    expect(redactText('redis://:pw@h redis://u:pw@h')).toBe('redis://:***@h redis://u:***@h')
  })

  it('tells refused credentials and denied commands from other replies', () => {
    expect(authFailure(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).toBe(
      'credentials',
    )
    expect(authFailure(new Error('NOAUTH Authentication required.'))).toBe('credentials')
    expect(authFailure(new Error('ERR invalid password'))).toBe('credentials')
    expect(authFailure(new Error("NOPERM this user has no permissions to run the 'evalsha' command"))).toBe(
      'permission',
    )
    expect(authFailure(new Error('LOADING Redis is loading the dataset in memory'))).toBeUndefined()
  })
})
