/**
 * The invoicing API as its own process: `node --import tsx src/main.ts` (what `pnpm start` runs),
 * configured only through its environment, its output kept for the failure message. `stop()`
 * sends SIGTERM (the app's shutdown hooks close its connections) and SIGKILLs after a deadline.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { EXAMPLE_ROOT } from './dataset.ts'

/** A running instance. */
export interface AppProcess {
  readonly name: string
  readonly url: string
  readonly child: ChildProcess
  /** What the process wrote (stdout and stderr). */
  output(): string
  /** Resident memory of the process, MB (from /proc), or undefined once it exited. */
  rssMb(): number | undefined
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once it exited. */
  stop(timeoutMs?: number): Promise<void>
}

/**
 * Start `src/main.ts` on `port` with `env` (over the test's own environment) and resolve once
 * `GET /invoices/1` answers 200 (within `timeoutMs`).
 */
export async function startAppProcess(
  name: string,
  port: number,
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: EXAMPLE_ROOT,
    env: { ...process.env, ...env, PORT: String(port), INSTANCE_ID: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = () => child.exitCode !== null || child.signalCode !== null
  const instance: AppProcess = {
    name,
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    rssMb() {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
        const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1]
        return kb === undefined ? undefined : Math.round(Number(kb) / 1024)
      } catch {
        return undefined
      }
    },
    async stop(stopTimeoutMs = 20_000) {
      if (exited()) return
      const done = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs)
      await done
      clearTimeout(timer)
    },
  }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (exited()) throw new Error(`instance ${name} exited at start:\n${output}`)
    const ok = await fetch(`${instance.url}/invoices/1`, { signal: AbortSignal.timeout(5_000) })
      .then((response) => response.status === 200)
      .catch(() => false)
    if (ok) return instance
    if (Date.now() > deadline) {
      await instance.stop(1_000)
      throw new Error(`instance ${name} did not serve within ${timeoutMs / 1000} s:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
