/**
 * An authenticating reverse proxy of our own, for credential and TLS tests against services that
 * have no security of their own (the harness's OpenSearch and Elasticsearch nodes run without a
 * security plugin). It terminates TLS with a certificate made by `openssl` at start (or serves
 * plain HTTP), checks the `Authorization` header against the accepted basic users, API keys and
 * bearer tokens, answers 401 (with an engine-like `security_exception` body naming the user, as
 * the real security plugins do) or 403 for a known user without permission, and forwards
 * everything else to the real node unchanged, without the `Authorization` header.
 *
 * It counts requests, rejections and forwards, so a test can assert that a client with wrong
 * credentials made one request per call (no retry loop).
 */
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { makeTestCertificates, type TestCertificates } from './certificates.ts'

/** Options of {@link startAuthProxy}. */
export interface AuthProxyOptions {
  /** Upstream base URL, e.g. `http://127.0.0.1:9200`. */
  target: string
  /** Terminate TLS (a fresh CA and certificate per proxy). @default true */
  tls?: boolean | undefined
  /** Accepted basic users: name -> password. @default {} */
  users?: Record<string, string> | undefined
  /** Users that authenticate but may do nothing (403). @default [] */
  forbidden?: readonly string[] | undefined
  /** Accepted `ApiKey <value>` header values. @default [] */
  apiKeys?: readonly string[] | undefined
  /** Accepted `Bearer <token>` values. @default [] */
  bearers?: readonly string[] | undefined
}

/** A running proxy. */
export interface AuthProxy {
  /** `https://127.0.0.1:<port>` (or http). */
  readonly url: string
  readonly port: number
  /** The certificates (with `tls`), e.g. `certificates.caPem` for the client. */
  readonly certificates: TestCertificates | undefined
  /** Requests received. */
  readonly requests: number
  /** Requests refused with 401 or 403. */
  readonly rejected: number
  /** Requests forwarded to the target. */
  readonly forwarded: number
  /** Stop listening and delete the certificates. */
  close(): Promise<void>
}

/** Start an authenticating reverse proxy in front of `options.target` on 127.0.0.1. */
export async function startAuthProxy(options: AuthProxyOptions): Promise<AuthProxy> {
  const target = new URL(options.target)
  const users = options.users ?? {}
  const forbidden = new Set(options.forbidden ?? [])
  const apiKeys = new Set(options.apiKeys ?? [])
  const bearers = new Set(options.bearers ?? [])
  const certificates = options.tls === false ? undefined : makeTestCertificates()
  let requests = 0
  let rejected = 0
  let forwarded = 0

  const refuse = (res: ServerResponse, status: 401 | 403, reason: string) => {
    rejected++
    res.writeHead(status, {
      'content-type': 'application/json',
      ...(status === 401 ? { 'www-authenticate': 'Basic realm="ayala-test", ApiKey, Bearer' } : {}),
    })
    res.end(JSON.stringify({ error: { type: 'security_exception', reason }, status }))
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests++
    const header = req.headers.authorization ?? ''
    const [scheme, value = ''] = header.split(/\s+/, 2)
    let user: string | undefined
    if (scheme === 'Basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      const name = colon >= 0 ? decoded.slice(0, colon) : decoded
      const password = colon >= 0 ? decoded.slice(colon + 1) : ''
      if (!Object.hasOwn(users, name) || users[name] !== password) {
        req.resume()
        return refuse(res, 401, `unable to authenticate user [${name}] for REST request [${req.url}]`)
      }
      user = name
    } else if (scheme === 'ApiKey') {
      if (!apiKeys.has(value)) {
        req.resume()
        return refuse(
          res,
          401,
          'unable to authenticate with provided credentials and anonymous access is not allowed',
        )
      }
    } else if (scheme === 'Bearer') {
      if (!bearers.has(value)) {
        req.resume()
        return refuse(
          res,
          401,
          'unable to authenticate with provided credentials and anonymous access is not allowed',
        )
      }
    } else {
      req.resume()
      return refuse(res, 401, `missing authentication credentials for REST request [${req.url}]`)
    }
    if (user !== undefined && forbidden.has(user)) {
      req.resume()
      return refuse(res, 403, `action [${req.method} ${req.url}] is unauthorized for user [${user}]`)
    }
    forwarded++
    // Hop-by-hop headers stay here; one fresh upstream connection per request (`agent: false`), so
    // a keep-alive socket the node closed meanwhile never turns into a spurious 502.
    const {
      authorization: _auth,
      host: _host,
      connection: _conn,
      'keep-alive': _ka,
      ...headers
    } = req.headers
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: Number(target.port || 80),
        method: req.method,
        path: req.url,
        headers,
        agent: false,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { type: 'proxy_error', reason: error.message }, status: 502 }))
    })
    req.pipe(upstream)
  }

  const server = certificates
    ? createHttpsServer({ cert: certificates.certPem, key: certificates.keyPem }, handle)
    : createHttpServer(handle)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `${certificates ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    certificates,
    get requests() {
      return requests
    },
    get rejected() {
      return rejected
    },
    get forwarded() {
      return forwarded
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      certificates?.remove()
    },
  }
}
