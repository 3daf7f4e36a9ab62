/**
 * `CacheInterceptor` outside HTTP (a microservice or websocket handler: no HTTP adapter): only a
 * handler with `@CacheKey` is cached, under that key (or the key its function computes), with
 * `@CacheTTL` of the handler, else of the class; the rest passes through untouched. A recording
 * manager stands in for the drop-in (the HTTP path runs on real services in
 * test/integration/cache-manager).
 */
import 'reflect-metadata'
import type { CallHandler, ExecutionContext } from '@nestjs/common'
import { Reflector } from '@nestjs/core'
import { lastValueFrom, of } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { CacheInterceptor, CacheKey, CacheTTL } from '../../../src/cache-manager/index.js'

class Recording {
  readonly calls: string[] = []
  readonly values = new Map<string, unknown>()
  async get(key: string) {
    this.calls.push(`get ${key}`)
    return this.values.get(key)
  }
  async set(key: string, value: unknown, ttl?: number) {
    this.calls.push(`set ${key} ${JSON.stringify(value)} ${ttl ?? '-'}`)
    this.values.set(key, value)
  }
}

@CacheTTL(9_000)
class Handlers {
  @CacheKey('events')
  events() {
    return 'handler body (the interceptor calls next.handle())'
  }

  @CacheKey((context: ExecutionContext) => `event:${(context.getArgByIndex(0) as { id: number }).id}`)
  @CacheTTL(1_000)
  event() {
    return 'handler body'
  }

  uncached() {
    return 'handler body'
  }
}

function rpc(handler: keyof Handlers, data: unknown): ExecutionContext {
  return {
    getType: () => 'rpc',
    getHandler: () => Handlers.prototype[handler],
    getClass: () => Handlers,
    getArgByIndex: (i: number) => (i === 0 ? data : undefined),
    switchToHttp: () => {
      throw new Error('not HTTP')
    },
  } as unknown as ExecutionContext
}

function handler(value: unknown): CallHandler & { runs: number } {
  const next = {
    runs: 0,
    handle: () => {
      next.runs++
      return of(value)
    },
  }
  return next
}

describe('CacheInterceptor without an HTTP adapter', () => {
  it('caches @CacheKey handlers under their key, with the handler TTL before the class TTL', async () => {
    const manager = new Recording()
    const interceptor = new CacheInterceptor(manager, new Reflector())
    const first = handler(['e1'])
    expect(await lastValueFrom(await interceptor.intercept(rpc('events', {}), first))).toEqual(['e1'])
    await new Promise((resolve) => setImmediate(resolve))
    const second = handler(['never'])
    expect(await lastValueFrom(await interceptor.intercept(rpc('events', {}), second))).toEqual(['e1'])
    expect([first.runs, second.runs]).toEqual([1, 0])

    await lastValueFrom(await interceptor.intercept(rpc('event', { id: 7 }), handler({ id: 7 })))
    await new Promise((resolve) => setImmediate(resolve))
    const passed = handler('plain')
    expect(await lastValueFrom(await interceptor.intercept(rpc('uncached', {}), passed))).toBe('plain')
    expect(passed.runs).toBe(1)
    expect(manager.calls).toEqual([
      'get events',
      'set events ["e1"] 9000',
      'get events',
      'get event:7',
      'set event:7 {"id":7} 1000',
    ])
  })

  it('serves the handler when the manager fails', async () => {
    const failing = { get: async () => Promise.reject(new Error('down')), set: async () => undefined }
    const interceptor = new CacheInterceptor(failing, new Reflector())
    const next = handler('fresh')
    expect(await lastValueFrom(await interceptor.intercept(rpc('events', {}), next))).toBe('fresh')
    expect(next.runs).toBe(1)
  })
})
