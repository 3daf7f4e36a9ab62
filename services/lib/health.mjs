// Health checks of the other services (each bounded by its own timeout, never throwing: they
// answer { ok, detail }): OpenSearch/Elasticsearch GET /_cluster/health, Redis PING, MariaDB's
// handshake packet, PostgreSQL's answer to an SSLRequest, Kafka's in kafka-wire.mjs; `check`
// picks the right one by service name.

import { HarnessError } from './common.mjs'
import { checkKafka } from './kafka-wire.mjs'
import { tcpExchange } from './tcp.mjs'

export async function checkSearch(url, { requireElasticHeader }) {
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

export function redisCommand(...args) {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
}

export async function checkRedis(url) {
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

export async function checkMariadb(url) {
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

export async function checkPostgres(url) {
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

export function check(name, url) {
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
