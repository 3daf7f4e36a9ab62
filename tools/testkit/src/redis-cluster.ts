/**
 * A private Redis Cluster on loopback: six `redis-server` processes (three masters, three
 * replicas by default), for tests of hash slots, hash tags, MOVED/ASK redirections and
 * multi-key commands without touching the shared server.
 *
 * How it is built:
 * 1. Two free ports per node are reserved together (all sockets held open at once, so no two
 *    nodes get the same port): the client port and the cluster bus port. The bus port is passed
 *    with `--cluster-port` (Redis 7.0+) instead of relying on the default `port + 10000`, which
 *    overflows 65535 for ports from the OS's ephemeral range.
 * 2. Each node runs in its own temporary folder (`--dir`) with its own `cluster-config-file`, no
 *    persistence, and `repl-diskless-sync-delay 0` so replicas sync at once instead of after the
 *    default 5 s.
 * 3. `redis-cli --cluster create ... --cluster-replicas N --cluster-yes` assigns the 16384 slots
 *    and the replicas.
 * 4. The helper polls every node until `CLUSTER INFO` says `cluster_state:ok` with all slots
 *    assigned and every node known, its `CLUSTER NODES` lists every replica as a replica (roles
 *    spread by gossip, so a node may see a fresh replica as a master for a while), and every
 *    replica reports `master_link_status:up`: a test starts on a settled cluster (no transient
 *    CLUSTERDOWN or MOVED storms, the same topology seen from every node).
 *
 * `dispose()` kills every process (SIGKILL) and removes the folders; a process-exit hook does the
 * killing too if a test run dies before `dispose()`.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'

const execFileAsync = promisify(execFile)

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Number of master nodes (each owns a share of the 16384 slots); at least 3. @default 3 */
  masters?: number | undefined
  /** Replicas per master. @default 1 */
  replicasPerMaster?: number | undefined
  /**
   * `cluster-node-timeout` in milliseconds: how long a node may be unreachable before it is
   * considered failing (and a replica promoted). Redis's own default: on a loaded 2-core CI
   * machine a node starved for a few seconds was failed over mid-test with 5 s. Lower it in a test
   * that exercises failover. @default 15000
   */
  nodeTimeoutMs?: number | undefined
  /** How long to wait for the processes to listen and the cluster to settle, in milliseconds. @default 60000 */
  startTimeoutMs?: number | undefined
  /** Extra `redis-server` arguments given to every node. */
  args?: string[] | undefined
}

/** Address of one cluster node. */
export interface RedisClusterNode {
  readonly host: string
  readonly port: number
}

/** A running private Redis Cluster. */
export interface RedisCluster {
  /** Every node (masters and replicas), in start order; pass them to ioredis's `new Cluster(nodes)`. */
  readonly nodes: readonly RedisClusterNode[]
  /** `redis://127.0.0.1:<port>` of every node, in the same order as `nodes`. */
  readonly urls: readonly string[]
  /** Kill every node (SIGKILL) and remove their folders. Safe to call twice. */
  dispose(): Promise<void>
}

interface RunningNode {
  readonly port: number
  readonly busPort: number
  readonly dir: string
  readonly child: ChildProcess
}

const HOST = '127.0.0.1'

function binary(name: 'redis-server' | 'redis-cli'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' })
  const path = found.stdout.trim()
  if (!path) {
    throw new Error(`${name} is not installed: run scripts/setup.sh (it installs redis from Debian)`)
  }
  return path
}

/** A killed child has a `signalCode` and no `exitCode`; an exited one the other way round. */
function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      resolve(typeof address === 'object' && address ? address.port : 0)
    })
  })
}

/**
 * `count` distinct free ports: all sockets are open at the same time, so the OS cannot hand the
 * same port out twice, then all are closed before the ports are used.
 */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer())
  try {
    return await Promise.all(servers.map(listen))
  } finally {
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (server.listening) server.close(() => resolve())
            else resolve()
          }),
      ),
    )
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves once the node answers PING; rejects if its process exits first or at the deadline. */
async function waitUntilListening(node: RunningNode, deadline: number): Promise<void> {
  for (;;) {
    if (!isRunning(node.child)) {
      throw new Error(
        `redis-server on port ${node.port} exited during start-up (code ${node.child.exitCode}, signal ${node.child.signalCode})`,
      )
    }
    const client = new Redis({
      host: HOST,
      port: node.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    })
    // ioredis emits 'error' for refused connections; the attempt's rejection below is what counts.
    client.on('error', () => undefined)
    try {
      await client.connect()
      if ((await client.ping()) === 'PONG') return
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`redis-server did not listen on port ${node.port} in time`, { cause: error })
      }
    } finally {
      client.disconnect()
    }
    await sleep(25)
  }
}

function field(info: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:(.*)$`, 'm').exec(info)
  return match?.[1]?.trim()
}

/** Why the cluster is not settled yet as seen from one node, or `undefined` when it is. */
async function unsettledReason(
  client: Redis,
  nodeCount: number,
  replicaCount: number,
): Promise<string | undefined> {
  const info = (await client.call('CLUSTER', 'INFO')) as string
  if (field(info, 'cluster_state') !== 'ok') return `cluster_state:${field(info, 'cluster_state')}`
  if (field(info, 'cluster_slots_ok') !== '16384')
    return `cluster_slots_ok:${field(info, 'cluster_slots_ok')}`
  if (field(info, 'cluster_known_nodes') !== String(nodeCount)) {
    return `cluster_known_nodes:${field(info, 'cluster_known_nodes')}`
  }
  // Roles spread by gossip: a node may still list a fresh replica as a master for a while.
  const nodes = ((await client.call('CLUSTER', 'NODES')) as string).trim().split('\n')
  const replicasSeen = nodes.filter((line) => (line.split(' ')[2] ?? '').includes('slave')).length
  if (replicasSeen !== replicaCount) return `sees ${replicasSeen} of ${replicaCount} replicas`
  const replication = await client.info('replication')
  if (field(replication, 'role') === 'slave' && field(replication, 'master_link_status') !== 'up') {
    return `replica master_link_status:${field(replication, 'master_link_status')}`
  }
  return undefined
}

async function waitUntilSettled(ports: number[], replicaCount: number, deadline: number): Promise<void> {
  const clients = ports.map(
    (port) => new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 1 }),
  )
  for (const client of clients) client.on('error', () => undefined)
  try {
    let last = 'not polled yet'
    for (;;) {
      const reasons = await Promise.all(
        clients.map((client) => unsettledReason(client, ports.length, replicaCount)),
      )
      const index = reasons.findIndex((reason) => reason !== undefined)
      if (index === -1) return
      last = `port ${ports[index]}: ${reasons[index]}`
      if (Date.now() > deadline) throw new Error(`Redis Cluster did not settle in time (${last})`)
      await sleep(50)
    }
  } finally {
    for (const client of clients) client.disconnect()
  }
}

function kill(node: RunningNode): Promise<void> {
  if (!isRunning(node.child)) return Promise.resolve()
  const exited = new Promise<void>((resolve) => node.child.once('exit', () => resolve()))
  // A frozen (SIGSTOP) node still dies on SIGKILL; SIGCONT first keeps that explicit.
  node.child.kill('SIGCONT')
  node.child.kill('SIGKILL')
  return exited
}

/**
 * Start a private Redis Cluster (by default 3 masters + 3 replicas) on free loopback ports and
 * wait until it is settled. Call `dispose()` when done (e.g. in `afterAll`).
 *
 * @example
 * ```ts
 * const cluster = await startRedisCluster()
 * const client = new Cluster(cluster.nodes)
 * // ...
 * await client.quit()
 * await cluster.dispose()
 * ```
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  const replicasPerMaster = options.replicasPerMaster ?? 1
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(
      `startRedisCluster: masters must be an integer >= 3 (Redis Cluster needs 3), got ${masters}`,
    )
  }
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new Error(`startRedisCluster: replicasPerMaster must be an integer >= 0, got ${replicasPerMaster}`)
  }
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 15_000
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000)
  const server = binary('redis-server')
  const cli = binary('redis-cli')
  const count = masters * (1 + replicasPerMaster)

  const running: RunningNode[] = []
  const killOnExit = () => {
    for (const node of running) if (isRunning(node.child)) node.child.kill('SIGKILL')
  }
  process.once('exit', killOnExit)

  let disposed = false
  const dispose = async () => {
    if (disposed) return
    disposed = true
    process.removeListener('exit', killOnExit)
    await Promise.all(running.map(kill))
    for (const node of running) rmSync(node.dir, { recursive: true, force: true })
  }

  try {
    const ports = await freePorts(count * 2)
    for (let i = 0; i < count; i++) {
      const port = ports[i * 2] as number
      const busPort = ports[i * 2 + 1] as number
      const dir = mkdtempSync(join(tmpdir(), 'ayala-redis-cluster-'))
      const child = spawn(
        server,
        [
          '--port',
          String(port),
          '--bind',
          HOST,
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--repl-diskless-sync-delay',
          '0',
          ...(options.args ?? []),
        ],
        { stdio: 'ignore' },
      )
      running.push({ port, busPort, dir, child })
    }
    await Promise.all(running.map((node) => waitUntilListening(node, deadline)))

    const addresses = running.map((node) => `${HOST}:${node.port}`)
    try {
      await execFileAsync(
        cli,
        [
          '--cluster',
          'create',
          ...addresses,
          '--cluster-replicas',
          String(replicasPerMaster),
          '--cluster-yes',
        ],
        { timeout: Math.max(1_000, deadline - Date.now()), encoding: 'utf8' },
      )
    } catch (error) {
      const output = error as { stdout?: string; stderr?: string }
      throw new Error(
        `redis-cli --cluster create failed: ${output.stderr || output.stdout || String(error)}`,
        { cause: error },
      )
    }
    await waitUntilSettled(
      running.map((node) => node.port),
      masters * replicasPerMaster,
      deadline,
    )
  } catch (error) {
    await dispose()
    throw error
  }

  const nodes = running.map((node) => Object.freeze({ host: HOST, port: node.port }))
  return Object.freeze({
    nodes: Object.freeze(nodes),
    urls: Object.freeze(nodes.map((node) => `redis://${node.host}:${node.port}`)),
    dispose,
  })
}
