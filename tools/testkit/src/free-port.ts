import { createServer, type Server } from 'node:net'

/** A TCP port on 127.0.0.1 that was free when asked (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/**
 * `count` distinct TCP ports on 127.0.0.1 that were free when asked: all sockets are open at the
 * same time, so the OS cannot hand the same port out twice, then all are closed before the ports
 * are used.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer())
  const listen = (server: Server) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        resolve(typeof address === 'object' && address ? address.port : 0)
      })
    })
  try {
    return await Promise.all(servers.map(listen))
  } finally {
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (server.listening) server.close(() => resolve())
            else resolve()
          }),
      ),
    )
  }
}
