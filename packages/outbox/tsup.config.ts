import { defineConfig } from 'tsup'

export default defineConfig([
  {
    // The search sink is its own entry: only it loads the optional peer @ayala/search.
    entry: { index: 'src/index.ts', search: 'src/search.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node22',
    platform: 'node',
    // The shared private rules (durations) are bundled in: @ayala/internal is never published.
    noExternal: ['@ayala/internal'],
  },
  {
    // The CLI is a bin, not an export: one ESM file with its shebang.
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node22',
    platform: 'node',
    // The shared private rules (durations) are bundled in: @ayala/internal is never published.
    noExternal: ['@ayala/internal'],
  },
])
