// The cluster commands: `up --cluster [node...]` (start the missing nodes of the Kafka and
// OpenSearch clusters and of the Redis Sentinel topology, wait until each answers and its cluster
// has all its members, write the addresses into .services/env), `down`, `kill` (SIGKILL, for
// failover tests), `restart` (down, then up), `status`, `clean`. Nodes are named kafka-1..3,
// opensearch-1..3, redis-1..2 and sentinel-1..3 (see cluster.mjs); `kafka`, `opensearch` or
// `redis` stands for the nodes of that cluster.

import fs from 'node:fs'
import path from 'node:path'
import { CLUSTER_NODES, clusterNode, clusterPid, startClusterNode } from './cluster.mjs'
import { checkRedisNode, prepareRedisNodes } from './cluster-redis.mjs'
import { statsFile, stopPid, writeEnvFiles } from './commands.mjs'
import {
  HarnessError,
  HEALTH_TIMEOUT_MS,
  LOG_TAIL_LINES,
  log,
  logFile,
  pidAlive,
  pidFile,
  ROOT,
  readJson,
  rssMb,
  STATE_DIR,
  serviceDir,
  sleep,
  tail,
  warn,
} from './common.mjs'
import { checkSearch } from './health.mjs'
import { build } from './jdk-maven.mjs'
import { checkKafka } from './kafka-wire.mjs'
import { portInUse } from './tcp.mjs'

const clusterSize = (kind) => CLUSTER_NODES.filter((n) => n.kind === kind).length
const running = (name) => clusterPid(name) !== null

/**
 * Does this node answer, and does its cluster have all its members? { ok, complete, detail }
 * (Kafka: every broker in the metadata; OpenSearch: every node in the cluster; Redis: see
 * cluster-redis.mjs).
 */
export async function checkClusterNode(node) {
  if (node.kind === 'redis') return checkRedisNode(node, running)
  if (node.kind === 'kafka') {
    const r = await checkKafka(node.url)
    const members = Number(/^(\d+) broker/.exec(r.detail ?? '')?.[1] ?? 0)
    return { ...r, complete: r.ok && members >= clusterSize('kafka') }
  }
  const r = await checkSearch(node.url, { requireElasticHeader: false })
  if (!r.ok) return { ...r, complete: false }
  try {
    const res = await fetch(new URL('/_cluster/health', node.url), { signal: AbortSignal.timeout(3000) })
    const body = await res.json()
    return {
      ok: true,
      complete: (body.number_of_nodes ?? 0) >= clusterSize('opensearch'),
      detail: `${r.detail}, ${body.number_of_nodes} node(s)`,
    }
  } catch (e) {
    return { ok: false, complete: false, detail: e.cause?.code ?? e.name }
  }
}

async function waitClusterNode(node, pid, deadline) {
  let last = { ok: false, detail: 'not checked yet' }
  while (Date.now() < deadline) {
    last = await checkClusterNode(node)
    if (last.ok && last.complete) return last
    if (!pidAlive(pid))
      throw new HarnessError(`${node.name} exited during start-up (last check: ${last.detail})`, {
        service: node.name,
        logFile: logFile(node.name),
      })
    await sleep(500)
  }
  throw new HarnessError(
    `${node.name} not healthy with all members after ${HEALTH_TIMEOUT_MS / 1000} s (last check: ${last.detail})`,
    { service: node.name, logFile: logFile(node.name) },
  )
}

export async function clusterUp(names) {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS
  const stats = readJson(statsFile(), {})
  const nodes = names.map(clusterNode)
  const toStart = []
  const waiting = []
  for (const node of nodes) {
    const pid = clusterPid(node.name)
    if (pid) {
      waiting.push({ node, pid, t0: Date.now(), waitOnly: true })
      continue
    }
    if (await portInUse(node.port))
      throw new HarnessError(
        `${node.name}: port ${node.port} is taken by a process this harness did not start`,
      )
    toStart.push(node)
  }
  const kinds = [...new Set(toStart.map((n) => n.kind))].filter((k) => k !== 'redis')
  const buildStat = kinds.length > 0 ? await build(kinds) : null
  // The Redis nodes' configs first: a data node restarted next to the others follows the primary
  // the Sentinels name (waiting for a promotion if they still name it).
  await prepareRedisNodes(
    toStart.filter((n) => n.kind === 'redis'),
    running,
  )
  // Kafka's three storage formats run in parallel (one short JVM each), then every node boots.
  await Promise.all(
    toStart.map(async (node) => {
      const t0 = Date.now()
      const pid = await startClusterNode(node)
      log(`[${node.name}] started pid ${pid}, log ${path.relative(ROOT, logFile(node.name))}`)
      waiting.push({ node, pid, t0, waitOnly: false })
    }),
  )
  const outcomes = await Promise.allSettled(
    waiting.map(async (w) => {
      const r = await waitClusterNode(w.node, w.pid, deadline)
      if (w.waitOnly) return
      const start_s = Math.round((Date.now() - w.t0) / 100) / 10
      stats[w.node.name] = {
        start_s,
        rss_mb: rssMb(w.pid),
        ...(w.node.kind === 'redis' ? {} : (buildStat ?? {})),
        at: new Date().toISOString(),
      }
      log(`[${w.node.name}] healthy after ${start_s} s (${r.detail}), RSS ${stats[w.node.name].rss_mb} MB`)
    }),
  )
  const failed = outcomes.map((o, i) => [o, waiting[i]]).filter(([o]) => o.status === 'rejected')
  for (const [o, w] of failed) {
    warn(`\n[${w.node.name}] FAILED: ${o.reason.message}`)
    warn(`----- last ${LOG_TAIL_LINES} lines of ${path.relative(ROOT, logFile(w.node.name))} -----`)
    warn(tail(logFile(w.node.name)))
  }
  for (const w of waiting) {
    if (!w.waitOnly && stats[w.node.name])
      stats[w.node.name].rss_mb = rssMb(w.pid) ?? stats[w.node.name].rss_mb
  }
  fs.mkdirSync(STATE_DIR, { recursive: true })
  fs.writeFileSync(statsFile(), `${JSON.stringify(stats, null, 2)}\n`)
  const lines = writeEnvFiles()
  if (failed.length > 0) {
    process.exitCode = 1
    return
  }
  log('')
  for (const node of nodes) log(`  ${node.name.padEnd(14)} ${node.url}`)
  log(`\n# written to ${path.relative(ROOT, path.join(STATE_DIR, 'env'))}; load with: . .services/env`)
  for (const l of lines.filter((l) => l.includes('_CLUSTER_'))) log(l)
}

export async function clusterDown(names) {
  // All at once: a KRaft node stopped after the other two cannot finish its controlled shutdown
  // without a quorum, and waits out the grace period before SIGKILL.
  await Promise.all(
    names.map(async (name) => {
      const pid = clusterPid(name)
      if (!pid) {
        fs.rmSync(pidFile(name), { force: true })
        if (fs.existsSync(serviceDir(name))) log(`  ${name.padEnd(14)} not running`)
        return
      }
      await stopPid(name, pid)
      fs.rmSync(pidFile(name), { force: true })
      log(`  ${name.padEnd(14)} stopped (pid ${pid})`)
    }),
  )
  writeEnvFiles()
}

/** SIGKILL (no shutdown hook, no flush): what a failover test wants. Waits until the pid is gone. */
export async function clusterKill(names) {
  for (const name of names) {
    const pid = clusterPid(name)
    if (!pid) {
      log(`  ${name.padEnd(14)} not running`)
      continue
    }
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL')
      } catch {
        // ESRCH: already gone
      }
    }
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline && pidAlive(pid)) await sleep(50)
    if (pidAlive(pid)) throw new HarnessError(`${name} (pid ${pid}) survived SIGKILL`, { service: name })
    fs.rmSync(pidFile(name), { force: true })
    log(`  ${name.padEnd(14)} killed (pid ${pid}, SIGKILL)`)
  }
}

export async function clusterStatus(names) {
  const stats = readJson(statsFile(), {})
  const rows = await Promise.all(
    names.map(async (name) => {
      const node = clusterNode(name)
      const pid = clusterPid(name)
      const r = await checkClusterNode(node)
      const state = r.ok ? 'healthy' : pid ? 'running' : 'stopped'
      const rss = pid ? String(rssMb(pid) ?? '') : ''
      return {
        ok: r.ok,
        line: `  ${name.padEnd(14)} ${state.padEnd(10)} ${String(pid ?? '-').padEnd(8)} ${rss.padEnd(7)} ${node.url.padEnd(36)} ${r.detail ?? ''}`,
      }
    }),
  )
  for (const row of rows) log(row.line)
  const known = names.filter((n) => stats[n])
  if (known.length) {
    log('\n  last start     start_s  rss_mb  at')
    for (const n of known)
      log(
        `  ${n.padEnd(14)} ${String(stats[n].start_s).padStart(7)} ${String(stats[n].rss_mb).padStart(7)}  ${stats[n].at}`,
      )
  }
  return rows.every((r) => r.ok)
}

export async function clusterClean(names) {
  await clusterDown(names)
  for (const name of names) {
    fs.rmSync(serviceDir(name), { recursive: true, force: true })
    log(`  ${name.padEnd(14)} data and logs removed`)
  }
  if (CLUSTER_NODES.filter((n) => n.kind === 'kafka').every((n) => !fs.existsSync(serviceDir(n.name))))
    fs.rmSync(path.join(STATE_DIR, 'kafka-cluster'), { recursive: true, force: true })
}
