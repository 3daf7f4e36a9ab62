import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Fixture } from '../../helpers/fixture.js'

function runWorker(env: Record<string, string>): Promise<{ calls: number; distinct: string[] }> {
  const script = fileURLToPath(new URL('../../helpers/lease-worker.ts', import.meta.url))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
    })
    child.stderr.on('data', (chunk) => {
      err += chunk
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`lease worker exited with ${code}: ${err}`))
      else resolve(JSON.parse(out.trim().split('\n').at(-1) as string))
    })
  })
}

describe('stampede protection', () => {
  const fx = new Fixture()
  afterEach(() => fx.closeCaches())
  afterAll(() => fx.dispose())

  it('1,000 concurrent misses of one key run the loader once in a process', async () => {
    const cache = fx.cache()
    let calls = 0
    const values = await Promise.all(
      Array.from({ length: 1_000 }, () =>
        cache.getOrSet('hot', async () => {
          calls++
          await new Promise((resolve) => setTimeout(resolve, 50))
          return 'v'
        }),
      ),
    )
    expect(calls).toBe(1)
    expect(new Set(values)).toEqual(new Set(['v']))
    expect(cache.stats().coalesced).toBe(999)
  })

  it('1,000 concurrent misses without Redis run the loader once too', async () => {
    const { createCache } = await import('../../../src/index.js')
    const cache = createCache({})
    let calls = 0
    await Promise.all(
      Array.from({ length: 1_000 }, () =>
        cache.getOrSet('hot', async () => {
          calls++
          return 1
        }),
      ),
    )
    expect(calls).toBe(1)
    await cache.close()
  })

  it('with lease, 1,000 misses in each of two processes run the loader once in total', async () => {
    const ns = fx.namespace()
    const cache = fx.cache({ namespace: ns, lease: true, leaseWaitTimeout: '20s' })
    const startAt = Date.now() + 3_000 // time for the child to boot
    const child = runWorker({
      REDIS_URL: fx.url,
      NAMESPACE: ns,
      KEY: 'hot',
      COUNT: '1000',
      START_AT: String(startAt),
    })
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())))
    let calls = 0
    const values = await Promise.all(
      Array.from({ length: 1_000 }, () =>
        cache.getOrSet('hot', async () => {
          calls++
          await new Promise((resolve) => setTimeout(resolve, 1_000))
          return `loaded by ${process.pid}`
        }),
      ),
    )
    const other = await child
    expect(calls + other.calls).toBe(1)
    // Both processes got the one value the leader loaded.
    expect(new Set([...values, ...other.distinct]).size).toBe(1)
  })
})
