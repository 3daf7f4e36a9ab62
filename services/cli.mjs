#!/usr/bin/env node
// @ayala/services: starts the real servers the integration tests and the demo need, without Docker.
//
//   node services/cli.mjs up|down|status|logs|clean [name...] [--lines N]
//
// Names: kafka, opensearch, elasticsearch (JVM servers this harness owns) and redis, mariadb,
// postgres (the machine's own servers, checked and started when down). Default: all of them.
//
// How it works
// - Jars come from Maven Central through services/pom.xml: one Maven module per server writes the
//   runtime classpath (paths into ~/.m2) to services/target/<name>/classpath.txt and compiles the
//   small launcher. The build runs only when that file is missing, older than the module's sources,
//   or names a jar that is gone from ~/.m2.
// - Each server runs as a detached JVM (its own session, stdio to .services/<name>/<name>.log),
//   so `up` returns while it keeps running. Its pid is written to .services/<name>/pid and its
//   command line carries -Dayala.services.home=<that dir>: `down` kills a pid only when
//   /proc/<pid>/cmdline still carries that marker, so a recycled pid is never killed.
// - Health: Kafka answers an ApiVersions then a Metadata request (raw Kafka protocol over TCP) with
//   at least one broker and a controller; OpenSearch/Elasticsearch answer GET /_cluster/health with
//   green or yellow (and Elasticsearch with the X-Elastic-Product header the official client
//   checks); Redis answers PING; MariaDB sends its handshake packet; PostgreSQL answers an
//   SSLRequest with 'S' or 'N'.
// - A service whose URL is set in the environment (KAFKA_BROKERS, OPENSEARCH_URL,
//   ELASTICSEARCH_URL, REDIS_URL, DATABASE_URL, POSTGRES_URL) is only checked, never started or
//   stopped.
// - Every wait is bounded (SERVICES_TIMEOUT seconds, default 180, for health; fixed limits for
//   Maven and the Kafka storage format) and fails with the tail of the service's log.
//
// Dependency-free on purpose: it runs on Node 20 and 24 before `pnpm install`.

import { spawn, spawnSync } from 'node:child_process'
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import tls from 'node:tls'
import { fileURLToPath } from 'node:url'

const SERVICES_DIR = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(SERVICES_DIR, '..')
const STATE_DIR = path.join(ROOT, '.services')
const TARGET_DIR = path.join(SERVICES_DIR, 'target')
const HEALTH_TIMEOUT_MS = Number(process.env.SERVICES_TIMEOUT ?? 180) * 1000
const MAVEN_TIMEOUT_MS = 15 * 60 * 1000
const STOP_GRACE_MS = 20_000
const LOG_TAIL_LINES = 40

const JVM_NAMES = ['kafka', 'opensearch', 'elasticsearch']
const ALL_NAMES = [...JVM_NAMES, 'redis', 'mariadb', 'postgres']

/** Defaults used when the corresponding environment variable is not set. */
const DEFAULTS = {
  kafka: { env: 'KAFKA_BROKERS', url: '127.0.0.1:9092' },
  opensearch: { env: 'OPENSEARCH_URL', url: 'http://127.0.0.1:9200' },
  elasticsearch: { env: 'ELASTICSEARCH_URL', url: 'http://127.0.0.1:9201' },
  redis: { env: 'REDIS_URL', url: 'redis://127.0.0.1:6379' },
  mariadb: { env: 'DATABASE_URL', url: 'mysql://root@127.0.0.1:3306/test' },
  postgres: { env: 'POSTGRES_URL', url: 'postgres://postgres@127.0.0.1:5432/test' },
}

// ---------------------------------------------------------------------------------------------
// small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const log = (...a) => console.log(...a)
const warn = (...a) => console.error(...a)

class HarnessError extends Error {
  constructor(message, { service, logFile } = {}) {
    super(message)
    this.name = 'HarnessError'
    this.service = service
    this.logFile = logFile
  }
}

function serviceDir(name) {
  return path.join(STATE_DIR, name)
}
function logFile(name) {
  return path.join(serviceDir(name), `${name}.log`)
}
function pidFile(name) {
  return path.join(serviceDir(name), 'pid')
}

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    // missing or half-written file: the caller's fallback is the documented answer
    return fallback
  }
}

function tail(file, lines = LOG_TAIL_LINES) {
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

function pidAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === 'EPERM'
  }
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return null
  }
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Math.round(Number(m[1]) / 1024) : null
  } catch {
    return null
  }
}

/** The pid recorded for `name`, if that process is alive and is really the one we started. */
function ownedPid(name) {
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

function resolvedUrl(name) {
  const { env, url } = DEFAULTS[name]
  const fromEnv = process.env[env]
  return fromEnv && fromEnv.trim() !== '' ? { url: fromEnv.trim(), external: true } : { url, external: false }
}

// ---------------------------------------------------------------------------------------------
// health checks (each bounded by its own timeout, never throwing: they answer { ok, detail })

function tcpExchange({ host, port, useTls = false, timeoutMs = 3000, onConnect, onData }) {
  return new Promise((resolve) => {
    let done = false
    let buf = Buffer.alloc(0)
    const finish = (result) => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(result)
    }
    const sock = useTls
      ? tls.connect({
          host,
          port,
          ...(net.isIP(host) ? {} : { servername: host }),
          rejectUnauthorized: false,
        })
      : net.connect({ host, port })
    const timer = setTimeout(() => finish({ ok: false, detail: 'timeout' }), timeoutMs)
    sock.on(useTls ? 'secureConnect' : 'connect', () => onConnect?.(sock))
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      const r = onData(buf, sock)
      if (r) finish(r)
    })
    sock.on('error', (e) => finish({ ok: false, detail: e.code ?? e.message }))
    sock.on('close', () => finish({ ok: false, detail: 'connection closed' }))
  })
}

function hostPort(spec, defaultPort) {
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

// Kafka wire protocol, just enough for a health check. Request header v1: api_key int16,
// api_version int16, correlation_id int32, client_id string(int16 length). Responses start with
// int32 size and int32 correlation id. ApiVersions v0 is accepted by every broker since 0.10 and
// tells which Metadata versions this broker takes; Metadata (v4..v8, the non-flexible ones) then
// proves the broker has joined the KRaft quorum and knows a controller.
function kafkaRequest(apiKey, apiVersion, correlationId, body) {
  const clientId = Buffer.from('ayala-services')
  const header = Buffer.alloc(10)
  header.writeInt16BE(apiKey, 0)
  header.writeInt16BE(apiVersion, 2)
  header.writeInt32BE(correlationId, 4)
  header.writeInt16BE(clientId.length, 8)
  const payload = Buffer.concat([header, clientId, body])
  const size = Buffer.alloc(4)
  size.writeInt32BE(payload.length, 0)
  return Buffer.concat([size, payload])
}

function kafkaFrame(buf) {
  if (buf.length < 4) return null
  const size = buf.readInt32BE(0)
  if (buf.length < 4 + size) return null
  return buf.subarray(4, 4 + size)
}

async function checkKafkaBroker(host, port, useTls = false) {
  let metadataVersion = null
  const apiVersions = await tcpExchange({
    host,
    port,
    useTls,
    onConnect: (s) => s.write(kafkaRequest(18, 0, 1, Buffer.alloc(0))),
    onData: (buf) => {
      const frame = kafkaFrame(buf)
      if (!frame) return null
      const error = frame.readInt16BE(4)
      if (error !== 0) return { ok: false, detail: `ApiVersions error ${error}` }
      const n = frame.readInt32BE(6)
      for (let i = 0, o = 10; i < n; i++, o += 6) {
        if (frame.readInt16BE(o) === 3) {
          const min = frame.readInt16BE(o + 2)
          const max = frame.readInt16BE(o + 4)
          const v = Math.max(min, 4)
          if (v <= Math.min(max, 8)) metadataVersion = v
        }
      }
      return metadataVersion === null
        ? { ok: false, detail: 'broker offers no Metadata version between 4 and 8' }
        : { ok: true }
    },
  })
  if (!apiVersions.ok) return apiVersions
  // Metadata request body: topics = null (int32 -1), allow_auto_topic_creation = false (v4+),
  // then for v8 the two include_*_authorized_operations booleans.
  const body = Buffer.alloc(metadataVersion >= 8 ? 7 : 5)
  body.writeInt32BE(-1, 0)
  const v = metadataVersion
  return tcpExchange({
    host,
    port,
    useTls,
    onConnect: (s) => s.write(kafkaRequest(3, v, 2, body)),
    onData: (buf) => {
      const frame = kafkaFrame(buf)
      if (!frame) return null
      let o = 4 + 4 // correlation id, throttle_time_ms
      const brokers = frame.readInt32BE(o)
      o += 4
      for (let i = 0; i < brokers; i++) {
        o += 4 // node_id
        o += 2 + frame.readInt16BE(o) // host
        o += 4 // port
        const rack = frame.readInt16BE(o)
        o += 2 + Math.max(rack, 0)
      }
      const clusterIdLen = frame.readInt16BE(o)
      o += 2 + Math.max(clusterIdLen, 0)
      const controller = frame.readInt32BE(o)
      if (brokers < 1) return { ok: false, detail: 'metadata lists no broker yet' }
      if (controller < 0) return { ok: false, detail: 'no active controller yet' }
      return { ok: true, detail: `${brokers} broker(s), controller ${controller}` }
    },
  })
}

async function checkKafka(url) {
  const brokers = url
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean)
  let last = { ok: false, detail: 'no broker in KAFKA_BROKERS' }
  for (const b of brokers) {
    const { host, port } = hostPort(b, 9092)
    last = await checkKafkaBroker(host, port)
    if (last.ok) return last
  }
  return last
}

// ---------------------------------------------------------------------------------------------
// Kafka's authenticated listeners: SASL/SCRAM and TLS
//
// Besides PLAINTEXT on its port P (what every other test uses, unchanged), the harness's Kafka
// listens on P+2 with SASL_PLAINTEXT (SCRAM-SHA-256 and -512), on P+3 with SSL (server
// certificate only) and on P+4 with SASL_SSL; the controller stays on P+1. The SCRAM user and its
// random password live in .services/kafka/security/credentials.json (mode 0600); the CA, the
// server certificate and its PKCS#12 keystore are made with openssl into the same folder (valid
// 825 days, remade when missing or expiring within a day). The user is created (upserted, so a
// data directory formatted before this existed gets it too) with AlterUserScramCredentials over
// PLAINTEXT once the broker is healthy, and `up` then logs in through SCRAM on the SASL
// listeners and reads metadata over TLS, so a written .services/env always names working
// listeners. Without openssl the TLS listeners are left out (and `up` says so).

const SCRAM_MECHANISMS = [
  { name: 'SCRAM-SHA-256', type: 1, hash: 'sha256', bytes: 32 },
  { name: 'SCRAM-SHA-512', type: 2, hash: 'sha512', bytes: 64 },
]
const SCRAM_ITERATIONS = 4096

function kafkaPorts() {
  const { port } = hostPort(DEFAULTS.kafka.url, 9092)
  return { plaintext: port, controller: port + 1, sasl: port + 2, ssl: port + 3, saslSsl: port + 4 }
}

function securityDir() {
  return path.join(serviceDir('kafka'), 'security')
}

/**
 * The SCRAM user, its password and the TLS files of the harness's Kafka, made on first use.
 * Returns `{ username, password, tls: { caFile, keystoreFile, keystorePassword } | null }`.
 */
function kafkaSecurity() {
  const dir = securityDir()
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const credentialsFile = path.join(dir, 'credentials.json')
  let credentials = readJson(credentialsFile, null)
  if (!credentials?.username || !credentials?.password || !credentials?.keystorePassword) {
    credentials = {
      username: 'ayala',
      password: randomBytes(18).toString('base64url'),
      keystorePassword: randomBytes(18).toString('base64url'),
    }
    fs.writeFileSync(credentialsFile, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 })
  }
  return {
    username: credentials.username,
    password: credentials.password,
    tls: kafkaTlsFiles(dir, credentials),
  }
}

function kafkaTlsFiles(dir, credentials) {
  const file = (name) => path.join(dir, name)
  const files = {
    caFile: file('ca.pem'),
    keystoreFile: file('server.p12'),
    keystorePassword: credentials.keystorePassword,
  }
  if (!which('openssl')) {
    warn('[kafka] openssl is not installed: no SSL / SASL_SSL listeners (apt-get install -y openssl)')
    return null
  }
  const openssl = (args) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 })
    if (r.status !== 0)
      throw new HarnessError(`openssl ${args[0]} failed: ${r.stderr || r.stdout}`, { service: 'kafka' })
  }
  const fresh =
    ['ca.pem', 'server.pem', 'server.p12'].every((f) => fs.existsSync(file(f))) &&
    spawnSync('openssl', ['x509', '-checkend', '86400', '-noout', '-in', file('server.pem')]).status === 0
  if (fresh) return files
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '825',
    '-subj',
    '/CN=ayala services test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  openssl(['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1'])
  fs.writeFileSync(
    file('server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  )
  openssl([
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.pem'),
    '-days',
    '825',
    '-extfile',
    file('server.ext'),
  ])
  openssl([
    'pkcs12',
    '-export',
    '-in',
    file('server.pem'),
    '-inkey',
    file('server.key'),
    '-certfile',
    file('ca.pem'),
    '-name',
    'kafka',
    '-out',
    file('server.p12'),
    '-passout',
    `pass:${credentials.keystorePassword}`,
  ])
  for (const f of ['ca.key', 'server.key', 'server.p12']) fs.chmodSync(file(f), 0o600)
  return files
}

/** server.properties lines of the SASL and TLS listeners (see the section note). */
function kafkaSecurityProperties(security) {
  const p = kafkaPorts()
  const listeners = [`SASL_PLAINTEXT://127.0.0.1:${p.sasl}`]
  if (security.tls) listeners.push(`SSL://127.0.0.1:${p.ssl}`, `SASL_SSL://127.0.0.1:${p.saslSsl}`)
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;'
  const lines = [
    'sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512',
    ...['sasl_plaintext', ...(security.tls ? ['sasl_ssl'] : [])].flatMap((l) => [
      `listener.name.${l}.scram-sha-256.sasl.jaas.config=${scram}`,
      `listener.name.${l}.scram-sha-512.sasl.jaas.config=${scram}`,
    ]),
  ]
  if (security.tls) {
    lines.push(
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.location=${security.tls.keystoreFile}`,
      `ssl.keystore.password=${security.tls.keystorePassword}`,
      'ssl.client.auth=none',
    )
  }
  return { listeners, protocols: listeners.map((l) => l.split(':')[0]), lines }
}

// Kafka's flexible versions (KIP-482): unsigned varints, compact strings/bytes/arrays (length + 1),
// and a tagged-field section (0 = none) after each structure and in the v2 request header.
function uvarint(n) {
  const out = []
  let v = n >>> 0
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
  out.push(v)
  return Buffer.from(out)
}

function readUvarint(buf, o) {
  let value = 0
  let shift = 0
  for (;;) {
    const b = buf[o++]
    value |= (b & 0x7f) << shift
    if ((b & 0x80) === 0) return [value >>> 0, o]
    shift += 7
  }
}

const compactBytes = (b) => Buffer.concat([uvarint(b.length + 1), b])
const compactString = (s) => compactBytes(Buffer.from(s, 'utf8'))
const int8 = (n) => Buffer.from([n])
const int32 = (n) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n, 0)
  return b
}

/** A flexible request (header v2: the v1 header plus an empty tagged-field section). */
function kafkaFlexibleRequest(apiKey, apiVersion, correlationId, body) {
  return kafkaRequest(apiKey, apiVersion, correlationId, Buffer.concat([uvarint(0), body]))
}

/**
 * Create or update the harness's SCRAM user for both mechanisms (AlterUserScramCredentials v0,
 * API key 51, over PLAINTEXT: the harness runs no authorizer), one request per mechanism (the
 * broker refuses a user twice in one request). The salted password is computed here, as the Java
 * tools do. Retried for up to 15 s: right after start-up the controller may not be ready.
 */
async function upsertScramUser(host, port, username, password, deadline) {
  const until = Math.min(deadline, Date.now() + 15_000)
  for (const m of SCRAM_MECHANISMS) {
    const salt = randomBytes(32)
    const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, m.bytes, m.hash)
    const upsertion = Buffer.concat([
      compactString(username),
      int8(m.type),
      int32(SCRAM_ITERATIONS),
      compactBytes(salt),
      compactBytes(salted),
      uvarint(0),
    ])
    // deletions: empty compact array; upsertions: one; tagged fields
    const body = Buffer.concat([uvarint(1), uvarint(2), upsertion, uvarint(0)])
    let last = { ok: false, detail: 'not tried' }
    while (!last.ok && Date.now() < until) {
      last = await tcpExchange({
        host,
        port,
        onConnect: (s) => s.write(kafkaFlexibleRequest(51, 0, 7, body)),
        onData: (buf) => {
          const frame = kafkaFrame(buf)
          if (!frame) return null
          // response header v1: correlation id, tagged fields; body: throttle_time_ms, results
          let [, o] = readUvarint(frame, 4)
          o += 4
          let n
          ;[n, o] = readUvarint(frame, o)
          for (let i = 0; i < n - 1; i++) {
            let len
            ;[len, o] = readUvarint(frame, o)
            o += len - 1
            const code = frame.readInt16BE(o)
            o += 2
            ;[len, o] = readUvarint(frame, o)
            const message = len > 0 ? frame.subarray(o, o + len - 1).toString('utf8') : ''
            o += Math.max(len - 1, 0)
            ;[, o] = readUvarint(frame, o)
            if (code !== 0) return { ok: false, detail: `${m.name}: error ${code} ${message}` }
          }
          return { ok: true }
        },
      })
      if (!last.ok) await sleep(300)
    }
    if (!last.ok)
      throw new HarnessError(
        `kafka: creating the SCRAM user failed (AlterUserScramCredentials ${last.detail})`,
        {
          service: 'kafka',
          logFile: logFile('kafka'),
        },
      )
  }
}

const saslName = (s) => s.replaceAll('=', '=3D').replaceAll(',', '=2C')
const hmac = (hash, key, text) => createHmac(hash, key).update(text).digest()

/**
 * Log in with SCRAM (SaslHandshake v1, then two SaslAuthenticate v1 rounds, RFC 5802) on a
 * SASL_PLAINTEXT or SASL_SSL listener: `{ ok: true }` once the broker accepted the proof and
 * its own signature checks out.
 */
function checkScramLogin({ host, port, useTls, username, password, mechanism = SCRAM_MECHANISMS[0] }) {
  const nonce = randomBytes(18).toString('base64')
  const clientFirstBare = `n=${saslName(username)},r=${nonce}`
  let step = 0
  let consumed = 0
  let authMessage = ''
  let serverKey = null
  const authenticate = (sock, text, id) => {
    const bytes = Buffer.from(text, 'utf8')
    const len = Buffer.alloc(4)
    len.writeInt32BE(bytes.length, 0)
    sock.write(kafkaRequest(36, 1, id, Buffer.concat([len, bytes])))
  }
  // SaslAuthenticate v1 response: error_code, error_message (nullable string), auth_bytes, session_lifetime_ms
  const authResponse = (frame) => {
    let o = 4
    const code = frame.readInt16BE(o)
    o += 2
    const mlen = frame.readInt16BE(o)
    o += 2
    const message = mlen > 0 ? frame.subarray(o, o + mlen).toString('utf8') : ''
    o += Math.max(mlen, 0)
    const blen = frame.readInt32BE(o)
    o += 4
    return { code, message, bytes: frame.subarray(o, o + Math.max(blen, 0)).toString('utf8') }
  }
  return tcpExchange({
    host,
    port,
    useTls,
    onConnect: (s) => {
      const m = Buffer.from(mechanism.name)
      const len = Buffer.alloc(2)
      len.writeInt16BE(m.length, 0)
      s.write(kafkaRequest(17, 1, 1, Buffer.concat([len, m])))
    },
    onData: (buf, sock) => {
      const frame = kafkaFrame(buf.subarray(consumed))
      if (!frame) return null
      consumed += 4 + frame.length
      if (step === 0) {
        const code = frame.readInt16BE(4)
        if (code !== 0) return { ok: false, detail: `SaslHandshake error ${code}` }
        step = 1
        authenticate(sock, `n,,${clientFirstBare}`, 2)
        return null
      }
      const r = authResponse(frame)
      if (r.code !== 0) return { ok: false, detail: `SCRAM login refused (${r.code}: ${r.message})` }
      if (step === 1) {
        const fields = Object.fromEntries(r.bytes.split(',').map((kv) => [kv[0], kv.slice(2)]))
        if (!fields.r?.startsWith(nonce)) return { ok: false, detail: 'SCRAM: server nonce mismatch' }
        const salted = pbkdf2Sync(
          password,
          Buffer.from(fields.s, 'base64'),
          Number(fields.i),
          mechanism.bytes,
          mechanism.hash,
        )
        const clientKey = hmac(mechanism.hash, salted, 'Client Key')
        const storedKey = createHash(mechanism.hash).update(clientKey).digest()
        const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${fields.r}`
        authMessage = `${clientFirstBare},${r.bytes},${withoutProof}`
        const signature = hmac(mechanism.hash, storedKey, authMessage)
        const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]))
        serverKey = hmac(mechanism.hash, salted, 'Server Key')
        step = 2
        authenticate(sock, `${withoutProof},p=${proof.toString('base64')}`, 3)
        return null
      }
      const expected = hmac(mechanism.hash, serverKey, authMessage).toString('base64')
      return r.bytes === `v=${expected}`
        ? { ok: true, detail: `SCRAM login of ${username}` }
        : { ok: false, detail: `SCRAM: unexpected server final message` }
    },
  })
}

/**
 * After the broker is healthy on PLAINTEXT: create the SCRAM user, then prove each authenticated
 * listener works (SCRAM login on SASL_PLAINTEXT and SASL_SSL, Metadata over SSL). Credentials
 * reach the broker's metadata cache a moment after the controller committed them: each check is
 * retried for up to 10 s (within `deadline`). Returns the credentials, or throws.
 */
async function ensureKafkaSecurity(deadline) {
  const security = kafkaSecurity()
  const p = kafkaPorts()
  const host = '127.0.0.1'
  await upsertScramUser(host, p.plaintext, security.username, security.password, deadline)
  const checks = [
    ['SASL_PLAINTEXT', () => checkScramLogin({ host, port: p.sasl, useTls: false, ...security })],
  ]
  if (security.tls) {
    checks.push(
      ['SSL', () => checkKafkaBroker(host, p.ssl, true)],
      ['SASL_SSL', () => checkScramLogin({ host, port: p.saslSsl, useTls: true, ...security })],
    )
  }
  for (const [name, check] of checks) {
    let last = { ok: false, detail: 'not checked' }
    const until = Math.min(deadline, Date.now() + 10_000)
    while (Date.now() < until) {
      last = await check()
      if (last.ok) break
      await sleep(250)
    }
    if (!last.ok) {
      throw new HarnessError(
        `kafka: the ${name} listener does not work (${last.detail}). A broker started by an older harness has no such listener: node services/cli.mjs down kafka && node services/cli.mjs up kafka`,
        { service: 'kafka', logFile: logFile('kafka') },
      )
    }
  }
  return security
}

/**
 * Whether KAFKA_BROKERS names this harness's broker: unset, or set to its address (a shell that
 * loaded .services/env), so the authenticated listeners are this harness's to check and write.
 */
function harnessKafka() {
  const { url, external } = resolvedUrl('kafka')
  return !external || url === DEFAULTS.kafka.url
}

/** The .services/env entries of the authenticated listeners (see services/README.md). */
function kafkaSecurityEnv(security) {
  const p = kafkaPorts()
  return {
    KAFKA_SASL_BROKERS: `127.0.0.1:${p.sasl}`,
    ...(security.tls
      ? { KAFKA_SSL_BROKERS: `127.0.0.1:${p.ssl}`, KAFKA_SASL_SSL_BROKERS: `127.0.0.1:${p.saslSsl}` }
      : {}),
    KAFKA_SCRAM_MECHANISM: 'scram-sha-256',
    KAFKA_SCRAM_USERNAME: security.username,
    KAFKA_SCRAM_PASSWORD: security.password,
    ...(security.tls ? { KAFKA_CA_FILE: security.tls.caFile } : {}),
  }
}

async function checkSearch(url, { requireElasticHeader }) {
  const u = new URL('/_cluster/health', url)
  const headers = {}
  if (u.username) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`
    u.username = ''
    u.password = ''
  }
  try {
    const res = await fetch(u, { headers, signal: AbortSignal.timeout(3000) })
    const body = await res.json().catch(() => ({}))
    if (!res.ok) return { ok: false, detail: `HTTP ${res.status}` }
    if (requireElasticHeader && res.headers.get('x-elastic-product') !== 'Elasticsearch') {
      return {
        ok: false,
        detail: 'answers, but without "X-Elastic-Product: Elasticsearch" (not Elasticsearch?)',
      }
    }
    if (body.status === 'green' || body.status === 'yellow')
      return { ok: true, detail: `cluster ${body.status}` }
    return { ok: false, detail: `cluster ${body.status ?? 'unknown'}` }
  } catch (e) {
    return { ok: false, detail: e.cause?.code ?? e.name ?? String(e) }
  }
}

function redisCommand(...args) {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
}

async function checkRedis(url) {
  const u = new URL(url)
  const { host, port } = { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) }
  const password = u.password ? decodeURIComponent(u.password) : null
  const user = u.username ? decodeURIComponent(u.username) : null
  let authed = !password
  return tcpExchange({
    host,
    port,
    useTls: u.protocol === 'rediss:',
    onConnect: (s) => {
      if (password) s.write(user ? redisCommand('AUTH', user, password) : redisCommand('AUTH', password))
      s.write(redisCommand('PING'))
    },
    onData: (buf) => {
      const lines = buf.toString('latin1').split('\r\n')
      for (const line of lines) {
        if (!authed && line.startsWith('+OK')) {
          authed = true
          continue
        }
        if (line.startsWith('+PONG')) return { ok: true, detail: 'PONG' }
        if (line.startsWith('-')) return { ok: false, detail: line.slice(1) }
      }
      return null
    },
  })
}

async function checkMariadb(url) {
  const u = new URL(url)
  const host = u.hostname || '127.0.0.1'
  const port = Number(u.port || 3306)
  // The server speaks first: a handshake packet (3-byte length, sequence id, protocol version 10,
  // then the NUL-terminated server version), or an error packet (0xff) e.g. "host is blocked".
  return tcpExchange({
    host,
    port,
    onData: (buf) => {
      if (buf.length < 5) return null
      const len = buf.readUIntLE(0, 3)
      if (buf.length < 4 + len) return null
      if (buf[4] === 0xff) return { ok: false, detail: buf.subarray(7, 4 + len).toString('utf8') }
      if (buf[4] !== 10) return { ok: false, detail: `unexpected protocol version ${buf[4]}` }
      const end = buf.indexOf(0, 5)
      return { ok: true, detail: `server ${buf.subarray(5, end).toString('latin1')}` }
    },
  })
}

async function checkPostgres(url) {
  const u = new URL(url)
  // SSLRequest (length 8, code 80877103): a PostgreSQL server answers one byte, 'S' or 'N'.
  const request = Buffer.alloc(8)
  request.writeUInt32BE(8, 0)
  request.writeUInt32BE(80877103, 4)
  return tcpExchange({
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 5432),
    onConnect: (s) => s.write(request),
    onData: (buf) => {
      if (buf.length < 1) return null
      const answer = String.fromCharCode(buf[0])
      return answer === 'S' || answer === 'N'
        ? { ok: true, detail: `SSLRequest answered '${answer}'` }
        : { ok: false, detail: `unexpected answer 0x${buf[0].toString(16)}` }
    },
  })
}

function check(name, url) {
  switch (name) {
    case 'kafka':
      return checkKafka(url)
    case 'opensearch':
      return checkSearch(url, { requireElasticHeader: false })
    case 'elasticsearch':
      return checkSearch(url, { requireElasticHeader: true })
    case 'redis':
      return checkRedis(url)
    case 'mariadb':
      return checkMariadb(url)
    case 'postgres':
      return checkPostgres(url)
    default:
      throw new HarnessError(`unknown service ${name}`)
  }
}

async function portInUse(port) {
  const r = await tcpExchange({
    host: '127.0.0.1',
    port,
    timeoutMs: 1000,
    onConnect: (s) => s.end(),
    onData: () => null,
  })
  return r.detail !== 'ECONNREFUSED'
}

// ---------------------------------------------------------------------------------------------
// JDKs and Maven

function jdkMajor(home) {
  try {
    const m = /JAVA_VERSION="(\d+)/.exec(fs.readFileSync(path.join(home, 'release'), 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

function listJdks() {
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
function pickJdk(minMajor, preferMajor, overrideVar) {
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

function jdkFor(name) {
  return name === 'elasticsearch'
    ? pickJdk(21, 25, 'SERVICES_JAVA21_HOME')
    : pickJdk(17, 17, 'SERVICES_JAVA17_HOME')
}

function newestMtime(dir) {
  let newest = 0
  const walk = (p) => {
    const st = fs.statSync(p)
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e))
    else newest = Math.max(newest, st.mtimeMs)
  }
  walk(dir)
  return newest
}

function classpathFile(name) {
  return path.join(TARGET_DIR, name, 'classpath.txt')
}

function buildIsFresh(name) {
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

function m2Bytes() {
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
async function build(names) {
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

// ---------------------------------------------------------------------------------------------
// launching the JVM servers

function heap(name, fallback) {
  return process.env[`SERVICES_${name.toUpperCase()}_HEAP`] ?? fallback
}

function extraOpts(name) {
  const v = process.env[`SERVICES_${name.toUpperCase()}_JAVA_OPTS`]
  return v ? v.split(/\s+/).filter(Boolean) : []
}

function classpath(name) {
  const jars = fs.readFileSync(classpathFile(name), 'utf8').trim()
  return name === 'kafka' ? jars : `${path.join(TARGET_DIR, name, 'classes')}:${jars}`
}

function kafkaProperties(dir) {
  const p = kafkaPorts()
  const secured = kafkaSecurityProperties(kafkaSecurity())
  const brokerListeners = [`PLAINTEXT://127.0.0.1:${p.plaintext}`, ...secured.listeners]
  // Single KRaft node, broker and controller in one process. Replication factors of the internal
  // topics must be 1 on one broker, or consumers loop on "group coordinator is not available".
  // Brokers talk to themselves over PLAINTEXT; clients may use any listener.
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${p.controller}`,
    `listeners=${[...brokerListeners, `CONTROLLER://127.0.0.1:${p.controller}`].join(',')}`,
    `advertised.listeners=${brokerListeners.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=${['PLAINTEXT', 'CONTROLLER', ...secured.protocols].map((l) => `${l}:${l === 'CONTROLLER' ? 'PLAINTEXT' : l}`).join(',')}`,
    ...secured.lines,
    `log.dirs=${path.join(dir, 'data')}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    'log.retention.hours=24',
    'log.segment.bytes=67108864',
    '',
  ].join('\n')
}

async function formatKafkaStorage(dir, jdk) {
  const props = path.join(dir, 'server.properties')
  fs.writeFileSync(props, kafkaProperties(dir))
  if (fs.existsSync(path.join(dir, 'data', 'meta.properties'))) return
  // A Kafka cluster id is 16 random bytes in URL-safe base64 without padding (22 chars).
  const clusterId = randomBytes(16).toString('base64url')
  const r = spawnSync(
    path.join(jdk.home, 'bin', 'java'),
    [
      '-Xmx256m',
      `-Dlog4j2.configurationFile=${path.join(SERVICES_DIR, 'launcher', 'kafka', 'log4j2.properties')}`,
      '-cp',
      classpath('kafka'),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      props,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  )
  fs.appendFileSync(logFile('kafka'), `${r.stdout ?? ''}${r.stderr ?? ''}`)
  if (r.status !== 0) {
    throw new HarnessError(`kafka storage format failed (${r.status ?? r.signal ?? r.error?.message})`, {
      service: 'kafka',
      logFile: logFile('kafka'),
    })
  }
}

async function javaCommand(name, jdk) {
  const dir = serviceDir(name)
  const marker = `-Dayala.services.home=${dir}`
  const common = [
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    '-Dfile.encoding=UTF-8',
    marker,
  ]
  if (name === 'kafka') {
    await formatKafkaStorage(dir, jdk)
    const h = heap('kafka', '512m')
    return [
      `-Xms${h}`,
      `-Xmx${h}`,
      ...common,
      '-XX:MaxGCPauseMillis=20',
      `-Dlog4j2.configurationFile=${path.join(SERVICES_DIR, 'launcher', 'kafka', 'log4j2.properties')}`,
      ...extraOpts(name),
      '-cp',
      classpath('kafka'),
      'kafka.Kafka',
      path.join(dir, 'server.properties'),
    ]
  }
  const home = path.join(dir, 'home')
  const h = heap(name, '1g')
  const url = new URL(DEFAULTS[name].url)
  const settings = [`path.home=${home}`, `http.port=${url.port}`, `transport.port=${Number(url.port) + 100}`]
  const jvm = [
    `-Xms${h === '1g' ? '512m' : h}`,
    `-Xmx${h}`,
    ...common,
    `-Dlog4j2.configurationFile=${path.join(SERVICES_DIR, 'launcher', name, 'log4j2.properties')}`,
    '-Dlog4j2.disable.jmx=true',
    // the node's own shutdown hook closes it; log4j's would stop logging before that finishes
    '-Dlog4j.shutdownHookEnabled=false',
  ]
  if (name === 'opensearch') {
    return [
      ...jvm,
      ...extraOpts(name),
      '-cp',
      classpath(name),
      'dev.ayala.services.OpenSearchLauncher',
      ...settings,
    ]
  }
  const nativeLibs = elasticsearchNativeLibs(dir)
  // Lucene 10 and ES 9 use the foreign-function API and the Vector API when allowed; granting
  // them avoids warnings and the slower fallbacks.
  return [
    ...jvm,
    '--enable-native-access=ALL-UNNAMED',
    '--add-modules=jdk.incubator.vector',
    // Netty 4.1 still allocates through sun.misc.Unsafe; JDK 24+ warns on every start without this.
    ...(jdk.major >= 24 ? ['--sun-misc-unsafe-memory-access=allow'] : []),
    ...(nativeLibs
      ? [
          `-Des.nativelibs.path=${nativeLibs}`,
          // libvec (SIMD vector distances) is Elastic's own build, not on Maven Central nor in
          // Debian; a missing libvec would switch the whole native provider off again. Lucene's
          // Panama vector code (the default without it) is what the node used before anyway.
          '-Dorg.elasticsearch.nativeaccess.enableVectorLibrary=false',
        ]
      : []),
    ...extraOpts(name),
    '-cp',
    classpath(name),
    'dev.ayala.services.ElasticsearchLauncher',
    ...settings,
  ]
}

// The machine's libzstd (Debian's libzstd1, a pre-dependency of dpkg, so on every Debian/Ubuntu).
const ZSTD_CANDIDATES = [
  process.arch === 'arm64'
    ? '/usr/lib/aarch64-linux-gnu/libzstd.so.1'
    : '/usr/lib/x86_64-linux-gnu/libzstd.so.1',
  '/usr/lib64/libzstd.so.1',
  '/usr/lib/libzstd.so.1',
]

/**
 * ES 9's native access (org.elasticsearch.nativeaccess) loads its libraries by file name from
 * -Des.nativelibs.path, else from <es.path.home>/lib/platform/<os>-<arch>, a system property only
 * the distribution's launcher sets. An embedded node has neither: the loader's static init throws
 * a NullPointerException and the whole native provider is off ("Unable to load native provider"),
 * which leaves ES without zstd: an index with `index.codec: best_compression` (zstd stored fields)
 * fails its shard on the first refresh. The distribution's libzstd.so is not on Maven Central, but
 * the stable zstd API ES binds (ZSTD_compress, ZSTD_decompress, ...) is the system library's, so a
 * directory holding `libzstd.so` (the exact name ES asks for) linked to it is enough. Returns that
 * directory, or null when no libzstd is found (the node then starts as before, without native access).
 */
function elasticsearchNativeLibs(dir) {
  if (process.platform !== 'linux') return null
  const lib = ZSTD_CANDIDATES.find((f) => fs.existsSync(f))
  if (!lib) {
    warn(
      '[elasticsearch] no libzstd.so.1 found (apt-get install -y libzstd1): starting without native access',
    )
    return null
  }
  const libDir = path.join(dir, 'native')
  const link = path.join(libDir, 'libzstd.so')
  fs.mkdirSync(libDir, { recursive: true })
  let current = null
  try {
    current = fs.readlinkSync(link)
  } catch {
    // no link yet (or a plain file left by hand): recreated below
  }
  if (current !== lib) {
    fs.rmSync(link, { force: true })
    fs.symlinkSync(lib, link)
  }
  return libDir
}

async function startJvm(name) {
  const jdk = jdkFor(name)
  const dir = serviceDir(name)
  fs.mkdirSync(dir, { recursive: true })
  // Logs are appended across restarts (a crash's story stays readable); keep one old generation.
  if (fs.existsSync(logFile(name)) && fs.statSync(logFile(name)).size > 20 * 1024 * 1024) {
    fs.renameSync(logFile(name), `${logFile(name)}.1`)
  }
  fs.appendFileSync(
    logFile(name),
    `\n===== ayala-services: starting ${name} at ${new Date().toISOString()} =====\n`,
  )
  const args = await javaCommand(name, jdk)
  const out = fs.openSync(logFile(name), 'a')
  const child = spawn(path.join(jdk.home, 'bin', 'java'), args, {
    cwd: dir,
    detached: true, // own session: survives this CLI, and `down` can signal the whole group
    stdio: ['ignore', out, out],
    env: { ...process.env, JAVA_HOME: jdk.home },
  })
  fs.closeSync(out)
  child.unref()
  fs.writeFileSync(pidFile(name), `${child.pid}\n`)
  return child.pid
}

// ---------------------------------------------------------------------------------------------
// the machine's Redis and MariaDB

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null
}

function aptInstall(pkg) {
  if (process.getuid?.() !== 0 || !which('apt-get')) return false
  log(`[${pkg}] not installed: apt-get install -y ${pkg} ...`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  let r = spawnSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'inherit', env, timeout: 600_000 })
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env, timeout: 600_000 })
    r = spawnSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'inherit', env, timeout: 600_000 })
  }
  return r.status === 0
}

async function startRedis() {
  const bin = which('redis-server') ?? (aptInstall('redis-server') ? which('redis-server') : null)
  if (!bin)
    throw new HarnessError(
      'Redis is down and redis-server is not installed (apt-get install -y redis-server)',
      { service: 'redis' },
    )
  fs.mkdirSync(serviceDir('redis'), { recursive: true })
  const { port } = hostPort(DEFAULTS.redis.url, 6379)
  const r = spawnSync(
    bin,
    [
      '--daemonize',
      'yes',
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--pidfile',
      pidFile('redis'),
      '--logfile',
      logFile('redis'),
      '--dir',
      serviceDir('redis'),
    ],
    { encoding: 'utf8', timeout: 30_000 },
  )
  if (r.status !== 0)
    throw new HarnessError(`redis-server failed: ${r.stderr || r.stdout}`, {
      service: 'redis',
      logFile: logFile('redis'),
    })
}

async function startMariadb() {
  const bin = fs.existsSync('/usr/sbin/mariadbd') ? '/usr/sbin/mariadbd' : which('mariadbd')
  if (!bin)
    throw new HarnessError(
      'MariaDB is down and mariadbd is not installed (apt-get install -y mariadb-server)',
      { service: 'mariadb' },
    )
  fs.mkdirSync(serviceDir('mariadb'), { recursive: true })
  fs.mkdirSync('/run/mysqld', { recursive: true })
  spawnSync('chown', ['mysql:mysql', '/run/mysqld'])
  const r = spawnSync(
    'start-stop-daemon',
    [
      '--start',
      '--oknodo',
      '--background',
      '--make-pidfile',
      '--pidfile',
      pidFile('mariadb'),
      // stdout/stderr to our log, opened by start-stop-daemon as root (mariadbd drops to the mysql
      // user afterwards and could not open a file in a root-owned folder itself)
      '--output',
      logFile('mariadb'),
      '--exec',
      bin,
      '--',
      '--user=mysql',
    ],
    { encoding: 'utf8', timeout: 30_000 },
  )
  if (r.status !== 0)
    throw new HarnessError(`start-stop-daemon mariadbd failed: ${r.stderr || r.stdout}`, {
      service: 'mariadb',
    })
}

/** The machine's PostgreSQL clusters (Debian's `pg_ctlcluster`), started when down. */
async function startPostgres() {
  if (!which('pg_ctlcluster') && !aptInstall('postgresql'))
    throw new HarnessError('PostgreSQL is down and not installed (apt-get install -y postgresql)', {
      service: 'postgres',
    })
  const versions = fs.existsSync('/etc/postgresql') ? fs.readdirSync('/etc/postgresql') : []
  if (versions.length === 0)
    throw new HarnessError('PostgreSQL is installed but has no cluster under /etc/postgresql', {
      service: 'postgres',
    })
  for (const version of versions) {
    const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    // Exit status 2: the cluster is already running.
    if (r.status !== 0 && r.status !== 2)
      throw new HarnessError(`pg_ctlcluster ${version} main start failed: ${r.stderr || r.stdout}`, {
        service: 'postgres',
      })
  }
}

// ---------------------------------------------------------------------------------------------
// commands

function statsFile() {
  return path.join(STATE_DIR, 'stats.json')
}

async function waitHealthy(name, url, pid, deadline) {
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

async function stopPid(name, pid) {
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

function writeEnvFiles({ kafkaSecurity: secured = true } = {}) {
  const env = {}
  for (const n of ALL_NAMES) env[DEFAULTS[n].env] = resolvedUrl(n).url
  // The authenticated listeners exist only on a Kafka this harness runs (checked by `up`).
  if (
    secured &&
    harnessKafka() &&
    ownedPid('kafka') &&
    fs.existsSync(path.join(securityDir(), 'credentials.json'))
  )
    Object.assign(env, kafkaSecurityEnv(kafkaSecurity()))
  fs.mkdirSync(STATE_DIR, { recursive: true })
  fs.writeFileSync(path.join(STATE_DIR, 'env.json'), `${JSON.stringify(env, null, 2)}\n`)
  const lines = Object.entries(env).map(([k, v]) => `export ${k}='${v.replaceAll("'", "'\\''")}'`)
  fs.writeFileSync(path.join(STATE_DIR, 'env'), `${lines.join('\n')}\n`)
  return lines
}

async function up(names) {
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
  if (names.includes('kafka') && harnessKafka() && ownedPid('kafka')) {
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

async function down(names) {
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

async function status(names) {
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

function logs(names, lines) {
  for (const name of names) {
    log(`----- ${path.relative(ROOT, logFile(name))} (last ${lines} lines) -----`)
    log(tail(logFile(name), lines))
  }
}

async function clean(names) {
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
async function withLock(fn) {
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

const USAGE = `usage: node services/cli.mjs <up|down|status|logs|clean> [name...] [--lines N]
  names: ${ALL_NAMES.join(', ')} (default: all; down/clean default to ${JVM_NAMES.join(', ')} plus redis/mariadb if this harness started them; postgres is never stopped)
  up      start what is not running, wait until healthy, print URLs, write .services/env and env.json
  down    stop what this harness started (SIGTERM, SIGKILL after ${STOP_GRACE_MS / 1000} s)
  status  state, pid, RSS and URL of each service (exit 3 when one is not healthy)
  logs    tail of each service's log (default 100 lines)
  clean   down, then delete the data and logs of the JVM servers
env: KAFKA_BROKERS OPENSEARCH_URL ELASTICSEARCH_URL REDIS_URL DATABASE_URL (use that server, start none),
     SERVICES_TIMEOUT (s, default 180), SERVICES_<NAME>_HEAP, SERVICES_<NAME>_JAVA_OPTS,
     SERVICES_JAVA17_HOME, SERVICES_JAVA21_HOME`

async function main() {
  const argv = process.argv.slice(2)
  const command = argv[0]
  let lines = 100
  const names = []
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--lines' || argv[i] === '-n') lines = Number(argv[++i])
    else if (ALL_NAMES.includes(argv[i])) names.push(argv[i])
    else throw new HarnessError(`unknown service "${argv[i]}"\n${USAGE}`)
  }
  const selected = names.length > 0 ? names : ALL_NAMES
  switch (command) {
    case 'up':
      return withLock(() => up(selected))
    case 'down':
      return withLock(() =>
        down(names.length > 0 ? names : ALL_NAMES.filter((n) => JVM_NAMES.includes(n) || ownedPid(n))),
      )
    case 'status':
      return status(selected)
    case 'logs':
      return logs(names.length > 0 ? names : JVM_NAMES, lines)
    case 'clean':
      return withLock(() =>
        clean(names.length > 0 ? names : ALL_NAMES.filter((n) => JVM_NAMES.includes(n) || ownedPid(n))),
      )
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      log(USAGE)
      return
    default:
      throw new HarnessError(`unknown command "${command}"\n${USAGE}`)
  }
}

main().catch((e) => {
  warn(`services: ${e.message}`)
  if (e.logFile) {
    warn(`----- last ${LOG_TAIL_LINES} lines of ${path.relative(ROOT, e.logFile)} -----`)
    warn(tail(e.logFile))
  }
  process.exitCode = 1
})
