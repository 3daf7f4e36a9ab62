/**
 * The relay's health, per sink, from two sources: the backlog in the table (`readLag`, one
 * statement) and the relay's own counters. `down` when the table cannot be read, a sink's oldest
 * pending effect is older than `downAfter`, or effects wait for a sink this relay does not have;
 * `degraded` when the oldest is older than `degradedAfter`, the sink is failing now, or it has dead
 * letters. The relay's status is its worst sink's; the reasons are listed worst first.
 */
import { describeError } from '../errors.js'
import { type OutboxLag, readLag } from '../sql/lag.js'
import type { RelayState } from './state.js'

/** Health of one sink. */
export interface SinkHealth extends OutboxLag {
  status: 'up' | 'degraded' | 'down'
  /** Why it is not `up`. */
  reasons: string[]
  consecutiveFailures: number
  lastError: string | null
}

/** Health of the relay: the worst of its sinks, and the database. */
export interface RelayHealth {
  status: 'up' | 'degraded' | 'down'
  /** Why it is not `up`, worst first. */
  reasons: string[]
  sinks: Record<string, SinkHealth>
}

/** The relay's health now (one read of the table). */
export async function relayHealth(state: RelayState): Promise<RelayHealth> {
  let lag: Record<string, OutboxLag>
  try {
    lag = await readLag(state.db.runner, state.sql)
  } catch (error) {
    const reason = `outbox table unreachable: ${describeError(error)}`
    const sinks: Record<string, SinkHealth> = {}
    for (const [name, stats] of state.stats) {
      sinks[name] = {
        status: 'down',
        reasons: [reason],
        pending: 0,
        retrying: 0,
        dead: 0,
        oldestAgeMs: null,
        consecutiveFailures: stats.consecutiveFailures,
        lastError: stats.lastError,
      }
    }
    return { status: 'down', reasons: [reason], sinks }
  }
  const o = state.options
  const sinks: Record<string, SinkHealth> = {}
  const down: string[] = []
  const degraded: string[] = []
  const names = new Set([...state.stats.keys(), ...Object.keys(lag)])
  for (const name of names) {
    const stats = state.stats.get(name)
    const backlog = lag[name] ?? { pending: 0, retrying: 0, dead: 0, oldestAgeMs: null }
    const reasons: string[] = []
    let status: SinkHealth['status'] = 'up'
    const age = backlog.oldestAgeMs ?? 0
    if (stats === undefined && backlog.pending > 0) {
      status = 'down'
      reasons.push(`${backlog.pending} effect(s) for sink "${name}", which this relay does not have`)
    } else if (age > o.downAfterMs) {
      status = 'down'
      reasons.push(
        `oldest pending effect is ${Math.round(age / 1_000)} s old (down after ${o.downAfterMs / 1_000} s)`,
      )
    } else {
      if (age > o.degradedAfterMs) {
        reasons.push(`oldest pending effect is ${Math.round(age / 1_000)} s old`)
      }
      if (stats !== undefined && stats.consecutiveFailures > 0) {
        reasons.push(`delivery failing (${stats.consecutiveFailures} in a row): ${stats.lastError}`)
      }
      if (backlog.dead > 0) reasons.push(`${backlog.dead} dead letter(s)`)
      if (reasons.length > 0) status = 'degraded'
    }
    sinks[name] = {
      ...backlog,
      status,
      reasons,
      consecutiveFailures: stats?.consecutiveFailures ?? 0,
      lastError: stats?.lastError ?? null,
    }
    for (const reason of reasons) (status === 'down' ? down : degraded).push(`${name}: ${reason}`)
  }
  const status = down.length > 0 ? 'down' : degraded.length > 0 ? 'degraded' : 'up'
  return { status, reasons: [...down, ...degraded], sinks }
}
