/**
 * A private `redis-server` on a free loopback port, for tests that must stop, restart, pause
 * or slow Redis without touching the shared server other tests use.
 *
 * The process runs without persistence in a temporary folder. `stop()` kills it (SIGKILL, as a
 * crash would); `start()` brings a fresh one back on the same port; `pause(ms)` freezes it with
 * SIGSTOP (a hung server: connections stay open, nothing answers) and resumes it with SIGCONT.
 * With `tls` it serves TLS only (certificates from `makeTestCertificates`), with `users` it asks
 * for an ACL user (the `default` user off), for tests of credentials and TLS.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { TestCertificates } from './certificates.ts'
import { freePort } from './free-port.ts'

export interface PrivateRedisOptions {
  /** Port to listen on. @default a free port */
  port?: number | undefined
  /** Extra `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']`. */
  args?: string[] | undefined
  /**
   * Port of a loopback primary to replicate (`--replicaof`); `start()` then also waits until the
   * replica has synced with it (`master_link_status:up`).
   */
  replicaOf?: number | undefined
  /**
   * Serve TLS only on `port` (`--port 0 --tls-port <port>`, no client certificate asked), with a
   * certificate from {@link makeTestCertificates}. `url` is then `rediss://`.
   */
  tls?: Pick<TestCertificates, 'certFile' | 'keyFile' | 'caFile'> | undefined
  /**
   * ACL users, name to password, each allowed every key, channel and command; the `default`
   * user is switched off (a connection without credentials gets NOAUTH). `url` carries none.
   */
  users?: Readonly<Record<string, string>> | undefined
}

export interface PrivateRedis {
  readonly port: number
  readonly url: string
  /** Start the server (again) and wait until it accepts connections. */
  start(): Promise<void>
  /** Kill the server with SIGKILL and wait for the process to exit. */
  stop(): Promise<void>
  /** Freeze the server (SIGSTOP): sockets stay open but nothing answers. */
  freeze(): void
  /** Resume a frozen server (SIGCONT). */
  thaw(): void
  /** Stop the server and remove its folder. */
  dispose(): Promise<void>
}

function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  const path = found.stdout.trim()
  if (!path) {
    throw new Error(
      'redis-server is not installed: run scripts/setup.sh (it installs redis-server from Debian)',
    )
  }
  return path
}

/** A killed child has a `signalCode` and no `exitCode`; an exited one the other way round. */
function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.end('PING\r\n')
        resolve()
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) reject(new Error(`private redis-server did not listen on ${port}`))
        else setTimeout(attempt, 20)
      })
    }
    attempt()
  })
}

/** Wait until the replica on `port` reports its link to the primary up (initial sync done). */
async function waitForSync(port: number, timeoutMs: number): Promise<void> {
  const redis = new Redis(port, '127.0.0.1', { lazyConnect: true })
  const deadline = Date.now() + timeoutMs
  try {
    while (!/master_link_status:up/.test(await redis.info('replication'))) {
      if (Date.now() > deadline)
        throw new Error(`private redis-server on ${port} did not sync with its primary`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  } finally {
    redis.disconnect()
  }
}

/** `--user` directives: each user on with its password and every permission; `default` off. */
function aclArgs(users: Readonly<Record<string, string>> | undefined): string[] {
  if (users === undefined) return []
  const args = ['--user', 'default', 'off']
  for (const [name, password] of Object.entries(users)) {
    args.push('--user', name, 'on', `>${password}`, '~*', '&*', '+@all')
  }
  return args
}

/** Start a private `redis-server` and return a handle to control it. */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const binary = redisServerBinary()
  const port = options.port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'ayala-redis-'))
  let child: ChildProcess | undefined

  const handle: PrivateRedis = {
    port,
    url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    async start() {
      if (child && isRunning(child)) return
      child = spawn(
        binary,
        [
          ...(options.tls
            ? [
                '--port',
                '0',
                '--tls-port',
                String(port),
                '--tls-cert-file',
                options.tls.certFile,
                '--tls-key-file',
                options.tls.keyFile,
                '--tls-ca-cert-file',
                options.tls.caFile,
                '--tls-auth-clients',
                'no',
              ]
            : ['--port', String(port)]),
          ...aclArgs(options.users),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          ...(options.replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(options.replicaOf)]),
          ...(options.args ?? []),
        ],
        { stdio: 'ignore' },
      )
      await waitForPort(port, 5_000)
      if (options.replicaOf !== undefined) await waitForSync(port, 10_000)
    },
    async stop() {
      const running = child
      if (!running || !isRunning(running)) return
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()))
      running.kill('SIGCONT')
      running.kill('SIGKILL')
      await exited
    },
    freeze() {
      child?.kill('SIGSTOP')
    },
    thaw() {
      child?.kill('SIGCONT')
    },
    async dispose() {
      await handle.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await handle.start()
  return handle
}
