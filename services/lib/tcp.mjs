// One bounded TCP (or TLS) exchange, the primitive of every health check: connect, write, read
// until `onData` answers, and give up after `timeoutMs`. It never throws: it resolves
// `{ ok, detail }`, so a check that fails says why.

import net from 'node:net'
import tls from 'node:tls'

/**
 * `ca` (PEM): verify the server's certificate against it (a check that must prove the clients'
 * trust works, not only that something speaks TLS); without it the certificate is not checked.
 */
export function tcpExchange({ host, port, useTls = false, ca, timeoutMs = 3000, onConnect, onData }) {
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
          ...(ca === undefined ? { rejectUnauthorized: false } : { ca, rejectUnauthorized: true }),
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

export async function portInUse(port) {
  const r = await tcpExchange({
    host: '127.0.0.1',
    port,
    timeoutMs: 1000,
    onConnect: (s) => s.end(),
    onData: () => null,
  })
  return r.detail !== 'ECONNREFUSED'
}
