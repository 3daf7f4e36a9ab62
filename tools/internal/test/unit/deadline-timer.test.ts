import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DeadlineTimer, setDeadline } from '../../src/index.ts'

describe('DeadlineTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'],
    })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('the verdict runs in the immediate after the timer, with the firing time as cut-off', () => {
    const cutOffs: number[] = []
    const timer = new DeadlineTimer((cutOff) => cutOffs.push(cutOff))
    const start = performance.now()
    timer.arm(50)
    expect(timer.armed).toBe(true)
    vi.advanceTimersByTime(49)
    expect(cutOffs).toEqual([])
    vi.advanceTimersToNextTimer() // the timeout fires: the verdict is only scheduled
    expect(cutOffs).toEqual([])
    expect(timer.armed).toBe(false)
    expect(timer.judging).toBe(true)
    vi.advanceTimersToNextTimer() // the immediate
    expect(cutOffs).toEqual([start + 50 + 1])
    expect(timer.judging).toBe(false)
  })

  it('arm replaces an armed timer; it is ignored while a verdict is scheduled; the verdict may re-arm', () => {
    let verdicts = 0
    const timer: DeadlineTimer = new DeadlineTimer(() => {
      verdicts++
      if (verdicts === 1) timer.arm(30)
    })
    timer.arm(100)
    timer.arm(10) // earlier: replaces
    vi.advanceTimersByTime(10)
    expect(timer.judging).toBe(true)
    timer.arm(1) // ignored: the verdict re-arms
    vi.advanceTimersToNextTimer()
    expect(verdicts).toBe(1)
    expect(timer.armed).toBe(true)
    vi.advanceTimersByTime(29)
    expect(verdicts).toBe(1)
    vi.advanceTimersByTime(1)
    vi.advanceTimersToNextTimer()
    expect(verdicts).toBe(2)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('stop clears the timer and a scheduled verdict', () => {
    let verdicts = 0
    const timer = new DeadlineTimer(() => verdicts++)
    timer.arm(10)
    timer.stop()
    vi.advanceTimersByTime(100)
    timer.arm(10)
    vi.advanceTimersByTime(10)
    expect(timer.judging).toBe(true)
    timer.stop()
    vi.runAllTimers()
    expect(verdicts).toBe(0)
    expect(timer.armed || timer.judging).toBe(false)
  })
})

describe('setDeadline', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('calls verdict(subject) in the immediate after the timer', () => {
    const judged: string[] = []
    setDeadline(20, (subject: string) => judged.push(subject), 'read-1')
    vi.advanceTimersByTime(20)
    expect(judged).toEqual([])
    vi.advanceTimersToNextTimer()
    expect(judged).toEqual(['read-1'])
  })

  it('cleared before it fired: no verdict', () => {
    const judged: string[] = []
    clearTimeout(setDeadline(20, (subject: string) => judged.push(subject), 'read-1'))
    vi.runAllTimers()
    expect(judged).toEqual([])
  })
})
