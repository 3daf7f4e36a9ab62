// Kafka's authenticated listeners: SASL/SCRAM and TLS
//
// Besides PLAINTEXT on its port P (what every other test uses, unchanged), the harness's Kafka
// listens on P+2 with SASL_PLAINTEXT (SCRAM-SHA-256 and -512), on P+3 with SSL (server
// certificate only) and on P+4 with SASL_SSL; the controller stays on P+1. The SCRAM user and its
// random password live in credentials.json (mode 0600) of one folder per machine (`securityDir()`:
// shared by every checkout, so a broker started from one serves the others); the CA, the
// server certificate and its PKCS#12 keystore are made with openssl into the same folder (valid
// 825 days, remade when missing or expiring within a day). The user is created (upserted, so a
// data directory formatted before this existed gets it too) with AlterUserScramCredentials over
// PLAINTEXT once the broker is healthy, and `up` then logs in through SCRAM on the SASL
// listeners and reads metadata over TLS, so a written .services/env always names working
// listeners. Without openssl the TLS listeners are left out (and `up` says so).

import { spawnSync } from 'node:child_process'
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  DEFAULTS,
  HarnessError,
  hostPort,
  logFile,
  readJson,
  resolvedUrl,
  sleep,
  warn,
  which,
} from './common.mjs'
import {
  checkKafkaBroker,
  compactBytes,
  compactString,
  int8,
  int32,
  kafkaFlexibleRequest,
  kafkaFrame,
  kafkaRequest,
  readUvarint,
  uvarint,
} from './kafka-wire.mjs'
import { tcpExchange } from './tcp.mjs'

export const SCRAM_MECHANISMS = [
  { name: 'SCRAM-SHA-256', type: 1, hash: 'sha256', bytes: 32 },
  { name: 'SCRAM-SHA-512', type: 2, hash: 'sha512', bytes: 64 },
]
export const SCRAM_ITERATIONS = 4096

export function kafkaPorts() {
  const { port } = hostPort(DEFAULTS.kafka.url, 9092)
  return { plaintext: port, controller: port + 1, sasl: port + 2, ssl: port + 3, saslSsl: port + 4 }
}

/**
 * Where the SCRAM credentials, the CA and the broker's keystore live: one folder per machine
 * (`AYALA_KAFKA_SECURITY_DIR`, default `~/.cache/ayala-services/kafka-security`), not per
 * checkout, so that a broker started from one checkout serves another (CI runs a fresh clone on
 * the machine whose broker is already up) with the same user and the same trusted CA.
 */
export function securityDir() {
  return (
    process.env.AYALA_KAFKA_SECURITY_DIR ||
    path.join(os.homedir(), '.cache', 'ayala-services', 'kafka-security')
  )
}

/**
 * The SCRAM user, its password and the TLS files of the harness's Kafka, made on first use.
 * Returns `{ username, password, tls: { caFile, keystoreFile, keystorePassword } | null }`.
 */
export function kafkaSecurity() {
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

export function kafkaTlsFiles(dir, credentials) {
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
export function kafkaSecurityProperties(security) {
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

/**
 * Create or update the harness's SCRAM user for both mechanisms (AlterUserScramCredentials v0,
 * API key 51, over PLAINTEXT: the harness runs no authorizer), one request per mechanism (the
 * broker refuses a user twice in one request). The salted password is computed here, as the Java
 * tools do. Retried for up to 15 s: right after start-up the controller may not be ready.
 */
export async function upsertScramUser(host, port, username, password, deadline) {
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

export const saslName = (s) => s.replaceAll('=', '=3D').replaceAll(',', '=2C')
export const hmac = (hash, key, text) => createHmac(hash, key).update(text).digest()

/**
 * Log in with SCRAM (SaslHandshake v1, then two SaslAuthenticate v1 rounds, RFC 5802) on a
 * SASL_PLAINTEXT or SASL_SSL listener: `{ ok: true }` once the broker accepted the proof and
 * its own signature checks out.
 */
export function checkScramLogin({
  host,
  port,
  useTls,
  ca,
  username,
  password,
  mechanism = SCRAM_MECHANISMS[0],
}) {
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
    ca,
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
export async function ensureKafkaSecurity(deadline) {
  const security = kafkaSecurity()
  const p = kafkaPorts()
  const host = '127.0.0.1'
  await upsertScramUser(host, p.plaintext, security.username, security.password, deadline)
  const checks = [
    ['SASL_PLAINTEXT', () => checkScramLogin({ host, port: p.sasl, useTls: false, ...security })],
  ]
  if (security.tls) {
    // Verified against the harness's CA: a broker started with other certificates (another
    // checkout's, before the material was shared) fails here, not later in the clients.
    const ca = fs.readFileSync(security.tls.caFile)
    checks.push(
      ['SSL', () => checkKafkaBroker(host, p.ssl, true, ca)],
      ['SASL_SSL', () => checkScramLogin({ host, port: p.saslSsl, useTls: true, ca, ...security })],
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
export function harnessKafka() {
  const { url, external } = resolvedUrl('kafka')
  return !external || url === DEFAULTS.kafka.url
}

/** The .services/env entries of the authenticated listeners (see services/README.md). */
export function kafkaSecurityEnv(security) {
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
