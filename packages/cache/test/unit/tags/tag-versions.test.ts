/** Tag-version arithmetic (moved from internals.test.ts). */
import { describe, expect, it } from 'vitest'
import { compareVersion, HARD_STEP, LocalTagVersions, VersionState } from '../../../src/tags/tag-versions.js'

describe('tag versions', () => {
  it('tells fresh, expired (soft bump) and invalid (hard bump)', () => {
    expect(compareVersion(3, 3)).toBe(VersionState.Fresh)
    expect(compareVersion(3, 4)).toBe(VersionState.Expired)
    expect(compareVersion(3, 3 + HARD_STEP)).toBe(VersionState.Invalid)
    expect(compareVersion(3, 0)).toBe(VersionState.Invalid) // a version that went back was reset
  })

  it('keeps the highest version seen', () => {
    const table = new LocalTagVersions(2)
    expect(table.observe('t:a', 5)).toBe(true)
    expect(table.observe('t:a', 4)).toBe(false)
    expect(table.get('t:a')).toBe(5)
    expect(table.bump('t:b', HARD_STEP)).toBe(HARD_STEP)
    table.observe('t:c', 1) // full: forgets, and says so
    expect(table.known('t:a')).toBeUndefined()
  })
})
