import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { type Cache, type CacheOptions, createCache } from '../../src/index.js'

/** Caches and connections created by a test file, closed and cleaned in `afterEach`/`afterAll`. */
export class Fixture {
  readonly url = serviceUrls().redis
  readonly admin = new Redis(this.url)
  private readonly caches: Cache[] = []
  private readonly namespaces = new Set<string>()

  namespace(): string {
    const ns = uniqueName('cache')
    this.namespaces.add(ns)
    return ns
  }

  /**
   * A cache on the shared Redis, in its own namespace unless one is given. The Redis deadline is
   * generous (5s) so that a loaded CI machine does not turn into a fallback; failure tests use a
   * private Redis and their own deadline.
   */
  /**
   * A cache on the shared Redis, in its own namespace unless one is given. The Redis deadline is
   * generous (5s) so that a loaded CI machine does not turn reads into fallbacks; the failure
   * tests use a private Redis and their own deadline.
   */
  cache(options: CacheOptions = {}): Cache {
    const cache = createCache({
      redis: this.url,
      namespace: options.namespace ?? this.namespace(),
      redisTimeout: '5s',
      ...options,
    })
    this.namespaces.add(cache.options.namespace)
    this.caches.push(cache)
    return cache
  }

  async closeCaches(): Promise<void> {
    await Promise.all(this.caches.splice(0).map((c) => c.close()))
  }

  async dispose(): Promise<void> {
    await this.closeCaches()
    for (const ns of this.namespaces) {
      const keys = await this.admin.keys(`*{${ns}}*`)
      if (keys.length > 0) await this.admin.del(...keys)
    }
    this.admin.disconnect()
  }
}

/** Poll `condition` until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await condition()) return true
    await sleep(20)
  }
  return condition()
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** An ioredis client (its own connection) that records the name of every command it sends. */
export function countingClient(): { client: Redis; commands: string[] } {
  const client = new Redis(serviceUrls().redis)
  const commands: string[] = []
  const send = client.sendCommand.bind(client)
  client.sendCommand = ((command: { name: string }, stream?: unknown) => {
    commands.push(command.name)
    return send(command as never, stream as never)
  }) as typeof client.sendCommand
  return { client, commands }
}
