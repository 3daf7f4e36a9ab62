/**
 * Counting Redis traffic per contender, whatever client library it uses (ioredis for
 * bentocache and ours, node-redis under @keyv/redis): a TCP proxy in front of Redis that parses
 * the requests flowing through it.
 *
 * - Commands: every request is a RESP array of bulk strings (`*<n>\r\n` then n times
 *   `$<len>\r\n<bytes>\r\n`); the proxy counts the arrays. A pipeline of 3 commands counts 3.
 * - Round trips: a connection starts a new round trip when it sends data after having received
 *   a reply since its previous send (or for its first send). Commands written in one tick (a
 *   pipeline, `Promise.all` of gets, MGET) form one round trip; a command sent only after
 *   awaiting another's reply starts another.
 *
 * The proxy is used only in an untimed pass, never while latency is measured.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'

/** Traffic seen by the proxy since the last `reset()`. */
export interface TrafficCounts {
  commands: number
  roundTrips: number
}

/** A running counting proxy. */
export interface CountingProxy {
  /** `redis://127.0.0.1:<port>` of the proxy. */
  readonly url: string
  readonly port: number
  /** Zero the counters. */
  reset(): void
  /** Counters since the last reset. */
  counts(): TrafficCounts
  /** Close the proxy and every proxied connection. */
  close(): Promise<void>
}

/** Incremental parser that counts RESP request arrays across chunk boundaries. */
class RequestCounter {
  #pending: Buffer = Buffer.alloc(0)
  /** Bulk strings still expected in the current array (0: expecting a new array). */
  #remaining = 0

  /** Feed a chunk; returns the number of complete commands it finished. */
  feed(chunk: Buffer): number {
    let buffer = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    let offset = 0
    let completed = 0
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', offset)
      if (lineEnd === -1) break
      const kind = buffer[offset]
      const header = Number(buffer.toString('latin1', offset + 1, lineEnd))
      if (this.#remaining === 0) {
        if (kind === 0x2a /* '*' */) {
          this.#remaining = header
          offset = lineEnd + 2
          if (header <= 0) completed++
          continue
        }
        // An inline command (telnet style): one line, one command.
        offset = lineEnd + 2
        completed++
        continue
      }
      // A bulk string: `$<len>\r\n<len bytes>\r\n`.
      const end = lineEnd + 2 + header + 2
      if (end > buffer.length) break
      offset = end
      this.#remaining--
      if (this.#remaining === 0) completed++
    }
    buffer = buffer.subarray(offset)
    this.#pending = Buffer.from(buffer)
    return completed
  }
}

/** Start a counting proxy on a free loopback port in front of `target` (`redis://host:port`). */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const { hostname, port: targetPort } = new URL(target)
  const sockets = new Set<Socket>()
  let commands = 0
  let roundTrips = 0

  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname || '127.0.0.1', port: Number(targetPort) || 6379 })
    sockets.add(client)
    sockets.add(upstream)
    const counter = new RequestCounter()
    let repliedSinceLastSend = true
    client.on('data', (chunk: Buffer) => {
      if (repliedSinceLastSend) roundTrips++
      repliedSinceLastSend = false
      commands += counter.feed(chunk)
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      repliedSinceLastSend = true
      client.write(chunk)
    })
    const closeBoth = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    // A proxied connection that fails ends both sides; the client library sees a closed socket.
    client.on('error', closeBoth)
    upstream.on('error', closeBoth)
    client.on('close', closeBoth)
    upstream.on('close', closeBoth)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    reset() {
      commands = 0
      roundTrips = 0
    },
    counts() {
      return { commands, roundTrips }
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
