/**
 * The cache on a private `redis-server` that serves TLS only (certificates made with openssl at
 * test time) and asks for an ACL user (the `default` user off): through a `rediss://user:pass@`
 * URL with the CA in `redisOptions`, and with the user and password given as options. Then with a
 * wrong password: the cache answers from its loaders, every error it reports is one typed
 * `E_CACHE_L2_AUTH` naming the server and the user, the owned connections retry slowly (no
 * reconnection storm), no `error` event goes unhandled, and no secret appears in any message,
 * event or deeply inspected error. Changing the server's password to the client's heals it.
 */

import { randomBytes } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { inspect } from 'node:util'
import {
  makeTestCertificates,
  type PrivateRedis,
  startPrivateRedis,
  type TestCertificates,
  uniqueName,
} from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  CACHE_CHANNELS,
  type Cache,
  type CacheError,
  type CacheOptions,
  createCache,
} from '../../../src/index.js'
import { sleep } from '../../helpers/fixture.js'

/** Retry `assertion` until it passes or `timeoutMs` passes (then its last failure is thrown). */
async function until(assertion: () => unknown, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await assertion()
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(25)
    }
  }
}

const USER = 'invoicing'
const PASSWORD = `pw-${randomBytes(9).toString('base64url')}`
const WRONG = `wrong-${randomBytes(9).toString('base64url')}`

let certs: TestCertificates
let redis: PrivateRedis
let admin: Redis
const caches: Cache[] = []

interface Reported {
  operation: string
  error: CacheError
}
const reported: Reported[] = []
const onError = (event: unknown) => reported.push(event as Reported)
const stderr: string[] = []
const writeStderr = process.stderr.write
const uncaught: unknown[] = []
const onUncaught = (error: unknown) => uncaught.push(error)

function url(password: string | undefined): string {
  const auth = password === undefined ? '' : `${USER}:${encodeURIComponent(password)}@`
  return `rediss://${auth}127.0.0.1:${redis.port}`
}

function cache(options: CacheOptions): Cache {
  const created = createCache({ namespace: uniqueName('tls'), redisTimeout: '2s', ...options })
  caches.push(created)
  return created
}

/** Every form a secret could take in output. */
function leaks(text: string): string[] {
  return [PASSWORD, WRONG, encodeURIComponent(PASSWORD), encodeURIComponent(WRONG)].filter((s) =>
    text.includes(s),
  )
}

beforeAll(async () => {
  certs = makeTestCertificates()
  redis = await startPrivateRedis({ tls: certs, users: { [USER]: PASSWORD } })
  admin = new Redis(url(PASSWORD), { tls: { ca: certs.caPem } })
  subscribe(CACHE_CHANNELS.error, onError)
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUncaught)
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    stderr.push(String(chunk))
    return (writeStderr as (...args: unknown[]) => boolean).call(process.stderr, chunk, ...rest)
  }) as typeof process.stderr.write
})

afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()))
  reported.length = 0
})

afterAll(async () => {
  process.stderr.write = writeStderr
  unsubscribe(CACHE_CHANNELS.error, onError)
  process.off('uncaughtException', onUncaught)
  process.off('unhandledRejection', onUncaught)
  admin?.disconnect()
  await redis?.dispose()
  certs?.remove()
})

describe('the cache with an ACL user over TLS', () => {
  it('reads, writes and invalidates through rediss://user:password@ with the CA in redisOptions', async () => {
    const namespace = uniqueName('tls')
    const a = cache({ namespace, redis: url(PASSWORD), redisOptions: { tls: { ca: certs.caPem } } })
    const b = cache({ namespace, redis: url(PASSWORD), redisOptions: { tls: { ca: certs.caPem } } })
    let loads = 0
    const load = async () => ({ version: ++loads })
    expect(await a.getOrSet('invoice:1', load, { tags: ['invoice:1'] })).toEqual({ version: 1 })
    // b finds a's entry in Redis (an L2 hit, no load)...
    expect(await b.getOrSet('invoice:1', load, { tags: ['invoice:1'] })).toEqual({ version: 1 })
    expect(b.stats().l2Hits).toBe(1)
    // ...and a's invalidation reaches b through the bus (over TLS too).
    await until(() => expect(b.busConnected).toBe(true))
    await a.invalidateTags(['invoice:1'], { onL2Unavailable: 'reject' })
    await until(async () =>
      expect(await b.getOrSet('invoice:1', load, { tags: ['invoice:1'] })).toEqual({ version: 2 }),
    )
    expect(reported).toEqual([])
    // The keys are in the private server, under the ACL user.
    expect((await admin.keys(`*${namespace}*`)).length).toBeGreaterThan(0)
  })

  it('takes the user and password as options, out of the URL', async () => {
    const c = cache({
      redis: url(undefined),
      redisOptions: { username: USER, password: PASSWORD, tls: { ca: certs.caPem } },
    })
    await c.set('k', 'v')
    expect(await admin.keys(`*${c.options.namespace}*`)).not.toEqual([])
    expect(reported).toEqual([])
  })

  it('refuses redisOptions that would break its connection, and redisOptions with a borrowed client', () => {
    expect(() => createCache({ redis: url(PASSWORD), redisOptions: { enableOfflineQueue: true } })).toThrow(
      /redisOptions.enableOfflineQueue/,
    )
    expect(() => createCache({ redis: admin, redisOptions: { tls: {} } })).toThrow(
      /only with a redis:\/\/ URL/,
    )
  })

  it('with a wrong password: loads instead, one typed error naming the user, slow retries, no secret anywhere', async () => {
    const c = cache({ redis: url(WRONG), redisOptions: { tls: { ca: certs.caPem } } })
    let loads = 0
    for (let i = 0; i < 20; i++)
      expect(await c.getOrSet(`k${i % 5}`, async () => ++loads)).toBeTypeOf('number')
    // Every read missed L2 and fell back; L1 still served the repeats.
    expect(loads).toBe(5)
    // An invalidation that must reach Redis rejects with the same clear error.
    const rejected = await c.invalidateTags(['t'], { onL2Unavailable: 'reject' }).then(
      () => undefined,
      (e: unknown) => e as CacheError,
    )
    expect(rejected?.code).toBe('E_CACHE_L2_AUTH')
    await sleep(3_000)
    const connection = reported.filter((r) => r.operation === 'connection' || r.operation === 'bus')
    expect(connection.length).toBeGreaterThan(0)
    // Two connections (commands, bus), each retried every 5 s while refused: ioredis' default
    // would have made ~22 attempts in these 3 s.
    expect(connection.length).toBeLessThanOrEqual(6)
    console.log(
      `wrong password: ${connection.length} connection errors in 3 s, ${reported.length} events, ${loads} loads for 20 reads`,
    )
    const codes = new Set(reported.map((r) => r.error.code))
    expect([...codes].every((code) => code === 'E_CACHE_L2_AUTH' || code === 'E_CACHE_CIRCUIT_OPEN')).toBe(
      true,
    )
    expect(connection[0]?.error.message).toBe(
      `Redis at 127.0.0.1:${redis.port} (TLS) rejected the credentials of user "${USER}" (WRONGPASS invalid username-password pair or user is disabled.)`,
    )
    expect(connection[0]?.error.retriable).toBe(false)
    const everything = [
      ...reported.map((r) => inspect(r, { depth: Number.POSITIVE_INFINITY })),
      inspect(rejected, { depth: Number.POSITIVE_INFINITY }),
      JSON.stringify(c.stats()),
      stderr.join(''),
    ].join('\n')
    expect(leaks(everything)).toEqual([])
    // The cause is kept (ioredis' ReplyError), scrubbed: the AUTH arguments are there, the password not.
    expect(inspect(connection[0]?.error.cause)).toContain(`args: [ '${USER}', '***' ]`)
    expect(stderr.join('')).not.toContain('Unhandled error event')
    expect(uncaught).toEqual([])
  }, 30_000)

  it('heals once the server takes the password the client has', async () => {
    const c = cache({ redis: url(WRONG), redisOptions: { tls: { ca: certs.caPem } } })
    await until(() => expect(reported.some((r) => r.error.code === 'E_CACHE_L2_AUTH')).toBe(true))
    await admin.acl('SETUSER', USER, `>${WRONG}`)
    try {
      const started = Date.now()
      await until(async () => {
        await c.set('healed', 1)
        expect(await admin.keys('*healed')).toHaveLength(1)
      }, 15_000)
      console.log(`cache healed ${Date.now() - started} ms after the ACL change`)
    } finally {
      await admin.acl('SETUSER', USER, `<${WRONG}`)
    }
    expect(leaks(reported.map((r) => inspect(r, { depth: Number.POSITIVE_INFINITY })).join('\n'))).toEqual([])
  }, 30_000)

  it('without the CA: a typed TLS failure', async () => {
    const c = cache({ redis: url(PASSWORD) })
    await c.getOrSet('k', async () => 1)
    await until(() => expect(reported.length).toBeGreaterThan(0))
    expect(reported[0]?.error.code).toBe('E_CACHE_L2_UNAVAILABLE')
    expect(reported[0]?.error.message).toMatch(/self-signed certificate/)
    expect(leaks(reported.map((r) => inspect(r, { depth: Number.POSITIVE_INFINITY })).join('\n'))).toEqual([])
  })
})
