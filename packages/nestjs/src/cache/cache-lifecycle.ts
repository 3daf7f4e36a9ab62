/**
 * Start-up binding and shutdown of one cache registered by the module. Shutdown runs in `onApplicationShutdown`, the last
 * hook: by then Nest has closed the HTTP server and the microservice servers (their in-flight
 * requests have been answered), so nothing new arrives; the cache operations still in flight
 * (a loader still running, a background refresh) are given `shutdownTimeout` to settle, then
 * the cache is closed (bus stopped, owned Redis connections closed).
 */
import type { Cache } from '@ayala/cache'
import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common'
import type { DiscoveryService } from '@nestjs/core'
import { AyalaNestError } from '../errors.js'
import { bindProviders } from './cache-binding.js'
import type { InFlight } from './managed-cache.js'

/** The per-cache lifecycle object (a provider of the module). */
export class CacheLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('AyalaCacheModule')

  constructor(
    private readonly name: string,
    private readonly cache: Cache,
    private readonly inFlight: InFlight,
    private readonly shutdownTimeoutMs: number,
    private readonly closeOnShutdown: boolean,
    private readonly binding: { discovery: DiscoveryService; managed: Cache } | undefined,
  ) {}

  /** Bind the cache to the providers with cache decorators (see `cache-binding.ts`). */
  onModuleInit(): void {
    if (this.binding === undefined) return
    const bound = bindProviders(this.binding.discovery, this.name, this.binding.managed)
    this.logger.debug(`cache "${this.name}" bound to ${bound} providers and controllers`)
  }

  /** Let in-flight operations finish (bounded), then close the cache if the module owns it. */
  async onApplicationShutdown(): Promise<void> {
    const drained = await this.inFlight.drained(this.shutdownTimeoutMs)
    if (!drained) {
      const error = new AyalaNestError(
        'E_NEST_SHUTDOWN_TIMEOUT',
        `cache "${this.name}": ${this.inFlight.size} operations still in flight after ${this.shutdownTimeoutMs} ms; closing anyway`,
      )
      this.logger.warn(error.message)
    }
    if (this.closeOnShutdown) await this.cache.close()
  }
}
