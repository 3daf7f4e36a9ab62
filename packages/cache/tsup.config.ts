import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
  // The shared private rules (durations) are bundled in: @ayala/internal is never published.
  noExternal: ['@ayala/internal'],
})
