/**
 * A raw HTTP/1.1 client over a TCP socket, for fuzzing: it sends the exact bytes it is given (a
 * path with raw or invalid bytes, any header, a body in any encoding), which `fetch` and
 * `http.request` refuse to do. One request per connection (`Connection: close`).
 *
 * A request is "answered" once the status line and headers arrived; the body is then read to
 * the end of the connection, except for an event stream (which never ends). A request not
 * answered within `deadlineMs` is reported as such (`status: null`) and its socket destroyed.
 */
import { connect } from 'node:net'

/** One request as bytes on the wire (the client adds `Host`, `Connection: close` and the body's framing). */
export interface RawRequest {
  method: string
  /** The request target, as bytes (`latin1` string: one character per byte). */
  target: string
  headers: Array<[string, string]>
  body?: Buffer | undefined
  /** Send the body with `Transfer-Encoding: chunked` (in chunks of this many bytes) instead of Content-Length. */
  chunked?: number | undefined
}

/** What came back. */
export interface RawResponse {
  /** The HTTP status, or null when the deadline passed before the headers (or the connection closed without any). */
  status: number | null
  /** Why there is no status: `deadline` or `closed`. */
  failure?: 'deadline' | 'closed' | undefined
  headers: Record<string, string>
  body: Buffer
  ms: number
}

/** Serialize `request` for `host` (exported for the tests' own checks). */
export function encodeRequest(request: RawRequest, host: string): Buffer {
  const lines = [`${request.method} ${request.target} HTTP/1.1`, `Host: ${host}`, 'Connection: close']
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`)
  const body = request.body
  if (body !== undefined && request.chunked !== undefined) lines.push('Transfer-Encoding: chunked')
  else if (body !== undefined) lines.push(`Content-Length: ${body.length}`)
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')
  if (body === undefined) return head
  if (request.chunked === undefined) return Buffer.concat([head, body])
  const parts: Buffer[] = [head]
  const size = Math.max(1, request.chunked)
  for (let at = 0; at < body.length; at += size) {
    const chunk = body.subarray(at, at + size)
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, Buffer.from('\r\n'))
  }
  parts.push(Buffer.from('0\r\n\r\n'))
  return Buffer.concat(parts)
}

/** Send `request` to `127.0.0.1:port`. */
export function sendRaw(port: number, request: RawRequest, deadlineMs: number): Promise<RawResponse> {
  const started = performance.now()
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    let status: number | null = null
    let headers: Record<string, string> = {}
    let bodyAt = -1
    let settled = false
    const finish = (failure?: 'deadline' | 'closed') => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve({
        status,
        failure: status === null ? (failure ?? 'closed') : undefined,
        headers,
        body: bodyAt < 0 ? Buffer.alloc(0) : received.subarray(bodyAt),
        ms: performance.now() - started,
      })
    }
    const timer = setTimeout(() => finish('deadline'), deadlineMs)
    socket.on('connect', () => socket.write(encodeRequest(request, `127.0.0.1:${port}`)))
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (status !== null) return
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      const [statusLine = '', ...lines] = received.subarray(0, end).toString('latin1').split('\r\n')
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)
      // A 100 Continue is not the answer: drop it and wait for the next head.
      if (match?.[1] === '100') {
        received = received.subarray(end + 4)
        return
      }
      status = match ? Number(match[1]) : 0
      headers = Object.fromEntries(
        lines.map((line) => {
          const colon = line.indexOf(':')
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]
        }),
      )
      bodyAt = end + 4
      if ((headers['content-type'] ?? '').includes('text/event-stream')) finish()
    })
    // The server may reset a connection it refused (a 400 from the parser, then close) while we
    // still write the body: what was answered before counts.
    socket.on('error', () => finish('closed'))
    socket.on('end', () => finish('closed'))
    socket.on('close', () => finish('closed'))
  })
}

/** The body of a `Transfer-Encoding: chunked` response, decoded (or the bytes as they are otherwise). */
export function responseBody(response: RawResponse): Buffer {
  if ((response.headers['transfer-encoding'] ?? '').toLowerCase() !== 'chunked') return response.body
  const parts: Buffer[] = []
  let at = 0
  const bytes = response.body
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16)
    if (!(size > 0)) break
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}
