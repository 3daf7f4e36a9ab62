/** The bounded, deduplicated set of invalidations kept for a replay (recovery/pending-invalidations.ts). */
import { describe, expect, it } from 'vitest'
import { KeyEffect, PendingInvalidations } from '../../../src/recovery/pending-invalidations.js'
import { HARD_STEP } from '../../../src/tags/tag-versions.js'

describe('PendingInvalidations', () => {
  it('keeps one slot per key with the strongest effect, whatever the order', () => {
    const set = new PendingInvalidations(100)
    set.addKeys(['a', 'b', 'c'], KeyEffect.Drop)
    set.addKeys(['a'], KeyEffect.Delete)
    set.addKeys(['a', 'b'], KeyEffect.Expire)
    set.addKeys(['c', 'c'], KeyEffect.Drop)
    expect([...set.keys]).toEqual([
      ['a', KeyEffect.Delete],
      ['b', KeyEffect.Expire],
      ['c', KeyEffect.Drop],
    ])
    expect(set.size).toBe(3)
  })

  it('accumulates tag steps (the local table was bumped by the same sum), clear is the generation', () => {
    const set = new PendingInvalidations(100)
    set.addTags(['t:a', 't:b'], HARD_STEP)
    set.addTags(['t:a'], HARD_STEP)
    set.addTags(['t:b'], 1)
    set.addClear(HARD_STEP)
    expect(Object.fromEntries(set.tags)).toEqual({ 't:a': 2 * HARD_STEP, 't:b': HARD_STEP + 1, g: HARD_STEP })
    expect(set.clear).toBe(true)
    // A bump that reached the server leaves only its notice: folding it back never bumps twice.
    set.markBumped()
    const retry = new PendingInvalidations(100)
    retry.addTags(['t:a'], 1)
    retry.absorb(set)
    expect(Object.fromEntries(retry.tags)).toEqual({ 't:a': 1, 't:b': 0, g: 0 })
    expect(retry.clear).toBe(true)
  })

  it('past the bound collapses into one generation bump and absorbs what follows', () => {
    const set = new PendingInvalidations(3)
    expect(set.addKeys(['a', 'b'], KeyEffect.Delete)).toBe(false)
    expect(set.addTags(['t:x'], HARD_STEP)).toBe(false)
    expect(set.addTags(['t:y'], HARD_STEP)).toBe(true)
    expect(set.overflowed).toBe(true)
    expect(set.clear).toBe(true)
    expect(set.keys.size).toBe(0)
    expect(Object.fromEntries(set.tags)).toEqual({ g: HARD_STEP })
    expect(set.addKeys(['c', 'd', 'e', 'f'], KeyEffect.Delete)).toBe(false)
    expect(set.size).toBe(1)
    // A failed batch that had overflowed collapses the set it is folded into.
    const next = new PendingInvalidations(3)
    next.addKeys(['z'], KeyEffect.Drop)
    expect(next.absorb(set)).toBe(true)
    expect(next.overflowed).toBe(true)
    expect(next.size).toBe(1)
  })
})
