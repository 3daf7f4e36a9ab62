/**
 * A private Redis Sentinel topology on loopback: a primary, one replica and three Sentinels
 * (`redis-server --sentinel`), for tests of what happens when the Redis primary dies: Sentinel
 * promotes the replica, clients that connect through the Sentinels (`new Redis({ sentinels,
 * name })`) follow it, and whatever the replica had not received yet is gone.
 *
 * How it is built:
 * 1. Free loopback ports for both data nodes and the three Sentinels are reserved together (all
 *    sockets held open at once, so no two processes get the same port). Each process runs in its
 *    own temporary folder with its own config file (Sentinel must be able to rewrite its file,
 *    and Sentinel sends `CONFIG REWRITE` to the data nodes it reconfigures), no persistence, and
 *    `repl-diskless-sync-delay 0` so a replica syncs at once. Logs go to `<dir>/<name>.log`.
 * 2. The Sentinels monitor the primary with quorum 2 (of 3), `down-after-milliseconds` 1000 and
 *    a small `failover-timeout`, so a SIGKILLed primary is replaced within a few seconds.
 * 3. The helper polls until the replica is synced, every Sentinel knows the replica (healthy) and
 *    the two other Sentinels, and `SENTINEL CKQUORUM` says a failover can be authorized: a test
 *    starts on a settled topology, and a kill is then always followed by a promotion.
 *
 * A lagging replica, on purpose: {@link RedisSentinel.replicaLink} routes the replica's link to
 * the primary through a {@link TcpProxy} of ours (a partial resync, nothing is copied again).
 * `blackhole()` holds the replication stream in the proxy while the replica still looks healthy
 * to Sentinel (its link stays up until `repl-timeout`, 60 s), so killing the primary then promotes
 * a replica that misses the last writes, which are lost with the proxy's buffer: the
 * asynchronous-replication hole of every Redis failover, made certain instead of likely. (`cut()`
 * takes the link down instead; Sentinel still promotes a replica whose link is down for less than
 * ten times `down-after-milliseconds` plus the time since the primary was found down.) Sentinel
 * "fixes" a replica that replicates from an address other than its primary's (`+fix-slave-config`)
 * once `failover-timeout` has passed; while the link is proxied the helper raises that timeout on
 * every Sentinel (`SENTINEL SET`) so the proxy is not bypassed mid-test, and sets it back once a
 * promotion was seen.
 *
 * Restarting a killed node: it comes back as a master with an empty dataset (no persistence) and
 * Sentinel turns it into a replica of the current primary (`+convert-to-slave`, about 8 s after it
 * reported itself); {@link RedisSentinel.restart} waits for that and for the Sentinels to list it
 * as a healthy replica again, so a second failover can follow. Restart a primary only after its
 * replacement was promoted: an empty master that comes back before the failover would be synced
 * FROM, wiping the replica.
 *
 * `dispose()` kills every process (SIGKILL) and removes the folder; a process-exit hook does both
 * too if a test run exits before `dispose()` (a worker killed outright leaves them behind).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePorts } from './free-port.ts'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'

/** Options of {@link startRedisSentinel}. */
export interface RedisSentinelOptions {
  /** The name the Sentinels monitor the primary under (ioredis' `name` option). @default 'ayala' */
  masterName?: string | undefined
  /** Sentinels that must agree the primary is down before a failover. @default 2 */
  quorum?: number | undefined
  /**
   * `down-after-milliseconds`: how long the primary may not answer before a Sentinel considers it
   * down. @default 1000
   */
  downAfterMs?: number | undefined
  /**
   * `failover-timeout`, milliseconds: how long a failover may take before it is aborted, and
   * twice that before the same primary may be failed over again after an aborted attempt.
   * (Raised while {@link RedisSentinel.replicaLink} proxies the replica's link, see the module
   * note.) @default 5000
   */
  failoverTimeoutMs?: number | undefined
  /** How long to wait for the processes to listen and the topology to settle, milliseconds. @default 60000 */
  startTimeoutMs?: number | undefined
  /** Extra `redis-server` config lines for both data nodes, e.g. `['maxmemory 64mb']`. */
  config?: readonly string[] | undefined
}

/** Address of one process of the topology. */
export interface RedisSentinelAddress {
  readonly host: string
  readonly port: number
}

/** A running private Sentinel topology. */
export interface RedisSentinel {
  /** The name the Sentinels monitor the primary under (ioredis' `name`). */
  readonly masterName: string
  /** The three Sentinels; pass them to `new Redis({ sentinels, name: masterName })`. */
  readonly sentinels: readonly RedisSentinelAddress[]
  /** Both data nodes, the initial primary first. */
  readonly nodes: readonly [RedisSentinelAddress, RedisSentinelAddress]
  /** The folder holding every process's config, data and `<name>.log`. */
  readonly dir: string
  /** The primary a majority of the Sentinels report now (`SENTINEL get-master-addr-by-name`). */
  master(): Promise<RedisSentinelAddress>
  /**
   * Route the current replica's link to the current primary through a TCP proxy (a partial
   * resync) and resolve once the link is up again through it; `blackhole()` on the proxy makes the
   * replica lag, `restore()` delivers what it held. One proxy per primary: calling it again before
   * a failover returns the same proxy. It is closed once a promotion is seen.
   */
  replicaLink(): Promise<TcpProxy>
  /** SIGKILL the current primary (as a crash would); resolves with its address once it exited. */
  killPrimary(): Promise<RedisSentinelAddress>
  /**
   * Resolve with the new primary once a majority of the Sentinels report one other than
   * `previous`, that node answers as a master and the Sentinels ended the failover.
   * @param timeoutMs deadline, milliseconds @default 60000
   */
  waitForPromotion(previous: RedisSentinelAddress, timeoutMs?: number): Promise<RedisSentinelAddress>
  /**
   * Start a killed data node again (empty) and resolve once it replicates the current primary with
   * its link up and every Sentinel lists it as a healthy replica.
   * @param timeoutMs deadline, milliseconds @default 60000
   */
  restart(node: RedisSentinelAddress, timeoutMs?: number): Promise<void>
  /** Kill every process (SIGKILL), close the proxy and remove the folder. Safe to call twice. */
  dispose(): Promise<void>
}

interface Process {
  readonly name: string
  readonly port: number
  readonly dir: string
  readonly conf: string
  readonly sentinel: boolean
  child: ChildProcess | undefined
}

const HOST = '127.0.0.1'
/** `failover-timeout` while the replica's link is proxied: no `+fix-slave-config` in a test's life. */
const PROXIED_FAILOVER_TIMEOUT_MS = 600_000

function redisServer(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  const path = found.stdout.trim()
  if (!path) {
    throw new Error('redis-server is not installed: run scripts/setup.sh (it installs redis from Debian)')
  }
  return path
}

/** A killed child has a `signalCode` and no `exitCode`; an exited one the other way round. */
function isRunning(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A client for polling: no offline queue, no reconnection, every failure is a rejection. */
function probe(port: number): Redis {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
  })
  // ioredis emits 'error' for refused connections; the command's rejection is what counts.
  client.on('error', () => undefined)
  return client
}

/** Run `fn` on a fresh probe of `port`, disconnecting it afterwards. */
async function ask<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = probe(port)
  try {
    await client.connect()
    return await fn(client)
  } finally {
    client.disconnect()
  }
}

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()
}

/** A flat `[key, value, key, value...]` reply (SENTINEL MASTER, REPLICAS, SENTINELS) as a record. */
function record(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  const list = flat as string[]
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i] as string] = list[i + 1] as string
  return out
}

/**
 * Poll `check` (which resolves with `undefined` when satisfied, or why not) until it is satisfied
 * or `deadline` passes; a rejection counts as "not yet".
 */
async function until(
  what: string,
  deadline: number,
  check: () => Promise<string | undefined>,
): Promise<void> {
  let last = 'not checked yet'
  for (;;) {
    try {
      const reason = await check()
      if (reason === undefined) return
      last = reason
    } catch (error) {
      last = error instanceof Error ? error.message : String(error)
    }
    if (Date.now() > deadline) throw new Error(`Redis Sentinel topology: ${what} in time (${last})`)
    await sleep(100)
  }
}

/**
 * Start a private Sentinel topology (a primary, a replica, three Sentinels) on free loopback
 * ports and wait until it is settled. Call `dispose()` when done (e.g. in `afterAll`).
 *
 * @example
 * ```ts
 * const topology = await startRedisSentinel()
 * const redis = new Redis({ sentinels: [...topology.sentinels], name: topology.masterName })
 * const old = await topology.killPrimary()
 * await topology.waitForPromotion(old)
 * // ...
 * redis.disconnect()
 * await topology.dispose()
 * ```
 */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinel> {
  const masterName = options.masterName ?? 'ayala'
  if (!/^[A-Za-z0-9._-]+$/.test(masterName)) {
    throw new Error(`startRedisSentinel: masterName must be letters, digits, . _ -, got "${masterName}"`)
  }
  const quorum = options.quorum ?? 2
  const downAfterMs = options.downAfterMs ?? 1_000
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 5_000
  for (const [name, value] of Object.entries({ quorum, downAfterMs, failoverTimeoutMs })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`startRedisSentinel: ${name} must be a positive integer, got ${value}`)
    }
  }
  if (quorum > 3) throw new Error(`startRedisSentinel: quorum must be at most 3 (3 Sentinels), got ${quorum}`)
  const startDeadline = Date.now() + (options.startTimeoutMs ?? 60_000)
  const binary = redisServer()
  const dir = mkdtempSync(join(tmpdir(), 'ayala-redis-sentinel-'))
  const ports = await freePorts(5)
  const processes: Process[] = []

  const killOnExit = () => {
    for (const p of processes) if (isRunning(p.child)) p.child?.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)

  const add = (name: string, port: number, sentinel: boolean, lines: string[]): Process => {
    const own = join(dir, name)
    mkdirSync(own)
    const conf = join(own, sentinel ? 'sentinel.conf' : 'redis.conf')
    writeFileSync(conf, `${[`port ${port}`, `bind ${HOST}`, `dir ${own}`, ...lines].join('\n')}\n`)
    const entry: Process = { name, port, dir: own, conf, sentinel, child: undefined }
    processes.push(entry)
    return entry
  }
  const dataLines = [
    'save ""',
    'appendonly no',
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    ...(options.config ?? []),
  ]
  const [primaryPort, replicaPort, ...sentinelPorts] = ports as [number, number, ...number[]]
  const data = [
    add('node-0', primaryPort, false, dataLines),
    add('node-1', replicaPort, false, [...dataLines, `replicaof ${HOST} ${primaryPort}`]),
  ]
  const sentinels = sentinelPorts.map((port, i) =>
    add(`sentinel-${i}`, port, true, [
      `sentinel monitor ${masterName} ${HOST} ${primaryPort} ${quorum}`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
      `sentinel parallel-syncs ${masterName} 1`,
    ]),
  )

  const launch = async (p: Process, deadline: number): Promise<void> => {
    if (isRunning(p.child)) return
    const log = openSync(join(dir, `${p.name}.log`), 'a')
    try {
      p.child = spawn(binary, p.sentinel ? [p.conf, '--sentinel'] : [p.conf], {
        stdio: ['ignore', log, log],
      })
    } finally {
      closeSync(log)
    }
    const child = p.child
    await until(`${p.name} did not listen on ${p.port}`, deadline, async () => {
      if (!isRunning(child)) {
        throw new Error(`${p.name} exited (code ${child.exitCode}, signal ${child.signalCode}), see ${dir}`)
      }
      return (await ask(p.port, (c) => c.ping())) === 'PONG' ? undefined : 'no PONG'
    })
  }
  const kill = async (p: Process): Promise<void> => {
    const child = p.child
    if (child === undefined || !isRunning(child)) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    // A frozen (SIGSTOP) process still dies on SIGKILL; SIGCONT first keeps that explicit.
    child.kill('SIGCONT')
    child.kill('SIGKILL')
    await exited
  }

  const sentinelCall = (p: Process, ...args: string[]) => ask(p.port, (c) => c.call('SENTINEL', ...args))

  /** The primary each Sentinel reports (undefined for one that did not answer). */
  const reported = () =>
    Promise.all(
      sentinels.map((s) =>
        sentinelCall(s, 'get-master-addr-by-name', masterName).then(
          (reply) => {
            const [host, port] = reply as [string, string]
            return { host, port: Number(port) }
          },
          () => undefined,
        ),
      ),
    )
  /** The address a majority of the Sentinels report, if any. */
  const majority = async (): Promise<RedisSentinelAddress | undefined> => {
    const seen = await reported()
    for (const address of seen) {
      if (address === undefined) continue
      const agreeing = seen.filter((a) => a?.port === address.port && a.host === address.host).length
      if (agreeing >= 2) return Object.freeze({ host: address.host, port: address.port })
    }
    return undefined
  }

  /** Why the topology is not settled around `master` with `replicas` healthy replicas, if it is not. */
  const unsettled = async (master: number, replicas: number): Promise<string | undefined> => {
    for (const s of sentinels) {
      const m = record(await sentinelCall(s, 'MASTER', masterName))
      if (Number(m.port) !== master) return `${s.name} monitors port ${m.port}, not ${master}`
      if (m.flags !== 'master') return `${s.name} flags the primary ${m.flags}`
      if (Number(m['num-other-sentinels']) !== sentinels.length - 1) {
        return `${s.name} knows ${m['num-other-sentinels']} other Sentinels`
      }
      const list = ((await sentinelCall(s, 'REPLICAS', masterName)) as unknown[]).map(record)
      const healthy = list.filter((r) => r.flags === 'slave' && r['master-link-status'] === 'ok')
      if (healthy.length !== replicas) {
        return `${s.name} sees ${healthy.length} of ${replicas} replicas healthy (${list.map((r) => `${r.port}:${r.flags}`).join(', ')})`
      }
      const ok = await sentinelCall(s, 'CKQUORUM', masterName).catch((error: Error) => error.message)
      if (typeof ok !== 'string' || !ok.startsWith('OK')) return `${s.name} CKQUORUM: ${String(ok)}`
    }
    return undefined
  }

  let link: { proxy: TcpProxy; master: number } | undefined
  const closeLink = async (): Promise<void> => {
    const current = link
    link = undefined
    if (current === undefined) return
    await current.proxy.close()
    await Promise.all(
      sentinels.map((s) =>
        sentinelCall(s, 'SET', masterName, 'failover-timeout', String(failoverTimeoutMs)).catch(
          () => undefined,
        ),
      ),
    )
  }

  let disposed = false
  const dispose = async () => {
    if (disposed) return
    disposed = true
    process.removeListener('exit', killOnExit)
    await link?.proxy.close()
    link = undefined
    await Promise.all(processes.map(kill))
    rmSync(dir, { recursive: true, force: true })
  }

  const dataNode = (address: RedisSentinelAddress): Process => {
    const node = data.find((p) => p.port === address.port)
    if (node === undefined) throw new Error(`port ${address.port} is not a data node of this topology`)
    return node
  }
  const requireMaster = async (): Promise<RedisSentinelAddress> => {
    const master = await majority()
    if (master === undefined)
      throw new Error('Redis Sentinel topology: the Sentinels do not agree on a primary')
    return master
  }

  try {
    await Promise.all(data.map((p) => launch(p, startDeadline)))
    await until('the replica did not sync', startDeadline, async () => {
      const info = await ask(replicaPort, (c) => c.info('replication'))
      return field(info, 'master_link_status') === 'up' ? undefined : 'master_link_status not up'
    })
    await Promise.all(sentinels.map((p) => launch(p, startDeadline)))
    await until('the Sentinels did not settle', startDeadline, () => unsettled(primaryPort, 1))
  } catch (error) {
    await dispose()
    throw error
  }

  const freeze = (p: Process) => Object.freeze({ host: HOST, port: p.port })
  return Object.freeze({
    masterName,
    sentinels: Object.freeze(sentinels.map(freeze)),
    nodes: Object.freeze([freeze(data[0] as Process), freeze(data[1] as Process)] as const),
    dir,
    master: requireMaster,
    async replicaLink() {
      const master = await requireMaster()
      if (link?.master === master.port) return link.proxy
      await closeLink()
      const replica = data.find((p) => p.port !== master.port && isRunning(p.child))
      if (replica === undefined) throw new Error('Redis Sentinel topology: no replica is running')
      const proxy = await startTcpProxy({ targetPort: master.port })
      link = { proxy, master: master.port }
      await Promise.all(
        sentinels.map((s) =>
          sentinelCall(s, 'SET', masterName, 'failover-timeout', String(PROXIED_FAILOVER_TIMEOUT_MS)),
        ),
      )
      await ask(replica.port, (c) => c.call('REPLICAOF', HOST, String(proxy.port)))
      await until('the replica did not resync through the proxy', Date.now() + 30_000, async () => {
        const info = await ask(replica.port, (c) => c.info('replication'))
        if (field(info, 'master_port') !== String(proxy.port))
          return `master_port ${field(info, 'master_port')}`
        return field(info, 'master_link_status') === 'up' ? undefined : 'master_link_status not up'
      })
      return proxy
    },
    async killPrimary() {
      const master = await requireMaster()
      await kill(dataNode(master))
      return master
    },
    async waitForPromotion(previous: RedisSentinelAddress, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs
      let promoted: RedisSentinelAddress | undefined
      await until('no replica was promoted', deadline, async () => {
        const master = await majority()
        if (master === undefined || master.port === previous.port)
          return 'the Sentinels report the old primary'
        const role = field(await ask(master.port, (c) => c.info('replication')), 'role')
        if (role !== 'master') return `port ${master.port} answers as ${role}`
        for (const s of sentinels) {
          const m = record(await sentinelCall(s, 'MASTER', masterName))
          if (Number(m.port) !== master.port || m.flags !== 'master') {
            return `${s.name} is at port ${m.port} with flags ${m.flags}`
          }
        }
        promoted = master
        return undefined
      })
      await closeLink()
      return promoted as RedisSentinelAddress
    },
    async restart(address: RedisSentinelAddress, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs
      const node = dataNode(address)
      if (isRunning(node.child)) throw new Error(`port ${address.port} is running: kill it first`)
      const master = await requireMaster()
      if (master.port === address.port) {
        throw new Error(
          `port ${address.port} is still the primary for the Sentinels: wait for the promotion first`,
        )
      }
      await launch(node, deadline)
      await until(`port ${address.port} did not become a replica of ${master.port}`, deadline, async () => {
        const info = await ask(address.port, (c) => c.info('replication'))
        if (field(info, 'role') !== 'slave') return `role ${field(info, 'role')}`
        if (field(info, 'master_port') !== String(master.port))
          return `master_port ${field(info, 'master_port')}`
        return field(info, 'master_link_status') === 'up' ? undefined : 'master_link_status not up'
      })
      await until('the Sentinels did not settle after the restart', deadline, () => unsettled(master.port, 1))
    },
    dispose,
  })
}
