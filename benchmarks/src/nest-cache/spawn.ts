/**
 * One contender's application as its own process (`app.ts` under tsx), started on a free port
 * and stopped with SIGTERM (SIGKILL after 5 s). Its output is kept for the report of a failure.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { freePort } from '../soak/app-process.js'
import type { ContenderName } from './contenders.js'

/** A running contender application. */
export interface ContenderApp {
  url: string
  stop(): Promise<void>
}

const APP = join(import.meta.dirname, 'app.ts')

/** Start `contender`'s application; resolves once it listens (or rejects with its output). */
export async function startContender(
  contender: ContenderName,
  redisUrl: string,
  namespace: string,
): Promise<ContenderApp> {
  const port = await freePort()
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', APP, contender, String(port), redisUrl, namespace],
    {
      cwd: join(import.meta.dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, NO_COLOR: '1' },
    },
  )
  let output = ''
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    output = (output + text).slice(-16_384)
  })
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    output = (output + text).slice(-16_384)
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${contender} did not start in 60 s:\n${output}`)),
      60_000,
    )
    child.once('message', () => {
      clearTimeout(timer)
      resolve()
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${contender} exited (${code ?? signal}) before listening:\n${output}`))
    })
  })
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
}
