// The Redis Sentinel topology of the cluster mode: redis-1 (the first primary) and redis-2 (its
// replica) on 16379-16380, and sentinel-1..3 on 26379-26381 (`redis-server --sentinel`) watching
// them under the name "ayala" with quorum 2. Loopback, no persistence (`save ""`, no AOF),
// diskless replication with no delay, `maxmemory 256mb` with `noeviction` (an evicted figure or
// tag version would be a silent wrong answer). Each process runs in .services/<node>/ (its config,
// log and cwd); the pid check is the pid file, the redis-server binary and that cwd.
//
// Roles move: after a failover redis-2 may be the primary. So a data node is (re)started as a
// replica of whatever primary the Sentinels name, never as an empty primary that the replica would
// then sync FROM (which wipes it): a node the Sentinels still name primary is started only once
// they promoted the other node (bounded wait), or as the primary when the other node is not
// running either. When no node of the topology runs, every config is written afresh (nothing is
// kept: no persistence). A Sentinel restarted next to the others keeps its own rewritten config
// (its id, epoch, the replica and Sentinels it knows).
//
// Readiness, per node: a data node answers PING and is linked (a replica with its link up, a
// primary with an online replica), and every running Sentinel lists it in that role, healthy; a
// Sentinel knows the primary (flags `master`), the two other Sentinels and a healthy replica, and
// `SENTINEL CKQUORUM` says a failover could be authorized.

import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { HarnessError, logFile, pidFile, serviceDir, sleep, which } from './common.mjs'
import { redisCommand } from './health.mjs'
import { aptInstall } from './machine.mjs'
import { tcpExchange } from './tcp.mjs'

export const REDIS_CLUSTER_PORT = 16379
export const SENTINEL_PORT = 26379
export const SENTINEL_NAME = 'ayala'
const HOST = '127.0.0.1'
const QUORUM = 2
const DOWN_AFTER_MS = 2000
const FAILOVER_TIMEOUT_MS = 10_000
/** How long a restart of the node the Sentinels still name primary waits for them to promote the other. */
const PROMOTION_WAIT_MS = 60_000

/** redis-1, redis-2, sentinel-1..3 (kind `redis`; role `data` or `sentinel`). */
export const REDIS_NODES = [
  ...[0, 1].map((i) => ({
    name: `redis-${i + 1}`,
    kind: 'redis',
    role: 'data',
    id: i + 1,
    port: REDIS_CLUSTER_PORT + i,
    url: `redis://${HOST}:${REDIS_CLUSTER_PORT + i}`,
  })),
  ...[0, 1, 2].map((i) => ({
    name: `sentinel-${i + 1}`,
    kind: 'redis',
    role: 'sentinel',
    id: i + 1,
    port: SENTINEL_PORT + i,
    url: `redis://${HOST}:${SENTINEL_PORT + i}`,
  })),
]
const DATA = REDIS_NODES.filter((n) => n.role === 'data')
const SENTINELS = REDIS_NODES.filter((n) => n.role === 'sentinel')
const nodeAt = (port) => REDIS_NODES.find((n) => n.port === port)

// ---------------------------------------------------------------------------------------------
// RESP: pipelined commands over one bounded exchange

/** One RESP2 reply at `i`: [value, next] (an error reply is `{ error }`), or null when incomplete. */
function parse(buf, i) {
  if (i >= buf.length) return null
  const eol = buf.indexOf('\r\n', i)
  if (eol < 0) return null
  const type = String.fromCharCode(buf[i])
  const line = buf.toString('latin1', i + 1, eol)
  if (type === '+') return [line, eol + 2]
  if (type === '-') return [{ error: line }, eol + 2]
  if (type === ':') return [Number(line), eol + 2]
  const n = Number(line)
  if (type === '$') {
    if (n < 0) return [null, eol + 2]
    if (buf.length < eol + 2 + n + 2) return null
    return [buf.toString('utf8', eol + 2, eol + 2 + n), eol + 4 + n]
  }
  if (type === '*') {
    if (n < 0) return [null, eol + 2]
    const list = []
    let j = eol + 2
    for (let k = 0; k < n; k++) {
      const r = parse(buf, j)
      if (r === null) return null
      list.push(r[0])
      j = r[1]
    }
    return [list, j]
  }
  return [{ error: `unexpected reply type ${JSON.stringify(type)}` }, buf.length]
}

/** Send `commands` (arrays of words) to 127.0.0.1:`port`: `{ ok, replies }` or `{ ok: false, detail }`. */
export function redisCall(port, ...commands) {
  return tcpExchange({
    host: HOST,
    port,
    timeoutMs: 2000,
    onConnect: (s) => s.write(Buffer.concat(commands.map((c) => redisCommand(...c)))),
    onData: (buf) => {
      const replies = []
      let i = 0
      while (replies.length < commands.length) {
        const r = parse(buf, i)
        if (r === null) return null
        replies.push(r[0])
        i = r[1]
      }
      return { ok: true, replies }
    },
  })
}

const field = (info, name) => new RegExp(`^${name}:(.*)$`, 'm').exec(info ?? '')?.[1]?.trim()
/** A flat [key, value, ...] reply (SENTINEL MASTER, REPLICAS) as an object. */
function record(flat) {
  const out = {}
  if (Array.isArray(flat)) for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1]
  return out
}
const named = (port) => `${nodeAt(Number(port))?.name ?? '?'} (${HOST}:${port})`

// ---------------------------------------------------------------------------------------------
// processes

function binary() {
  const bin = which('redis-server') ?? (aptInstall('redis-server') ? which('redis-server') : null)
  if (!bin) throw new HarnessError('redis-server is not installed (apt-get install -y redis-server)')
  return bin
}

/** Is `pid` the redis-server process of `node` (the binary, run in the node's folder)? */
export function ownsRedisPid(node, pid) {
  try {
    const exe = fs.realpathSync(`/proc/${pid}/exe`)
    const bin = which('redis-server')
    return (
      bin !== null &&
      exe === fs.realpathSync(bin) &&
      fs.readlinkSync(`/proc/${pid}/cwd`) === serviceDir(node.name)
    )
  } catch {
    // no such process, or not ours to read: not this node
    return false
  }
}

const confFile = (node) =>
  path.join(serviceDir(node.name), node.role === 'data' ? 'redis.conf' : 'sentinel.conf')

function writeConf(node, lines) {
  fs.mkdirSync(serviceDir(node.name), { recursive: true })
  const base = [
    `port ${node.port}`,
    `bind ${HOST}`,
    `dir ${serviceDir(node.name)}`,
    'logfile ""',
    'daemonize no',
  ]
  fs.writeFileSync(confFile(node), `${[...base, ...lines].join('\n')}\n`)
}

function dataConf(node, primary) {
  writeConf(node, [
    'save ""',
    'appendonly no',
    'repl-diskless-sync yes',
    'repl-diskless-sync-delay 0',
    'maxmemory 256mb',
    'maxmemory-policy noeviction',
    ...(primary && primary.port !== node.port ? [`replicaof ${HOST} ${primary.port}`] : []),
  ])
}

function sentinelConf(node, primary) {
  writeConf(node, [
    `sentinel monitor ${SENTINEL_NAME} ${HOST} ${primary.port} ${QUORUM}`,
    `sentinel down-after-milliseconds ${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
    `sentinel failover-timeout ${SENTINEL_NAME} ${FAILOVER_TIMEOUT_MS}`,
    `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
  ])
}

/** The primary a majority of the Sentinels name (a REDIS_NODES entry), or null. */
export async function sentinelPrimary() {
  const answers = await Promise.all(
    SENTINELS.map(async (s) => {
      const r = await redisCall(s.port, ['SENTINEL', 'get-master-addr-by-name', SENTINEL_NAME])
      return r.ok && Array.isArray(r.replies[0]) ? Number(r.replies[0][1]) : null
    }),
  )
  for (const port of answers) {
    if (port !== null && answers.filter((p) => p === port).length >= QUORUM) return nodeAt(port) ?? null
  }
  return null
}

/**
 * Writes the configs of the Redis nodes about to start (see the module note). `running(name)`:
 * whether that node's process runs now.
 */
export async function prepareRedisNodes(nodes, running) {
  if (nodes.length === 0) return
  const [first] = DATA
  if (!REDIS_NODES.some((n) => running(n.name))) {
    for (const node of nodes) (node.role === 'data' ? dataConf : sentinelConf)(node, first)
    return
  }
  let primary = await sentinelPrimary()
  for (const node of nodes.filter((n) => n.role === 'data')) {
    const other = DATA.find((n) => n !== node)
    if (primary === null) {
      // No Sentinel majority answers: follow the other node if it is a primary now.
      const r = running(other.name) ? await redisCall(other.port, ['INFO', 'replication']) : { ok: false }
      primary = r.ok && field(r.replies[0], 'role') === 'master' ? other : node
    }
    if (primary === node && running(other.name)) {
      // Started empty as the primary, it would wipe the replica: wait for the promotion.
      const deadline = Date.now() + PROMOTION_WAIT_MS
      while (Date.now() < deadline && (await sentinelPrimary()) === node) await sleep(250)
      primary = await sentinelPrimary()
      if (primary === node || primary === null)
        throw new HarnessError(
          `${node.name}: the Sentinels still name it the primary ${PROMOTION_WAIT_MS / 1000} s after it stopped; started empty it would wipe ${other.name} (no persistence)`,
          { service: node.name },
        )
    }
    dataConf(node, primary)
  }
  for (const node of nodes.filter((n) => n.role === 'sentinel')) {
    if (!fs.existsSync(confFile(node))) sentinelConf(node, primary ?? first)
  }
}

/** Spawns a Redis node detached (its own session), stdio to its log; returns its pid. */
export function spawnRedisNode(node) {
  const out = fs.openSync(logFile(node.name), 'a')
  const args = node.role === 'data' ? [confFile(node)] : [confFile(node), '--sentinel']
  const child = spawn(binary(), args, {
    cwd: serviceDir(node.name),
    detached: true,
    stdio: ['ignore', out, out],
  })
  fs.closeSync(out)
  child.unref()
  fs.writeFileSync(pidFile(node.name), `${child.pid}\n`)
  return child.pid
}

// ---------------------------------------------------------------------------------------------
// readiness

/** What the Sentinel at `port` sees: { ok, complete (settled), master, healthy (replica ports), detail }. */
async function sentinelView(port) {
  const r = await redisCall(
    port,
    ['SENTINEL', 'MASTER', SENTINEL_NAME],
    ['SENTINEL', 'REPLICAS', SENTINEL_NAME],
    ['SENTINEL', 'CKQUORUM', SENTINEL_NAME],
  )
  if (!r.ok) return { ok: false, detail: r.detail }
  const [m, replicas, quorum] = r.replies
  if (m?.error) return { ok: true, complete: false, detail: m.error }
  const master = record(m)
  const healthy = (Array.isArray(replicas) ? replicas : [])
    .map(record)
    .filter((x) => x.flags === 'slave' && x['master-link-status'] === 'ok')
  const others = Number(master['num-other-sentinels'])
  const summary = `primary ${named(master.port)} ${master.flags}, ${healthy.length} healthy replica(s), ${others + 1} Sentinels`
  const quorumOk = typeof quorum === 'string' && quorum.startsWith('OK')
  const complete =
    master.flags === 'master' && healthy.length >= 1 && others === SENTINELS.length - 1 && quorumOk
  return {
    ok: true,
    complete,
    master: Number(master.port),
    healthy: healthy.map((x) => Number(x.port)),
    detail: `${summary}${quorumOk ? ', quorum ok' : `, ${quorum?.error ?? quorum}`}`,
  }
}

/** { ok, complete, detail } of a Redis node (see the module note). */
export async function checkRedisNode(node, running) {
  if (node.role === 'sentinel') {
    const v = await sentinelView(node.port)
    return v
  }
  const r = await redisCall(node.port, ['PING'], ['INFO', 'replication'])
  if (!r.ok) return { ok: false, complete: false, detail: r.detail }
  const [pong, info] = r.replies
  if (pong !== 'PONG') return { ok: false, complete: false, detail: String(pong?.error ?? pong) }
  const role = field(info, 'role')
  let linked
  let detail
  if (role === 'master') {
    const online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length
    linked = online >= 1
    detail = `primary, ${online} replica(s) online`
  } else {
    linked = field(info, 'master_link_status') === 'up'
    detail = `replica of ${named(field(info, 'master_port'))}, link ${field(info, 'master_link_status')}`
  }
  // Every running Sentinel lists it in that role, healthy.
  const views = await Promise.all(SENTINELS.filter((s) => running(s.name)).map((s) => sentinelView(s.port)))
  const seen = views.every((v) => {
    if (!v.ok) return false
    return role === 'master' ? v.master === node.port : (v.healthy ?? []).includes(node.port)
  })
  if (!seen) detail += ', not yet listed so by every Sentinel'
  return { ok: true, complete: linked && seen, detail }
}

/** The environment entries of the topology while one of its nodes runs. */
export function redisEnv(running) {
  const env = {}
  if (SENTINELS.some((n) => running(n.name))) {
    env.REDIS_CLUSTER_SENTINELS = SENTINELS.map((n) => `${HOST}:${n.port}`).join(',')
    env.REDIS_CLUSTER_SENTINEL_NAME = SENTINEL_NAME
  }
  if (DATA.some((n) => running(n.name)))
    env.REDIS_CLUSTER_NODES = DATA.map((n) => `${HOST}:${n.port}`).join(',')
  return env
}
