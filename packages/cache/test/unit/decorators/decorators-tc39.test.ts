import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

describe('decorators (TC39 standard decorators)', () => {
  it('@Cacheable, @CacheInvalidate and @CachePut work when compiled as standard decorators', () => {
    const script = fileURLToPath(new URL('../../helpers/tc39-decorators.ts', import.meta.url))
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual([
      { id: 1, total: 100 },
      { id: 1, total: 100 },
      1,
      { id: 1, total: 150 },
      2,
      { id: 1, total: 175 },
    ])
  }, 60_000) // a child process through tsx: seconds on a loaded machine
})
