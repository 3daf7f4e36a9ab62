// The harness's shared ground: where its state lives, the names and default addresses of the
// services, its error type, and the small helpers every other module uses (logs, pid files, the
// check that a recorded pid is still the process this harness started). No module imports
// another from here: every other one imports this.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The services/ folder (this module lives in services/lib). */
export const SERVICES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const ROOT = path.resolve(SERVICES_DIR, '..')
export const STATE_DIR = path.join(ROOT, '.services')
export const TARGET_DIR = path.join(SERVICES_DIR, 'target')
export const HEALTH_TIMEOUT_MS = Number(process.env.SERVICES_TIMEOUT ?? 180) * 1000
export const MAVEN_TIMEOUT_MS = 15 * 60 * 1000
export const STOP_GRACE_MS = 20_000
export const LOG_TAIL_LINES = 40

export const JVM_NAMES = ['kafka', 'opensearch', 'elasticsearch']
export const ALL_NAMES = [...JVM_NAMES, 'redis', 'mariadb', 'postgres']

/** Defaults used when the corresponding environment variable is not set. */
export const DEFAULTS = {
  kafka: { env: 'KAFKA_BROKERS', url: '127.0.0.1:9092' },
  opensearch: { env: 'OPENSEARCH_URL', url: 'http://127.0.0.1:9200' },
  elasticsearch: { env: 'ELASTICSEARCH_URL', url: 'http://127.0.0.1:9201' },
  redis: { env: 'REDIS_URL', url: 'redis://127.0.0.1:6379' },
  mariadb: { env: 'DATABASE_URL', url: 'mysql://root@127.0.0.1:3306/test' },
  postgres: { env: 'POSTGRES_URL', url: 'postgres://postgres@127.0.0.1:5432/test' },
}

// ---------------------------------------------------------------------------------------------
// small helpers

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const log = (...a) => console.log(...a)
export const warn = (...a) => console.error(...a)

export class HarnessError extends Error {
  constructor(message, { service, logFile } = {}) {
    super(message)
    this.name = 'HarnessError'
    this.service = service
    this.logFile = logFile
  }
}

export function serviceDir(name) {
  return path.join(STATE_DIR, name)
}
export function logFile(name) {
  return path.join(serviceDir(name), `${name}.log`)
}
export function pidFile(name) {
  return path.join(serviceDir(name), 'pid')
}

export function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    // missing or half-written file: the caller's fallback is the documented answer
    return fallback
  }
}

export function tail(file, lines = LOG_TAIL_LINES) {
  let text
  try {
    const size = fs.statSync(file).size
    const fd = fs.openSync(file, 'r')
    const len = Math.min(size, 256 * 1024)
    const buf = Buffer.alloc(len)
    fs.readSync(fd, buf, 0, len, size - len)
    fs.closeSync(fd)
    text = buf.toString('utf8')
  } catch {
    return `(no log at ${path.relative(ROOT, file)})`
  }
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n')
}

export function pidAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === 'EPERM'
  }
}

export function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return null
  }
}

export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Math.round(Number(m[1]) / 1024) : null
  } catch {
    return null
  }
}

/** The pid recorded for `name`, if that process is alive and is really the one we started. */
export function ownedPid(name) {
  let pid
  try {
    pid = Number(fs.readFileSync(pidFile(name), 'utf8').trim())
  } catch {
    return null
  }
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return null
  const args = cmdline(pid)
  if (!args) return null
  if (JVM_NAMES.includes(name)) {
    return args.includes(`-Dayala.services.home=${serviceDir(name)}`) ? pid : null
  }
  const exe = name === 'redis' ? 'redis-server' : 'mariadbd'
  return args[0] && path.basename(args[0].split(' ')[0]) === exe ? pid : null
}

export function resolvedUrl(name) {
  const { env, url } = DEFAULTS[name]
  const fromEnv = process.env[env]
  return fromEnv && fromEnv.trim() !== '' ? { url: fromEnv.trim(), external: true } : { url, external: false }
}

export function hostPort(spec, defaultPort) {
  const s = spec
    .replace(/^[a-z]+:\/\//i, '')
    .split('/')[0]
    .split('@')
    .pop()
  const idx = s.lastIndexOf(':')
  if (idx > 0 && !s.endsWith(']'))
    return { host: s.slice(0, idx).replace(/^\[|\]$/g, ''), port: Number(s.slice(idx + 1)) }
  return { host: s.replace(/^\[|\]$/g, ''), port: defaultPort }
}

export function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null
}
