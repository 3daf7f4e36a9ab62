/**
 * The invoicing API as its own process, the way `pnpm start` runs it (`node --import tsx
 * src/main.ts` in the example's folder), plus `memory-probe.mjs` loaded with `--import`: the
 * soak reads the app's own RSS, heap, CPU time and event-loop delay over the IPC channel, not
 * the load generator's. Its output is kept (the last 64 KB) for the report of a failure, and
 * its log lines are counted by level.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { EXAMPLE_DIR } from './example.js'

/** One answer of the probe. */
export interface ProbeSample {
  at: number
  /** A full GC ran just before (asked with `gc`, the app started with `--expose-gc`). */
  collected: boolean
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
  cpuUserUs: number
  cpuSystemUs: number
  loopDelayP99Ms: number
  loopDelayMaxMs: number
}

/** A started application process. */
export interface AppProcess {
  url: string
  pid: number
  child: ChildProcess
  /** `undefined` while it runs; the exit code or signal once it ended. */
  exited(): string | undefined
  /**
   * The probe's figures, or undefined when it did not answer within `timeoutMs`; `gc`: after a
   * full garbage collection (the live heap).
   */
  probe(options?: { gc?: boolean; timeoutMs?: number }): Promise<ProbeSample | undefined>
  /** Log lines seen so far, by Nest level (`ERROR`, `WARN`, `LOG`), and stderr lines. */
  logCounts(): Record<string, number>
  /** The first 20 `ERROR`/`WARN`/`FATAL` lines and stderr lines (clipped to 300 characters). */
  notableLines(): string[]
  /** The last 64 KB of its output. */
  output(): string
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

/**
 * A TCP port on 127.0.0.1 that was free when asked (`@ayala/testkit`'s, which this package's
 * type-check cannot import: its sources import with `.ts` extensions).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

const PROBE = pathToFileURL(join(import.meta.dirname, 'memory-probe.mjs')).href
const KEEP = 64 * 1024

/** Start the app on `port` for `databaseUrl`'s dataset and wait until it serves an invoice. */
export async function startAppProcess(options: {
  databaseUrl: string
  port: number
  instanceId: string
  /** @default 120_000 */
  startTimeoutMs?: number
}): Promise<AppProcess> {
  // --expose-gc only lets the probe measure the live heap before and after the load.
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--import', PROBE, 'src/main.ts'],
    {
      cwd: EXAMPLE_DIR,
      env: {
        ...process.env,
        INVOICING_DATABASE_URL: options.databaseUrl,
        PORT: String(options.port),
        INSTANCE_ID: options.instanceId,
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  )
  child.channel?.unref()
  let output = ''
  const counts: Record<string, number> = {}
  const notable: string[] = []
  const keep = (text: string) => {
    output = (output + text).slice(-KEEP)
  }
  // Lines are counted whole: a chunk may end in the middle of one.
  const partial = { stdout: '', stderr: '' }
  const count = (text: string, stream: 'stdout' | 'stderr') => {
    const lines = (partial[stream] + text).split('\n')
    partial[stream] = lines.pop() ?? ''
    for (const line of lines) {
      if (line.trim() === '') continue
      const level = /^\[Nest\]\s+\d+\s+-\s+.*?\s+(ERROR|WARN|LOG|DEBUG|VERBOSE|FATAL)\s/.exec(line)?.[1]
      const key = level ?? (stream === 'stderr' ? 'stderr' : 'other')
      counts[key] = (counts[key] ?? 0) + 1
      if (notable.length < 20 && (key === 'ERROR' || key === 'WARN' || key === 'FATAL' || key === 'stderr'))
        notable.push(line.slice(0, 300))
    }
  }
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    keep(text)
    count(text, 'stdout')
  })
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    keep(text)
    count(text, 'stderr')
  })
  let ended: string | undefined
  child.once('exit', (code, signal) => {
    ended = signal ?? `exit ${code}`
  })

  const pending = new Map<number, (sample: ProbeSample) => void>()
  let nextId = 0
  child.on('message', (message: { type?: string; id?: number } & ProbeSample) => {
    if (message?.type !== 'soak:probe' || message.id === undefined) return
    pending.get(message.id)?.(message)
    pending.delete(message.id)
  })

  const url = `http://127.0.0.1:${options.port}`
  const app: AppProcess = {
    url,
    pid: child.pid ?? -1,
    child,
    exited: () => ended,
    probe({ gc = false, timeoutMs = gc ? 10_000 : 2_000 } = {}) {
      if (ended !== undefined || !child.connected) return Promise.resolve(undefined)
      const id = nextId++
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          resolve(undefined)
        }, timeoutMs)
        pending.set(id, (sample) => {
          clearTimeout(timer)
          resolve(sample)
        })
        child.send({ type: 'soak:probe', id, gc })
      })
    },
    logCounts: () => ({ ...counts }),
    notableLines: () => [...notable],
    output: () => output,
    async stop(graceMs = 20_000) {
      if (ended !== undefined) return
      const exit = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exit
      clearTimeout(timer)
    },
  }

  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000)
  for (;;) {
    if (ended !== undefined) throw new Error(`the app exited at start (${ended}):\n${output}`)
    const ok = await fetch(`${url}/invoices/1`, { signal: AbortSignal.timeout(5_000) })
      .then((response) => response.status === 200)
      .catch(() => false)
    if (ok) return app
    if (Date.now() > deadline) {
      await app.stop(1_000)
      throw new Error(`the app did not serve within ${options.startTimeoutMs ?? 120_000} ms:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
