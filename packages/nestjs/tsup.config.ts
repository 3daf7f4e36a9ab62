import { defineConfig } from 'tsup'

export default defineConfig({
  // One entry per optional integration, so each loads only the peers it needs.
  entry: {
    index: 'src/index.ts',
    metrics: 'src/metrics/index.ts',
    health: 'src/health/index.ts',
    opentelemetry: 'src/opentelemetry/index.ts',
    search: 'src/search/index.ts',
    'metrics-stream': 'src/metrics-stream/index.ts',
    outbox: 'src/outbox/index.ts',
    'cache-manager': 'src/cache-manager/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
  // The shared private rules (durations) are bundled in: @ayala/internal is never published.
  noExternal: ['@ayala/internal'],
})
