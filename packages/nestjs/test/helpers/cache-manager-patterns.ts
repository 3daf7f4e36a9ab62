/**
 * The call patterns of `@nestjs/cache-manager`'s documentation and of cache-manager 7's README,
 * as one suite: each pattern runs against a started application and returns what it saw, as
 * plain data (`undefined` spelt out), so the records of every implementation can be compared
 * with the reference's, and each pattern also states what it must see (`expect`), so a
 * reference that misbehaved would fail too.
 */
import { expect } from 'vitest'
import type { CacheApp } from './cache-manager-apps.js'
import { MODULE_TTL } from './cache-manager-apps.js'

/** `undefined` spelt out, so records survive a comparison as JSON would see them. */
export const UNDEFINED = '<undefined>'

function plain(value: unknown): unknown {
  if (value === undefined) return UNDEFINED
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  return value
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** One pattern: a name, and what it does and records. */
export interface CallPattern {
  name: string
  run(app: CacheApp, dropIn: boolean): Promise<unknown>
}

async function getJson(app: CacheApp, path: string, init?: RequestInit) {
  const response = await fetch(`${app.url}${path}`, init)
  return { status: response.status, cache: response.headers.get('x-cache'), body: await response.json() }
}

/** Past the module TTL (with margin for a busy machine). */
const PAST_MODULE_TTL = MODULE_TTL + 250

export const CALL_PATTERNS: CallPattern[] = [
  {
    name: 'get / set / del (documentation: "Interacting with the Cache store")',
    async run({ cache }) {
      const record = {
        set: await cache.set('key', 'value'),
        get: await cache.get('key'),
        missing: await cache.get('never-set'),
        del: await cache.del('key'),
        afterDel: await cache.get('key'),
      }
      expect(plain(record)).toEqual({
        set: 'value',
        get: 'value',
        missing: UNDEFINED,
        del: true,
        afterDel: UNDEFINED,
      })
      return plain(record)
    },
  },
  {
    name: 'set with a TTL in milliseconds, the module default TTL, and 0 for no expiry',
    async run({ cache }) {
      await cache.set('ms', 'short', MODULE_TTL / 2)
      await cache.set('default', 'module ttl')
      await cache.set('forever', 'no expiry', 0)
      await cache.set('long', 'long', 60_000)
      const before = { ms: await cache.get('ms'), default: await cache.get('default') }
      await sleep(PAST_MODULE_TTL)
      const record = {
        before,
        after: {
          ms: await cache.get('ms'),
          default: await cache.get('default'),
          forever: await cache.get('forever'),
          long: await cache.get('long'),
        },
      }
      expect(plain(record)).toEqual({
        before: { ms: 'short', default: 'module ttl' },
        after: { ms: UNDEFINED, default: UNDEFINED, forever: 'no expiry', long: 'long' },
      })
      return plain(record)
    },
  },
  {
    name: 'ttl(key): the expiry in ms since the epoch, undefined when missing',
    async run({ cache }, dropIn) {
      const at = Date.now()
      await cache.set('t', 'v', 5_000)
      const expires = (await cache.ttl('t')) as number
      await cache.set('t-forever', 'v', 0)
      const forever = await cache.ttl('t-forever')
      const record = {
        expiresInWindow: expires >= at + 4_000 && expires <= Date.now() + 5_000,
        missing: plain(await cache.ttl('never-set')),
      }
      expect(record).toEqual({ expiresInWindow: true, missing: UNDEFINED })
      // The one documented difference: cache-manager has no expiry to tell; the drop-in's entry
      // expires after noExpiryTtl (30 days by default).
      if (dropIn) expect((forever as number) - Date.now()).toBeGreaterThan(29 * 86_400_000)
      else expect(forever).toBeUndefined()
      return record
    },
  },
  {
    name: 'mset / mget / mdel (README)',
    async run({ cache }) {
      const record = {
        mset: await cache.mset<unknown>([
          { key: 'key-1', value: 'value 1' },
          { key: 'key-2', value: { n: 2 }, ttl: 5_000 },
        ]),
        mget: await cache.mget(['key-1', 'key-2', 'key-3']),
        mdel: await cache.mdel(['key-1', 'key-2']),
        afterMdel: await cache.mget(['key-1', 'key-2']),
      }
      expect(plain(record)).toEqual({
        mset: [
          { key: 'key-1', value: 'value 1', ttl: MODULE_TTL },
          { key: 'key-2', value: { n: 2 }, ttl: 5_000 },
        ],
        mget: ['value 1', { n: 2 }, UNDEFINED],
        mdel: true,
        afterMdel: [UNDEFINED, UNDEFINED],
      })
      return plain(record)
    },
  },
  {
    name: 'clear (documentation: "To clear the entire cache")',
    async run({ cache }) {
      await cache.set('key-1', 'value 1', 5_000)
      await cache.set('key-2', 'value 2', 5_000)
      const record = {
        before: [await cache.get('key-1'), await cache.get('key-2')],
        clear: await cache.clear(),
        after: [await cache.get('key-1'), await cache.get('key-2')],
      }
      expect(plain(record)).toEqual({
        before: ['value 1', 'value 2'],
        clear: true,
        after: [UNDEFINED, UNDEFINED],
      })
      return plain(record)
    },
  },
  {
    name: 'JSON values round-trip (objects, arrays, numbers, booleans, null inside)',
    async run({ cache }) {
      const value = {
        id: 7,
        total: 12.5,
        paid: false,
        lines: [{ sku: 'a', qty: 2 }],
        note: null,
        tags: ['x'],
      }
      await cache.set('json', value, 5_000)
      const record = { get: await cache.get('json'), mget: await cache.mget(['json']) }
      expect(record).toEqual({ get: value, mget: [value] })
      return record
    },
  },
  {
    name: 'wrap: the function runs once, then the cached value (README)',
    async run({ cache }) {
      let calls = 0
      const first = await cache.wrap('w', () => ++calls && 1, 5_000)
      const second = await cache.wrap('w', () => ++calls && 2, 5_000)
      const record = { first, second, calls }
      expect(record).toEqual({ first: 1, second: 1, calls: 1 })
      return record
    },
  },
  {
    name: 'wrap is coalesced: 20 concurrent misses of one key run the function once',
    async run({ cache }) {
      let calls = 0
      const slow = async () => {
        calls++
        await sleep(50)
        return { loaded: calls }
      }
      const values = await Promise.all(Array.from({ length: 20 }, () => cache.wrap('coalesced', slow, 5_000)))
      const record = { calls, distinct: new Set(values.map((v) => JSON.stringify(v))).size, value: values[0] }
      expect(record).toEqual({ calls: 1, distinct: 1, value: { loaded: 1 } })
      return record
    },
  },
  {
    name: 'wrap: an error rejects the callers and is not cached',
    async run({ cache }) {
      const failed = await cache
        .wrap('error', () => {
          throw new Error('failed')
        })
        .then(
          () => 'resolved',
          (error: Error) => error.message,
        )
      const next = await cache.wrap('error', () => 'recovered', 5_000)
      const record = { failed, next }
      expect(record).toEqual({ failed: 'failed', next: 'recovered' })
      return record
    },
  },
  {
    name: 'wrap with { raw: true }: { value, expires }',
    async run({ cache }) {
      const at = Date.now()
      const first = await cache.wrap('raw', () => 'x', { ttl: 5_000, raw: true })
      const second = await cache.wrap('raw', () => 'y', { ttl: 5_000, raw: true })
      const window = (r: { value?: unknown; expires?: number | undefined } | undefined) => ({
        value: r?.value,
        expiresInWindow: (r?.expires ?? 0) >= at + 4_000 && (r?.expires ?? 0) <= Date.now() + 5_000,
      })
      const record = { first: window(first), second: window(second) }
      expect(record).toEqual({
        first: { value: 'x', expiresInWindow: true },
        second: { value: 'x', expiresInWindow: true },
      })
      return record
    },
  },
  {
    name: 'wrap with a TTL computed from the value',
    async run({ cache }) {
      const value = await cache.wrap('ttl-fn', () => 2, { ttl: (v: number) => v * 100 })
      const before = await cache.get('ttl-fn')
      await sleep(450)
      const record = { value, before, after: plain(await cache.get('ttl-fn')) }
      expect(record).toEqual({ value: 2, before: 2, after: UNDEFINED })
      return record
    },
  },
  {
    name: 'wrap with refreshThreshold: the old value answers, a background reload replaces it (README)',
    async run({ cache }) {
      const first = await cache.wrap('refresh', () => 1, 1_000, 800)
      await sleep(300)
      // 700 ms left, under the 800 ms threshold: the cached 1 answers, 2 is loaded behind it.
      const second = await cache.wrap('refresh', () => 2, 1_000, 800)
      await sleep(100)
      const third = await cache.wrap('refresh', () => 3, 1_000, 800)
      const record = { first, second, third }
      expect(record).toEqual({ first: 1, second: 1, third: 2 })
      return record
    },
  },
  {
    name: 'events: set, del and clear listeners',
    async run({ cache }) {
      const seen: string[] = []
      const onSet = ({ key }: { key: string }) => seen.push(`set ${key}`)
      const onDel = ({ key }: { key: string }) => seen.push(`del ${key}`)
      const onClear = () => seen.push('clear')
      cache.on('set', onSet)
      cache.on('del', onDel)
      cache.on('clear', onClear)
      await cache.set('ev', 1, 5_000)
      await cache.del('ev')
      await cache.clear()
      cache.off('set', onSet)
      cache.off('del', onDel)
      cache.off('clear', onClear)
      await cache.set('ev-after-off', 1, 5_000)
      // cache-manager emits one `set` per store and one for the call: keep the distinct ones.
      const record = [...new Set(seen)]
      expect(record).toEqual(['set ev', 'del ev', 'clear'])
      return record
    },
  },
  {
    name: 'CacheInterceptor: GET cached by URL (X-Cache MISS then HIT), query strings apart, POST never',
    async run(app) {
      const first = await getJson(app, '/items')
      const second = await getJson(app, '/items')
      const page2 = await getJson(app, '/items?page=2')
      await getJson(app, '/items', { method: 'POST' })
      const post = await getJson(app, '/items', { method: 'POST' })
      const record = {
        first,
        second,
        page2: page2.body,
        post: post.body,
        handlerCalls: app.calls.of('items'),
        storedUnderUrl: plain(await app.cache.get('/items')),
      }
      expect(record).toEqual({
        first: {
          status: 200,
          cache: 'MISS',
          body: { page: '1', served: 1, items: [{ id: 1, tags: ['a'] }] },
        },
        second: {
          status: 200,
          cache: 'HIT',
          body: { page: '1', served: 1, items: [{ id: 1, tags: ['a'] }] },
        },
        page2: { page: '2', served: 2, items: [{ id: 1, tags: ['a'] }] },
        post: { created: 2 },
        handlerCalls: 2,
        storedUnderUrl: { page: '1', served: 1, items: [{ id: 1, tags: ['a'] }] },
      })
      return record
    },
  },
  {
    name: '@CacheKey and @CacheTTL on a handler, @CacheTTL on a controller, a trackBy override',
    async run(app) {
      const custom = [(await getJson(app, '/items/custom')).body, (await getJson(app, '/items/custom')).body]
      const stored = await app.cache.get('custom_key')
      const short = [(await getJson(app, '/short')).body, (await getJson(app, '/short')).body]
      const tracked = [(await getJson(app, '/tracked')).body, (await getJson(app, '/tracked')).body]
      const trackedStored = await app.cache.get('tracked:/tracked')
      await sleep(MODULE_TTL / 2 + 250)
      const record = {
        custom,
        stored,
        short,
        tracked,
        trackedStored,
        afterTtl: {
          custom: (await getJson(app, '/items/custom')).body,
          short: (await getJson(app, '/short')).body,
        },
      }
      expect(record).toEqual({
        custom: [{ custom: 1 }, { custom: 1 }],
        stored: { custom: 1 },
        short: [{ short: 1 }, { short: 1 }],
        tracked: [{ tracked: 1 }, { tracked: 1 }],
        trackedStored: { tracked: 1 },
        afterTtl: { custom: { custom: 2 }, short: { short: 2 } },
      })
      return record
    },
  },
]
