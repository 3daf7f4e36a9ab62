/**
 * A script of this package as a process of its own, the way `pnpm start` runs the API (`node
 * --import tsx <script>` in the package folder): the demo and the `e2e` benchmark load the API
 * and the SQL reference server from another process, so the load generator's CPU is not theirs.
 * The last 64 KB of its output are kept for the error of a failed start.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { join } from 'node:path'

/** This package's folder. */
export const PACKAGE_DIR = join(import.meta.dirname, '..', '..')

/** A started process. */
export interface ServiceProcess {
  url: string
  pid: number
  child: ChildProcess
  /** The last 64 KB of its output. */
  output(): string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>
}

/** A TCP port on 127.0.0.1 that was free when asked. */
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

/**
 * Start `script` (relative to this package, e.g. `src/main.ts`) with `env` on `port` or a free
 * one (`PORT`), and wait until `GET <url><readyPath>` answers 200.
 */
export async function startService(
  script: string,
  options: {
    env: NodeJS.ProcessEnv
    readyPath: string
    startTimeoutMs?: number | undefined
    /** @default a free port */
    port?: number | undefined
  },
): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort())
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, ...options.env, PORT: String(port), NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (text: string) => {
    output = (output + text).slice(-64 * 1024)
  }
  child.stdout?.setEncoding('utf8').on('data', keep)
  child.stderr?.setEncoding('utf8').on('data', keep)
  let ended: string | undefined
  child.once('exit', (code, signal) => {
    ended = signal ?? `exit ${code}`
  })
  const url = `http://127.0.0.1:${port}`
  const service: ServiceProcess = {
    url,
    pid: child.pid ?? -1,
    child,
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
  const timeoutMs = options.startTimeoutMs ?? 180_000
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (ended !== undefined) throw new Error(`${script} exited at start (${ended}):\n${output}`)
    const ok = await fetch(`${url}${options.readyPath}`, { signal: AbortSignal.timeout(10_000) })
      .then(async (response) => {
        await response.arrayBuffer()
        return response.status === 200
      })
      .catch(() => false)
    if (ok) return service
    if (Date.now() > deadline) {
      await service.stop(1_000)
      throw new Error(`${script} did not answer ${options.readyPath} within ${timeoutMs} ms:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
