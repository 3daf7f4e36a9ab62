// The commands: `up` (check each service, build and start what is missing, wait until healthy,
// prove Kafka's authenticated listeners, write .services/env), `down` (stop only what this harness
// started), `status`, `logs`, `clean`, and the lock that keeps two `up`/`down`/`clean` of one
// checkout from racing.

import fs from 'node:fs'
import path from 'node:path'
import { clusterEnv } from './cluster.mjs'
import {
  ALL_NAMES,
  DEFAULTS,
  HarnessError,
  HEALTH_TIMEOUT_MS,
  hostPort,
  JVM_NAMES,
  LOG_TAIL_LINES,
  log,
  logFile,
  MAVEN_TIMEOUT_MS,
  ownedPid,
  pidAlive,
  pidFile,
  ROOT,
  readJson,
  resolvedUrl,
  rssMb,
  STATE_DIR,
  STOP_GRACE_MS,
  serviceDir,
  sleep,
  tail,
  warn,
} from './common.mjs'
import { check } from './health.mjs'
import { build } from './jdk-maven.mjs'
import { startJvm } from './jvm.mjs'
import {
  ensureKafkaSecurity,
  harnessKafka,
  kafkaSecurity,
  kafkaSecurityEnv,
  securityDir,
} from './kafka-security.mjs'
import { startMariadb, startPostgres, startRedis } from './machine.mjs'
import { portInUse } from './tcp.mjs'

export function statsFile() {
  return path.join(STATE_DIR, 'stats.json')
}

export async function waitHealthy(name, url, pid, deadline) {
  let last = { ok: false, detail: 'not checked yet' }
  while (Date.now() < deadline) {
    last = await check(name, url)
    if (last.ok) return last
    if (pid && !pidAlive(pid)) {
      throw new HarnessError(`${name} exited during start-up (last check: ${last.detail})`, {
        service: name,
        logFile: logFile(name),
      })
    }
    await sleep(500)
  }
  throw new HarnessError(
    `${name} not healthy after ${HEALTH_TIMEOUT_MS / 1000} s (last check: ${last.detail})`,
    {
      service: name,
      logFile: logFile(name),
    },
  )
}

export async function stopPid(name, pid) {
  // Signal the process group first (JVMs are session leaders, see startJvm), then the pid itself.
  const signal = (sig) => {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, sig)
      } catch {
        // ESRCH: that group or pid is already gone
      }
    }
  }
  signal('SIGTERM')
  const deadline = Date.now() + STOP_GRACE_MS
  while (Date.now() < deadline && pidAlive(pid)) await sleep(200)
  if (pidAlive(pid)) {
    warn(`[${name}] still alive ${STOP_GRACE_MS / 1000} s after SIGTERM: SIGKILL`)
    signal('SIGKILL')
    const killDeadline = Date.now() + 10_000
    while (Date.now() < killDeadline && pidAlive(pid)) await sleep(100)
  }
  if (pidAlive(pid)) throw new HarnessError(`${name} (pid ${pid}) survived SIGKILL`, { service: name })
}

export function writeEnvFiles({ kafkaSecurity: secured = true } = {}) {
  const env = {}
  for (const n of ALL_NAMES) env[DEFAULTS[n].env] = resolvedUrl(n).url
  // The authenticated listeners of the broker at the harness's address, once `up` proved them
  // with this machine's credentials and CA (whichever checkout started the broker).
  if (secured && harnessKafka() && fs.existsSync(path.join(securityDir(), 'credentials.json')))
    Object.assign(env, kafkaSecurityEnv(kafkaSecurity()))
  // The clusters of `up --cluster` (KAFKA_CLUSTER_BROKERS, OPENSEARCH_CLUSTER_NODES) while one of
  // their nodes runs.
  Object.assign(env, clusterEnv())
  fs.mkdirSync(STATE_DIR, { recursive: true })
  fs.writeFileSync(path.join(STATE_DIR, 'env.json'), `${JSON.stringify(env, null, 2)}\n`)
  const lines = Object.entries(env).map(([k, v]) => `export ${k}='${v.replaceAll("'", "'\\''")}'`)
  fs.writeFileSync(path.join(STATE_DIR, 'env'), `${lines.join('\n')}\n`)
  return lines
}

export async function up(names) {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS
  const stats = readJson(statsFile(), {})
  const starting = []
  const toStart = []
  const results = {}

  // Redis and MariaDB first (cheap), then the JVMs: build one, launch it, build the next while the
  // first boots. Maven runs one at a time because two Maven processes writing the same ~/.m2 race.
  for (const name of names.filter((n) => !JVM_NAMES.includes(n))) {
    const { url, external } = resolvedUrl(name)
    let r = await check(name, url)
    if (!r.ok && !external) {
      log(`[${name}] not answering at ${url} (${r.detail}): starting it`)
      await (name === 'redis' ? startRedis() : name === 'postgres' ? startPostgres() : startMariadb())
      r = await waitHealthy(name, url, null, Math.min(deadline, Date.now() + 60_000))
      results[name] = 'started'
    } else if (!r.ok) {
      throw new HarnessError(`${name} at ${url} (from ${DEFAULTS[name].env}) is not healthy: ${r.detail}`, {
        service: name,
      })
    } else {
      results[name] = external ? 'external' : 'running'
    }
  }

  for (const name of names.filter((n) => JVM_NAMES.includes(n))) {
    const { url, external } = resolvedUrl(name)
    const r = await check(name, url)
    if (r.ok) {
      results[name] = external
        ? 'external'
        : ownedPid(name)
          ? 'running'
          : 'running (not started by this harness)'
      continue
    }
    if (external)
      throw new HarnessError(`${name} at ${url} (from ${DEFAULTS[name].env}) is not healthy: ${r.detail}`, {
        service: name,
      })
    const pid = ownedPid(name)
    if (pid) {
      log(`[${name}] already starting (pid ${pid}), waiting`)
      starting.push({ name, url, pid, t0: Date.now(), build: null, waitOnly: true })
      continue
    }
    const port = name === 'kafka' ? hostPort(url, 9092).port : Number(new URL(url).port)
    if (await portInUse(port)) {
      throw new HarnessError(
        `${name}: port ${port} is taken by a process that does not answer as ${name} (${r.detail})`,
        { service: name },
      )
    }
    toStart.push({ name, url })
  }

  const buildStat = toStart.length > 0 ? await build(toStart.map((s) => s.name)) : null
  for (const s of toStart) {
    const t0 = Date.now()
    const pid = await startJvm(s.name)
    log(`[${s.name}] started pid ${pid}, log ${path.relative(ROOT, logFile(s.name))}`)
    starting.push({ ...s, pid, t0, build: buildStat })
  }

  const outcomes = await Promise.allSettled(
    starting.map(async (s) => {
      await waitHealthy(s.name, s.url, s.pid, deadline)
      const start_s = Math.round((Date.now() - s.t0) / 100) / 10
      results[s.name] = s.waitOnly ? 'running' : 'started'
      if (!s.waitOnly) {
        stats[s.name] = { start_s, rss_mb: rssMb(s.pid), ...(s.build ?? {}), at: new Date().toISOString() }
        log(`[${s.name}] healthy after ${start_s} s, RSS ${stats[s.name].rss_mb} MB`)
      }
    }),
  )
  const failed = outcomes.map((o, i) => [o, starting[i]]).filter(([o]) => o.status === 'rejected')
  if (failed.length > 0) {
    for (const [o, s] of failed) {
      warn(`\n[${s.name}] FAILED: ${o.reason.message}`)
      warn(`----- last ${LOG_TAIL_LINES} lines of ${path.relative(ROOT, logFile(s.name))} -----`)
      warn(tail(logFile(s.name)))
      // A server that is alive but never became healthy is ours and useless: stop it.
      const pid = ownedPid(s.name)
      if (pid) await stopPid(s.name, pid).catch((e) => warn(e.message))
    }
    process.exitCode = 1
    return
  }

  // Kafka's SCRAM user and its SASL / TLS listeners (see "Kafka's authenticated listeners").
  let kafkaUnsecured = false
  if (names.includes('kafka') && harnessKafka()) {
    try {
      const t0 = Date.now()
      await ensureKafkaSecurity(Math.max(deadline, Date.now() + 30_000))
      log(`[kafka] SCRAM user ready, SASL and TLS listeners answer (${Date.now() - t0} ms)`)
    } catch (e) {
      // Fatal for a broker started now; one that was already running may predate the listeners
      // (started by an older harness): say how to restart it, and leave its entries out of env.
      if (results.kafka === 'started') {
        warn(`\n[kafka] FAILED: ${e.message}`)
        process.exitCode = 1
        return
      }
      warn(`[kafka] WARNING: ${e.message}`)
      kafkaUnsecured = true
    }
  }

  // RSS once every server is up (the JVMs keep growing for a while after the first healthy answer).
  for (const name of Object.keys(stats)) {
    const pid = ownedPid(name)
    if (pid && results[name] === 'started') stats[name].rss_mb = rssMb(pid) ?? stats[name].rss_mb
  }
  fs.mkdirSync(STATE_DIR, { recursive: true })
  fs.writeFileSync(statsFile(), `${JSON.stringify(stats, null, 2)}\n`)

  log('')
  for (const name of names) log(`  ${name.padEnd(14)} ${results[name].padEnd(12)} ${resolvedUrl(name).url}`)
  const started = names.filter((n) => results[n] === 'started' && stats[n])
  if (started.length > 0) {
    log('\n  started        start_s  rss_mb  build_s  downloaded_mb')
    for (const n of started) {
      const s = stats[n]
      log(
        `  ${n.padEnd(14)} ${String(s.start_s).padStart(7)} ${String(s.rss_mb).padStart(7)} ${String(s.build_s ?? '-').padStart(8)} ${String(s.downloaded_mb ?? '-').padStart(14)}`,
      )
    }
  }
  const lines = writeEnvFiles({ kafkaSecurity: !kafkaUnsecured })
  log(
    `\n# written to ${path.relative(ROOT, path.join(STATE_DIR, 'env'))} (and env.json); load with: . .services/env`,
  )
  // The env file holds the harness's SCRAM password; the terminal (and CI logs) do not.
  for (const l of lines)
    log(l.startsWith('export KAFKA_SCRAM_PASSWORD=') ? "export KAFKA_SCRAM_PASSWORD='***'" : l)
}

export async function down(names) {
  for (const name of names) {
    if (resolvedUrl(name).external) {
      log(`  ${name.padEnd(14)} external (${DEFAULTS[name].env}), left alone`)
      continue
    }
    const pid = ownedPid(name)
    if (!pid) {
      fs.rmSync(pidFile(name), { force: true })
      if (JVM_NAMES.includes(name) || fs.existsSync(serviceDir(name)))
        log(`  ${name.padEnd(14)} not started by this harness`)
      continue
    }
    await stopPid(name, pid)
    fs.rmSync(pidFile(name), { force: true })
    log(`  ${name.padEnd(14)} stopped (pid ${pid})`)
  }
}

export async function status(names) {
  const stats = readJson(statsFile(), {})
  log(
    `  ${'service'.padEnd(14)} ${'state'.padEnd(10)} ${'pid'.padEnd(8)} ${'rss_mb'.padEnd(7)} ${'url'.padEnd(36)} detail`,
  )
  const rows = await Promise.all(
    names.map(async (name) => {
      const { url, external } = resolvedUrl(name)
      const [r, pid] = [await check(name, url), ownedPid(name)]
      const state = r.ok ? 'healthy' : pid ? 'running' : 'stopped'
      const owner = external ? 'env' : pid ? 'harness' : r.ok ? 'machine' : ''
      const rss = pid ? String(rssMb(pid) ?? '') : ''
      return {
        name,
        line: `  ${name.padEnd(14)} ${state.padEnd(10)} ${String(pid ?? '-').padEnd(8)} ${rss.padEnd(7)} ${url.padEnd(36)} ${owner}${owner ? ', ' : ''}${r.detail ?? ''}`,
        ok: r.ok,
      }
    }),
  )
  for (const row of rows) log(row.line)
  const known = names.filter((n) => stats[n])
  if (known.length) {
    log('\n  last start     start_s  rss_mb  build_s  at')
    for (const n of known)
      log(
        `  ${n.padEnd(14)} ${String(stats[n].start_s).padStart(7)} ${String(stats[n].rss_mb).padStart(7)} ${String(stats[n].build_s ?? '-').padStart(8)}  ${stats[n].at}`,
      )
  }
  if (rows.some((r) => !r.ok)) process.exitCode = 3
}

export function logs(names, lines) {
  for (const name of names) {
    log(`----- ${path.relative(ROOT, logFile(name))} (last ${lines} lines) -----`)
    log(tail(logFile(name), lines))
  }
}

export async function clean(names) {
  await down(names)
  for (const name of names.filter((n) => JVM_NAMES.includes(n))) {
    fs.rmSync(serviceDir(name), { recursive: true, force: true })
    log(`  ${name.padEnd(14)} data and logs removed`)
  }
}

/**
 * One `up`/`down`/`clean` at a time per checkout: two concurrent `up`s would both see a free port,
 * both run Maven on the same ~/.m2 and both spawn a server, and the loser's pid file would hide the
 * winner from `down`. The lock is a file created with O_EXCL holding the owner's pid; a lock whose
 * owner is gone is taken over.
 */
export async function withLock(fn) {
  const file = path.join(STATE_DIR, 'lock')
  fs.mkdirSync(STATE_DIR, { recursive: true })
  const deadline = Date.now() + HEALTH_TIMEOUT_MS + MAVEN_TIMEOUT_MS
  let announced = false
  for (;;) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' })
      break
    } catch (e) {
      if (e.code !== 'EEXIST') throw e
      const owner = Number(fs.readFileSync(file, 'utf8').trim())
      if (!Number.isInteger(owner) || owner <= 0 || !pidAlive(owner)) {
        fs.rmSync(file, { force: true })
        continue
      }
      if (Date.now() > deadline)
        throw new HarnessError(`another services command (pid ${owner}) holds ${file}`)
      if (!announced) log(`waiting for another services command (pid ${owner}) to finish ...`)
      announced = true
      await sleep(500)
    }
  }
  try {
    return await fn()
  } finally {
    fs.rmSync(file, { force: true })
  }
}
