// JDKs and Maven: the JDK each server needs (JAVA_HOME, /usr/lib/jvm, or an override), and the one
// Maven run that resolves the jars and compiles the launchers, only for the servers whose
// services/target output is stale.

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { HarnessError, log, MAVEN_TIMEOUT_MS, SERVICES_DIR, STATE_DIR, TARGET_DIR, which } from './common.mjs'

export function jdkMajor(home) {
  try {
    const m = /JAVA_VERSION="(\d+)/.exec(fs.readFileSync(path.join(home, 'release'), 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

export function listJdks() {
  const found = []
  const add = (home, source) => {
    if (!home) return
    const major = jdkMajor(home)
    if (major && fs.existsSync(path.join(home, 'bin', 'java')))
      found.push({ home: fs.realpathSync(home), major, source })
  }
  add(process.env.JAVA_HOME, 'JAVA_HOME')
  try {
    for (const d of fs.readdirSync('/usr/lib/jvm')) add(path.join('/usr/lib/jvm', d), '/usr/lib/jvm')
  } catch {
    // no /usr/lib/jvm (not Debian): JAVA_HOME alone
  }
  return found
}

/**
 * Kafka 4 and OpenSearch 2.19 run on Java 17 (OpenSearch 2.19 takes 11-21+; the 2.19 modules on
 * Maven Central were built for 11). Elasticsearch 9 jars are Java 21 class files. Overrides:
 * SERVICES_JAVA17_HOME and SERVICES_JAVA21_HOME.
 */
export function pickJdk(minMajor, preferMajor, overrideVar) {
  const override = process.env[overrideVar]
  if (override) {
    const major = jdkMajor(override)
    if (!major || major < minMajor)
      throw new HarnessError(`${overrideVar}=${override} is not a JDK ${minMajor}+`)
    return { home: override, major }
  }
  const jdks = listJdks().filter((j) => j.major >= minMajor)
  if (jdks.length === 0) {
    throw new HarnessError(
      `no JDK ${minMajor}+ found (looked at JAVA_HOME and /usr/lib/jvm); set ${overrideVar} to one`,
    )
  }
  jdks.sort((a, b) => (a.major === preferMajor ? -1 : b.major === preferMajor ? 1 : b.major - a.major))
  return jdks[0]
}

export function jdkFor(name) {
  return name === 'elasticsearch'
    ? pickJdk(21, 25, 'SERVICES_JAVA21_HOME')
    : pickJdk(17, 17, 'SERVICES_JAVA17_HOME')
}

export function newestMtime(dir) {
  let newest = 0
  const walk = (p) => {
    const st = fs.statSync(p)
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e))
    else newest = Math.max(newest, st.mtimeMs)
  }
  walk(dir)
  return newest
}

export function classpathFile(name) {
  return path.join(TARGET_DIR, name, 'classpath.txt')
}

export function buildIsFresh(name) {
  const cpFile = classpathFile(name)
  if (!fs.existsSync(cpFile)) return false
  const builtAt = fs.statSync(cpFile).mtimeMs
  const sources = Math.max(
    newestMtime(path.join(SERVICES_DIR, 'launcher', name)),
    fs.statSync(path.join(SERVICES_DIR, 'pom.xml')).mtimeMs,
  )
  if (sources > builtAt) return false
  if (name !== 'kafka' && !fs.existsSync(path.join(TARGET_DIR, name, 'classes'))) return false
  return fs
    .readFileSync(cpFile, 'utf8')
    .trim()
    .split(':')
    .every((jar) => fs.existsSync(jar))
}

export function m2Bytes() {
  const custom = /-Dmaven\.repo\.local=(\S+)/.exec(process.env.MAVEN_OPTS ?? '')
  const repo = custom?.[1] ?? path.join(process.env.HOME ?? '/root', '.m2', 'repository')
  if (!fs.existsSync(repo)) return 0
  const r = spawnSync('du', ['-sb', repo], { encoding: 'utf8', timeout: 60_000 })
  return r.status === 0 ? Number(r.stdout.split('\t')[0]) : null
}

/**
 * Resolves the jars (first use: downloads into ~/.m2) and compiles the launchers of the stale
 * modules among `names`, in one Maven run: Maven's own start-up costs seconds per run on two cores,
 * and building before any JVM boots keeps the builds from competing with the servers for CPU.
 * The Elasticsearch module needs a JDK 21+; javac 21+ with --release 17 still builds the others
 * for Java 17, so one JDK serves the whole run.
 */
export async function build(names) {
  const stale = names.filter((n) => !buildIsFresh(n))
  if (stale.length === 0) return null
  const mvn = which('mvn')
  if (!mvn)
    throw new HarnessError('Maven (mvn) is not on PATH: apt-get install -y maven', {
      service: stale.join(', '),
    })
  const jdk = stale.includes('elasticsearch') ? jdkFor('elasticsearch') : jdkFor('kafka')
  fs.mkdirSync(STATE_DIR, { recursive: true })
  const buildLog = path.join(STATE_DIR, 'build.log')
  const before = m2Bytes()
  const started = Date.now()
  log(
    `[build] resolving jars and compiling launchers for ${stale.join(', ')} with Maven (JDK ${jdk.major}) ...`,
  )
  const out = fs.openSync(buildLog, 'w')
  const modules = stale.map((n) => `launcher/${n}`).join(',')
  const code = await new Promise((resolve) => {
    const child = spawn(
      mvn,
      ['-B', '-q', '-f', path.join(SERVICES_DIR, 'pom.xml'), '-pl', modules, 'compile'],
      {
        stdio: ['ignore', out, out],
        env: { ...process.env, JAVA_HOME: jdk.home },
      },
    )
    const timer = setTimeout(() => child.kill('SIGKILL'), MAVEN_TIMEOUT_MS)
    child.on('exit', (c, sig) => {
      clearTimeout(timer)
      resolve(sig ? `signal ${sig}` : c)
    })
    child.on('error', (e) => {
      clearTimeout(timer)
      resolve(e.message)
    })
  })
  fs.closeSync(out)
  const missing = stale.filter((n) => !fs.existsSync(classpathFile(n)))
  if (code !== 0 || missing.length > 0) {
    throw new HarnessError(`Maven build of ${stale.join(', ')} failed (exit ${code})`, {
      service: stale.join(', '),
      logFile: buildLog,
    })
  }
  // The dependency plugin leaves an unchanged classpath.txt untouched: touch it so the freshness
  // check above holds next time.
  const now = new Date()
  for (const n of stale) fs.utimesSync(classpathFile(n), now, now)
  const after = m2Bytes()
  const stat = {
    build_s: Math.round((Date.now() - started) / 100) / 10,
    downloaded_mb: before !== null && after !== null ? Math.round((after - before) / 1e5) / 10 : null,
  }
  log(
    `[build] done in ${stat.build_s} s${stat.downloaded_mb ? `, ${stat.downloaded_mb} MB downloaded into the Maven repository` : ''}`,
  )
  return stat
}
