/**
 * Starting and stopping the child processes of `child.ts` (consumers and CPU burners), pinned to
 * the children's CPUs with METRICS_BENCH_PIN_REDIS=1 and reniced with METRICS_BENCH_CHILD_NICE.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { setPriority } from 'node:os'
import { join } from 'node:path'
import type { ChildReport } from './child.js'
import { CHILD, PIN } from './settings.js'

/** The file a child process runs (it acts on `AYALA_METRICS_BENCH_CHILD`). */
const CHILD_FILE = join(import.meta.dirname, 'child.ts')

/** A child process and the two moments the run waits for. */
export interface Spawned {
  process: ChildProcess
  /** Resolves at the first applied chunk (consumers) or once burning (burners). */
  applying: Promise<void>
  done: Promise<ChildReport>
}

/** Start a child of `kind` with `env` (its settings); started again if it could not import. */
export function spawnChild(kind: 'ours' | 'naive' | 'burn', env: Record<string, string>): Spawned {
  let proc: ChildProcess | undefined
  let started: () => void = () => undefined
  const applying = new Promise<void>((resolve) => {
    started = resolve
  })
  const done = new Promise<ChildReport>((resolve, reject) => {
    let attempts = 0
    const launch = () => {
      attempts++
      const argv = [process.execPath, '--import', 'tsx', CHILD_FILE]
      // taskset execs node in place: same pid, every thread inherits the affinity.
      const [command, ...args] = PIN ? ['taskset', '-c', PIN.childCpus, ...argv] : argv
      const child = spawn(command as string, args, {
        env: {
          ...process.env,
          ...env,
          [CHILD]: kind,
          KAFKAJS_NO_PARTITIONER_WARNING: '1',
          NODE_NO_WARNINGS: '1',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      // METRICS_BENCH_CHILD_NICE=N: the consumer and burner processes run at nice N, so the
      // reading process and Redis get the CPU first; what is left of the read p99 is then Redis
      // (scripts in the way), not the scheduler. For measuring that split; off by default.
      const nice = Number(process.env.METRICS_BENCH_CHILD_NICE ?? 0)
      if (nice > 0 && child.pid !== undefined) setPriority(child.pid, nice)
      proc = child
      let said = false
      let buffer = ''
      child.stdout?.setEncoding('utf8')
      child.stdout?.on('data', (chunk: string) => {
        said = true
        buffer += chunk
        for (const text of buffer.split('\n').slice(0, -1)) {
          const parsed = JSON.parse(text) as { event: string } & ChildReport
          if (parsed.event === 'done') resolve(parsed)
          else started()
        }
        buffer = buffer.slice(buffer.lastIndexOf('\n') + 1)
      })
      child.once('exit', (code, signal) => {
        // The checkout is shared: a build by someone else empties the package's dist/ for a few
        // seconds, and a child starting then fails to import it. Such a child (exit code, no
        // output) is started again, four times at most.
        if (!said && signal === null && code !== 0 && attempts < 5) setTimeout(launch, 3_000)
        else reject(new Error(`${kind} child exited with ${code ?? signal}`))
      })
    }
    launch()
  })
  // A child that dies before applying must not leave `applying` pending forever.
  done.catch(() => started())
  return {
    get process() {
      return proc as ChildProcess
    },
    applying,
    done,
  }
}

/** SIGKILL a child (if it still runs) and wait for its exit. */
export function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  const exited = new Promise<void>((done) => proc.once('exit', () => done()))
  proc.kill('SIGKILL')
  return exited
}
