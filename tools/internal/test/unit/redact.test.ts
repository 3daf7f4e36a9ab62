import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import {
  describeRedisFailure,
  kafkaAuthFailure,
  redactText,
  redisAuthFailure,
  scrubRedisArgs,
  scrubRedisError,
  scrubRedisErrors,
} from '../../src/index.ts'

/** An ioredis-like reply error carrying the command it failed on. */
function replyError(message: string, name: string, args: unknown[]) {
  return Object.assign(new Error(message), { name: 'ReplyError', command: { name, args } })
}

const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.'

describe('the shared redaction rules', () => {
  it('reduces every URL password in free text to ***, keeping the user', () => {
    expect(redactText('redis://:pw@h redis://u:pw@h rediss://app:s3cr3t@h:6380/0 and text')).toBe(
      'redis://:***@h redis://u:***@h rediss://app:***@h:6380/0 and text',
    )
    expect(redactText('no url here: user:password@host')).toBe('no url here: user:password@host')
  })

  it('scrubs the secret arguments of AUTH, HELLO, MIGRATE, CONFIG SET and ACL SETUSER', () => {
    const cases: Array<[string, unknown[], unknown[]]> = [
      ['auth', ['app', 's3cret'], ['app', '***']],
      ['auth', ['s3cret'], ['***']],
      ['auth', [], []],
      ['hello', [3, 'AUTH', 'app', 's3cret', 'SETNAME', 'x'], [3, 'AUTH', 'app', '***', 'SETNAME', 'x']],
      [
        'migrate',
        ['h', 1, '', 0, 5, 'AUTH', 's3cret', 'KEYS', 'k'],
        ['h', 1, '', 0, 5, 'AUTH', '***', 'KEYS', 'k'],
      ],
      ['migrate', ['h', 1, '', 0, 5, 'AUTH2', 'app', 's3cret'], ['h', 1, '', 0, 5, 'AUTH2', 'app', '***']],
      [
        'config',
        ['SET', 'requirepass', 's3cret', 'maxmemory', '1gb', 'masterauth', 'p2'],
        ['SET', 'requirepass', '***', 'maxmemory', '1gb', 'masterauth', '***'],
      ],
      ['config', ['GET', 'requirepass'], ['GET', 'requirepass']],
      [
        'acl',
        ['SETUSER', 'app', 'on', '>s3cret', '#abc', '~*'],
        ['SETUSER', 'app', 'on', '***', '***', '~*'],
      ],
      ['get', ['key'], ['key']],
    ]
    for (const [name, args, expected] of cases) {
      const before = [...args]
      expect(scrubRedisArgs(name, args)).toEqual(expected)
      expect(args).toEqual(before)
      const error = replyError(WRONGPASS, name, args)
      expect(scrubRedisError(error).command.args).toEqual(expected)
    }
  })

  it('follows previousErrors (even a cycle); messages are redacted only when asked', () => {
    const make = () => {
      const inner = replyError('NOAUTH Authentication required.', 'auth', ['s3cret'])
      const outer = Object.assign(new Error('max retries, see rediss://app:s3cret@h:6380'), {
        previousErrors: [inner],
      })
      ;(inner as unknown as { previousErrors: unknown[] }).previousErrors = [outer, inner]
      return { inner, outer }
    }
    const plain = make()
    scrubRedisError(plain.outer)
    expect(plain.inner.command.args).toEqual(['***'])
    expect(plain.outer.message).toBe('max retries, see rediss://app:s3cret@h:6380')
    const withMessages = make()
    scrubRedisError(withMessages.outer, { messages: true })
    expect(withMessages.inner.command.args).toEqual(['***'])
    expect(withMessages.outer.message).toBe('max retries, see rediss://app:***@h:6380')
    expect(scrubRedisError(null)).toBeNull()
    expect(scrubRedisError('text')).toBe('text')
  })

  it('puts one scrubbing error listener on a client, and skips clients without an emitter', () => {
    // An emitter with the `options` a client carries.
    const client = Object.assign(new EventEmitter(), { options: {} })
    scrubRedisErrors(client)
    scrubRedisErrors(client)
    expect(client.listenerCount('error')).toBe(1)
    const error = replyError(WRONGPASS, 'auth', ['app', 's3cret'])
    client.emit('error', error)
    expect(error.command.args).toEqual(['app', '***'])
    expect(() => scrubRedisErrors({})).not.toThrow()
  })

  it('tells refused credentials and denied commands from other replies', () => {
    expect(redisAuthFailure(new Error(WRONGPASS))).toBe('credentials')
    expect(redisAuthFailure(new Error('NOAUTH Authentication required.'))).toBe('credentials')
    expect(redisAuthFailure(new Error('ERR invalid password'))).toBe('credentials')
    expect(redisAuthFailure('ERR invalid username-password pair')).toBe('credentials')
    expect(
      redisAuthFailure(new Error("NOPERM this user has no permissions to run the 'evalsha' command")),
    ).toBe('permission')
    expect(redisAuthFailure(new Error('LOADING Redis is loading the dataset in memory'))).toBeUndefined()
    expect(redisAuthFailure(undefined)).toBeUndefined()
  })

  it('names the server and the user of a refused login, never the password', () => {
    const direct = { options: { host: '10.0.0.9', port: 6390, username: 'app', password: 's3cr3t', tls: {} } }
    expect(describeRedisFailure(direct, 'Redis', new Error(WRONGPASS))).toBe(
      `Redis at 10.0.0.9:6390 (TLS) rejected the credentials of user "app" (${WRONGPASS})`,
    )
    const cluster = {
      options: { redisOptions: { username: 'ops', password: 's3cr3t' } },
      startupNodes: [{ host: '10.0.0.5', port: 7000 }],
    }
    expect(describeRedisFailure(cluster, 'Redis', new Error('NOPERM no permission'))).toBe(
      'Redis at 10.0.0.5:7000 denied a command to user "ops" (NOPERM no permission)',
    )
    const sentinel = {
      options: {
        host: 'unused-host',
        port: 6379,
        name: 'mymaster',
        sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2' }],
      },
    }
    expect(describeRedisFailure(sentinel, 'Redis', new Error(WRONGPASS))).toBe(
      `Redis at primary "mymaster" of Sentinels 10.0.0.1:26379,10.0.0.2:26379 rejected the credentials of user "default" (${WRONGPASS})`,
    )
    expect(describeRedisFailure(direct, 'reading', new Error('connect ECONNREFUSED redis://u:pw@h'))).toBe(
      'reading: connect ECONNREFUSED redis://u:***@h',
    )
  })

  it("recognises kafkajs's refused SASL login, through causes", () => {
    const sasl = Object.assign(new Error('SASL PLAIN authentication failed'), {
      name: 'KafkaJSSASLAuthenticationError',
    })
    expect(kafkaAuthFailure(sasl)).toBe(true)
    expect(kafkaAuthFailure(new Error('wrapped', { cause: sasl }))).toBe(true)
    expect(kafkaAuthFailure(Object.assign(new Error('retry'), { originalError: sasl }))).toBe(true)
    expect(kafkaAuthFailure(new Error('broker not available'))).toBe(false)
    expect(kafkaAuthFailure('KafkaJSSASLAuthenticationError')).toBe(false)
  })
})
