/**
 * A loopback TCP proxy of our own, for fault tests: point a client at `proxy.port` instead of the
 * server's and cut, blackhole or slow the link while the test runs, without touching the server
 * that other tests share.
 *
 * Modes:
 * - `pass` (default): bytes flow both ways.
 * - `refuse`: every open connection is destroyed (the client sees ECONNRESET) and new ones are
 *   closed as soon as they arrive, as a stopped server or a firewall REJECT would do.
 * - `blackhole`: connections stay open (and new ones are accepted) but nothing is forwarded in
 *   either direction: a frozen server or a route that drops packets, where only the client's
 *   timeouts help. Reading is paused, so bytes sent meanwhile wait in the kernel's buffers and are
 *   delivered when the mode returns to `pass`, as TCP's retransmissions would deliver them once
 *   the route heals.
 *
 * `latency` delays every chunk in both directions by that many milliseconds (a slow link).
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

/** How the proxy treats traffic. */
export type TcpProxyMode = 'pass' | 'refuse' | 'blackhole'

/** Options of {@link startTcpProxy}. */
export interface TcpProxyOptions {
  /** Port of the server on 127.0.0.1 (or `host`) to forward to. */
  targetPort: number
  /** Host of the server. @default '127.0.0.1' */
  targetHost?: string | undefined
  /** Port to listen on. @default a free port */
  port?: number | undefined
}

/** A running proxy. */
export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  readonly port: number
  /** The current mode. */
  readonly mode: TcpProxyMode
  /** Connections accepted since start. */
  readonly accepted: number
  /** Connections currently open. */
  readonly open: number
  /** Switch the mode; `refuse` also destroys every open connection. */
  setMode(mode: TcpProxyMode): void
  /** Shorthand for `setMode('refuse')`. */
  cut(): void
  /** Shorthand for `setMode('blackhole')`. */
  blackhole(): void
  /** Shorthand for `setMode('pass')`. */
  restore(): void
  /** Delay every forwarded chunk by `ms` (0: none). */
  setLatency(ms: number): void
  /** Stop listening and destroy every connection. */
  close(): Promise<void>
}

interface Pair {
  client: Socket
  upstream: Socket
}

/** Start a proxy on 127.0.0.1 forwarding to `targetHost:targetPort`. */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1'
  let mode: TcpProxyMode = 'pass'
  let latency = 0
  let accepted = 0
  const pairs = new Set<Pair>()
  /** Chunks held while blackholed, delivered in order on `pass`. */
  let held: Array<() => void> = []

  const forward = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (mode === 'refuse') return
      if (mode === 'blackhole') {
        // Hold this chunk and stop reading until the link heals.
        from.pause()
        held.push(() => {
          if (!to.destroyed) to.write(chunk)
          from.resume()
        })
        return
      }
      if (latency === 0) {
        to.write(chunk)
        return
      }
      // Keep order: pause reading while a delayed chunk waits.
      from.pause()
      setTimeout(() => {
        if (mode === 'refuse' || to.destroyed) return
        to.write(chunk)
        from.resume()
      }, latency)
    })
  }

  const server: Server = createServer((client) => {
    accepted++
    if (mode === 'refuse') {
      client.destroy()
      return
    }
    const upstream = tcpConnect({ host: targetHost, port: options.targetPort })
    const pair: Pair = { client, upstream }
    pairs.add(pair)
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end)
    upstream.on('error', end)
    client.on('close', end)
    upstream.on('close', end)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    forward(client, upstream)
    forward(upstream, client)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address')

  const setMode = (next: TcpProxyMode): void => {
    mode = next
    if (next === 'pass') {
      const release = held
      held = []
      for (const deliver of release) deliver()
    }
    if (next === 'refuse') {
      held = []
      for (const pair of pairs) {
        pair.client.destroy()
        pair.upstream.destroy()
      }
      pairs.clear()
    }
  }

  return {
    port: address.port,
    get mode() {
      return mode
    },
    get accepted() {
      return accepted
    },
    get open() {
      return pairs.size
    },
    setMode,
    cut: () => setMode('refuse'),
    blackhole: () => setMode('blackhole'),
    restore: () => setMode('pass'),
    setLatency(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`latency must be >= 0 ms, got ${ms}`)
      latency = ms
    },
    async close() {
      setMode('refuse')
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
