import 'reflect-metadata'
import { Test } from '@nestjs/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { AyalaCacheModule } from '../../src/index.js'
import { AyalaMetricsModule } from '../../src/metrics/index.js'
import { AyalaMetricsStreamModule } from '../../src/metrics-stream/index.js'
import { AyalaOpenTelemetryModule } from '../../src/opentelemetry/index.js'
import { AyalaOutboxModule } from '../../src/outbox/index.js'
import { AyalaRequestMetricsSinkModule, AyalaSearchModule } from '../../src/search/index.js'

const invalid = (option: string) => expect.objectContaining({ code: 'E_NEST_INVALID_OPTION', option })

/** Instantiate a module (no provider reaches a service before the options are resolved). */
async function compile(module: unknown): Promise<void> {
  const app = await Test.createTestingModule({ imports: [module as never] }).compile()
  await app.close()
}

describe('every module rejects the option keys it does not know, naming them', () => {
  afterEach(() => vi.restoreAllMocks())

  it('forRootAsync of each module: keys beside useFactory, inject, imports and the shape', () => {
    const useFactory = () => ({}) as never
    expect(() => AyalaOutboxModule.forRootAsync({ useFactory, isGlobl: true } as never)).toThrow(
      invalid('isGlobl'),
    )
    expect(() => AyalaSearchModule.forRootAsync({ useFactory, index: [], global: 1 } as never)).toThrow(
      invalid('index, global'),
    )
    expect(() => AyalaMetricsStreamModule.forRootAsync({ useFactory, injects: [] } as never)).toThrow(
      invalid('injects'),
    )
    expect(() => AyalaMetricsModule.forRootAsync({ useFactory, paths: '/m' } as never)).toThrow(
      invalid('paths'),
    )
    expect(() => AyalaCacheModule.forRootAsync({ useFactory, closeOnShutDown: true } as never)).toThrow(
      invalid('closeOnShutDown'),
    )
    // The shape keys themselves are accepted.
    expect(() => AyalaSearchModule.forRootAsync({ useFactory, indexes: [], isGlobal: true })).not.toThrow()
    expect(() =>
      AyalaCacheModule.forRootAsync({ useFactory, name: 'x', closeOnShutdown: true, bindProviders: false }),
    ).not.toThrow()
  })

  it('the configuration of forRoot, and the one a factory returns, when the module is instantiated', async () => {
    await expect(compile(AyalaOutboxModule.forRoot({ db: {}, tabel: 'x' } as never))).rejects.toThrow(
      invalid('tabel'),
    )
    await expect(
      compile(
        AyalaSearchModule.forRoot({ client: { node: 'http://127.0.0.1:1' }, ensureIndex: true } as never),
      ),
    ).rejects.toThrow(invalid('ensureIndex'))
    await expect(
      compile(AyalaMetricsStreamModule.forRoot({ redis: 'redis://127.0.0.1:1', namespce: 'x' } as never)),
    ).rejects.toThrow(invalid('namespce'))
    await expect(
      compile(
        AyalaMetricsStreamModule.forRootAsync({
          useFactory: () =>
            ({ redis: 'redis://127.0.0.1:1', namespace: 'n', view: {}, dashbord: false }) as never,
        }),
      ),
    ).rejects.toThrow(invalid('dashbord'))
  })

  it("the search module's nested outbox and reconcile entries", async () => {
    const client = { node: 'http://127.0.0.1:1' }
    const db = { getConnection: async () => undefined }
    await expect(
      compile(AyalaSearchModule.forRoot({ client, outbox: { db, tabel: 'x' } } as never)),
    ).rejects.toThrow(invalid('outbox.tabel'))
    const source = { digest: async () => undefined }
    await expect(
      compile(
        AyalaSearchModule.forRoot({ client, reconcile: [{ index: 'i', source, every: '1m' }] } as never),
      ),
    ).rejects.toThrow(invalid('reconcile[0].every'))
  })

  it('forRoot of the OpenTelemetry and request-metrics sink modules', () => {
    expect(() => AyalaOpenTelemetryModule.forRoot({ cache: ['default'] } as never)).toThrow(invalid('cache'))
    expect(() => AyalaRequestMetricsSinkModule.forRoot({ flushEvery: '1s' } as never)).toThrow(
      invalid('flushEvery'),
    )
  })
})

describe('the request-metrics sink: batchSize (maxBatch is its deprecated alias)', () => {
  it('takes batchSize, validates it under its name, and refuses both names', () => {
    expect(() => AyalaRequestMetricsSinkModule.forRoot({ batchSize: 50 })).not.toThrow()
    expect(() => AyalaRequestMetricsSinkModule.forRoot({ batchSize: 0 })).toThrow(invalid('batchSize'))
    expect(() => AyalaRequestMetricsSinkModule.forRoot({ batchSize: 50, maxBatch: 50 })).toThrow(
      invalid('maxBatch'),
    )
  })

  it('still reads maxBatch, with one DeprecationWarning per process', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    expect(() => AyalaRequestMetricsSinkModule.forRoot({ maxBatch: 10 })).not.toThrow()
    expect(() => AyalaRequestMetricsSinkModule.forRoot({ maxBatch: 20 })).not.toThrow()
    expect(() => AyalaRequestMetricsSinkModule.forRoot({ maxBatch: 0 })).toThrow(invalid('batchSize'))
    const deprecations = warn.mock.calls.filter(
      ([, options]) => (options as { code?: string })?.code === 'AYALA_NEST_MAXBATCH',
    )
    expect(deprecations).toHaveLength(1)
  })
})
