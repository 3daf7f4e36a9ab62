/**
 * What the run reads besides its own timings: percentiles and latency rows, the machine's CPU
 * (`/proc/stat`, `/proc/loadavg`), Redis's CPU (`INFO cpu`) and the server-side command times of
 * SLOWLOG (threshold 0 on the private redis-server: every command is logged).
 */
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import type { Redis } from 'ioredis'
import type { ResultRow } from '../report.js'

/** The `q` quantile of sorted values (NaN when empty). */
export function pct(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * q))] as number
}

/** A row of latencies (ms samples, reported in us); its ratio is set by the caller. */
export function latencyRow(name: string, samplesMs: number[], note: string): ResultRow {
  const sorted = [...samplesMs].sort((a, b) => a - b)
  const sum = sorted.reduce((s, v) => s + v, 0)
  return {
    name,
    p50Us: pct(sorted, 0.5) * 1_000,
    p99Us: pct(sorted, 0.99) * 1_000,
    opsPerSec: sum > 0 ? (1_000 * sorted.length) / sum : Number.NaN,
    ratioToBaseline: Number.NaN,
    samples: sorted.length,
    note,
  }
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string)
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const total = fields.reduce((s, v) => s + v, 0)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  return { busy: total - idle, total }
}

/** Cores of the machine busy between two `machineCpu()` readings. */
export function busyCores(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  return ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * cpus().length
}

/** The load averages (1, 5, 15 min) of `/proc/loadavg`. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
}

/** CPU seconds used by the Redis server so far. */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0)
  return read('used_cpu_user') + read('used_cpu_sys')
}

/** Server-side durations (us) of the apply scripts and of the reads' EXEC since the last reset. */
export async function slowlog(redis: Redis): Promise<{ scripts: number[]; reads: number[] }> {
  const entries = (await redis.call('SLOWLOG', 'GET', '-1')) as Array<
    [number, number, number, string[], string]
  >
  await redis.call('SLOWLOG', 'RESET')
  const scripts: number[] = []
  const reads: number[] = []
  // Redis 7.0 logs the commands inside MULTI/EXEC one by one (not EXEC), and the commands a
  // script runs too (client address "?:0"): a read is the sum of the reading connection's
  // entries from one MULTI to the next (entries come newest first).
  let read = -1
  let reader = ''
  for (const [, , micros, args, client] of entries.reverse()) {
    const command = String(args[0]).toLowerCase()
    if (command === 'evalsha' || command === 'eval') scripts.push(micros)
    else if (command === 'multi') {
      if (read >= 0) reads.push(read)
      read = micros
      reader = client
    } else if (read >= 0 && client === reader && command !== 'slowlog' && command !== 'info') {
      read += micros
    }
  }
  if (read >= 0) reads.push(read)
  scripts.sort((a, b) => a - b)
  reads.sort((a, b) => a - b)
  return { scripts, reads }
}

/** p50/p99/max of sorted server times (us). */
export function spread(sortedUs: readonly number[]): string {
  if (sortedUs.length === 0) return 'n/a'
  return `${pct(sortedUs, 0.5)}/${pct(sortedUs, 0.99)}/${sortedUs[sortedUs.length - 1]} us`
}
