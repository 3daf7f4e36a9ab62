/**
 * The tier's deadline watchdog: ONE timer bounds every pending Redis operation of a tier by
 * `redisTimeout`, so a hung Redis never holds a caller longer, and no timer is armed or cleared
 * per call (ioredis' `commandTimeout` arms one per command: ~10 us of a ~70 us read on a loaded
 * host). All operations share the same timeout, so send order is deadline order: the timer is
 * armed for the oldest pending deadline and, when it fires, rejects what is due and re-arms for
 * the next one.
 *
 * Two kinds of pending operation:
 *
 * - {@link Watchdog.bound}: any promise (a script, a pipeline, a command sent through the
 *   client's methods), wrapped in a promise the watchdog rejects at the deadline;
 * - {@link Watchdog.watch}: one ioredis `Command` the tier built and sent itself (the hot
 *   reads). No wrapper and no object per call: the command sits in three parallel arrays, and
 *   at its deadline the watchdog rejects the command itself, as ioredis' own `commandTimeout`
 *   does (a reply that comes later finds its promise settled and is dropped). The caller's
 *   reply handler calls {@link Watchdog.release}, which drops the answered commands at the
 *   front: replies on a connection come in send order, so a command leaves the arrays as soon
 *   as it has answered (it must not outlive its reply there: its promise holds the reply, which
 *   would then survive the young generation's collections). One rejected by ioredis (a lost
 *   connection) stays until the timer passes it.
 *
 * The verdict. A timer fires in the loop's timers phase, BEFORE the loop reads its sockets: after
 * the process was held past a deadline (a long synchronous task, a GC pause, a host whose cores
 * are all busy), the timer would find a command pending whose reply already sits in the socket,
 * and reject an answer Redis gave in time: a false `E_CACHE_L2_TIMEOUT`, which defers an
 * invalidation, serves grace, counts toward the breaker. So the timer only schedules the verdict,
 * in a `setImmediate`, which runs once the loop has read its sockets (the rule every `@ayala`
 * deadline follows, `DeadlineTimer` of `@ayala/internal`; the bus heartbeat does the same,
 * bus/bus.ts): a reply received meanwhile has settled its command, and only what Redis has still
 * not answered is rejected, one loop turn past its deadline at the latest.
 */
import { DeadlineTimer } from '@ayala/internal'
import type { Command } from 'ioredis'
import { L2UnavailableError } from '../errors.js'

/** An operation waiting for Redis, with its deadline (`performance.now()` ms). */
interface Watched {
  deadline: number
  operation: string
  reject(error: unknown): void
}

/** The error of an operation that did not answer within `ms`. */
export function timeoutError(operation: string, ms: number): L2UnavailableError {
  return new L2UnavailableError('E_CACHE_L2_TIMEOUT', `Redis ${operation} did not answer within ${ms} ms`)
}

/** Past this many slots passed by the timer, the front of the arrays is cut off. */
const COMPACT_AT = 1024

/** See the module note. */
export class Watchdog {
  private readonly watched = new Set<Watched>()
  private readonly commands: Array<Command | undefined> = []
  private readonly operations: string[] = []
  private readonly deadlines: number[] = []
  /** Index of the oldest command still in the arrays. */
  private head = 0
  /** Armed for the oldest pending deadline; its verdict re-arms for the next one. */
  private readonly timer = new DeadlineTimer((cutOff) => this.judge(cutOff))

  constructor(private readonly timeoutMs: number) {}

  /** `promise`, or a timeout error once the timeout has passed. */
  bound<T>(promise: Promise<T>, operation: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Watched = { deadline: performance.now() + this.timeoutMs, operation, reject }
      this.watched.add(entry)
      if (!this.timer.armed) this.timer.arm(this.timeoutMs)
      promise.then(
        (value) => {
          this.watched.delete(entry)
          resolve(value)
        },
        (error: unknown) => {
          this.watched.delete(entry)
          reject(error)
        },
      )
    })
  }

  /** Reject `command` (just sent) with a timeout error if it has not answered once the timeout has passed. */
  watch(command: Command, operation: string): void {
    this.commands.push(command)
    this.operations.push(operation)
    this.deadlines.push(performance.now() + this.timeoutMs)
    if (!this.timer.armed) this.timer.arm(this.timeoutMs)
  }

  /** Drop the commands at the front that have answered (see the module note). */
  release(): void {
    const commands = this.commands
    if (commands.length === 0) return
    let head = this.head
    while (head < commands.length && (commands[head] as Command).isResolved) commands[head++] = undefined
    if (head === commands.length) this.reset()
    else this.head = head
  }

  /** Stop the timer (the tier is closing). */
  stop(): void {
    this.timer.stop()
  }

  private reset(): void {
    this.commands.length = 0
    this.operations.length = 0
    this.deadlines.length = 0
    this.head = 0
  }

  // Only what was due when the timer fired (`cutOff`): an operation that fell due later (this
  // turn's callbacks held the process) has its socket read at the next turn first.
  private judge(cutOff: number): void {
    let next = Number.POSITIVE_INFINITY
    for (const entry of this.watched) {
      if (entry.deadline > cutOff) {
        next = entry.deadline
        break
      }
      this.watched.delete(entry)
      entry.reject(timeoutError(entry.operation, this.timeoutMs))
    }
    const commands = this.commands
    let head = this.head
    for (; head < commands.length; head++) {
      const deadline = this.deadlines[head] as number
      if (deadline > cutOff) {
        if (deadline < next) next = deadline
        break
      }
      const command = commands[head] as Command
      commands[head] = undefined
      if (!command.isResolved) command.reject(timeoutError(this.operations[head] as string, this.timeoutMs))
    }
    if (head === commands.length) this.reset()
    else if (head >= COMPACT_AT) {
      commands.splice(0, head)
      this.operations.splice(0, head)
      this.deadlines.splice(0, head)
      this.head = 0
    } else this.head = head
    if (next !== Number.POSITIVE_INFINITY) this.timer.arm(next - performance.now())
  }
}
