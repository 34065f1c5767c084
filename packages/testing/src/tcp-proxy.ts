import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * A loopback TCP proxy in front of a service (Redis, PostgreSQL), to cut a
 * client's connection without touching the service or anyone else using it:
 * `setOnline(false)` drops every proxied connection and refuses new ones
 * (accepted, then reset at once) until `setOnline(true)`.
 */
export interface TcpProxy {
  readonly port: number
  readonly url: (scheme: string, path?: string) => string
  /** Connections currently proxied. */
  readonly connectionCount: () => number
  setOnline(online: boolean): void
  close(): Promise<void>
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1'
  const pairs = new Set<[Socket, Socket]>()
  let online = true
  const server: Server = createServer((client) => {
    if (!online) {
      client.resetAndDestroy()
      return
    }
    const upstream = connect(target.port, host)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    const drop = (): void => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop)
    upstream.on('error', drop)
    client.on('close', drop)
    upstream.on('close', drop)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address !== 'object') throw new Error('proxy has no address')
  const port = address.port
  return {
    port,
    url: (scheme, path = '') => `${scheme}://127.0.0.1:${port}${path}`,
    connectionCount: () => pairs.size,
    setOnline(value) {
      online = value
      if (!value) {
        for (const [client, upstream] of [...pairs]) {
          client.resetAndDestroy()
          upstream.destroy()
        }
        pairs.clear()
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        online = false
        for (const [client, upstream] of [...pairs]) {
          client.destroy()
          upstream.destroy()
        }
        pairs.clear()
        server.close(() => resolve())
      })
  }
}
