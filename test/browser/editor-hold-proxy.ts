import type { AddressInfo } from 'node:net'
import WebSocket, { WebSocketServer, type RawData } from 'ws'

/**
 * A WebSocket proxy in front of a relay that can hold back everything the
 * relay sends (acknowledgements, status reports, updates) and let it through
 * later, in order. While held, the relay still receives and stores the
 * client's writes, but the client completes no round trip: its staleness
 * bound grows past any bound, as behind a stalled or half-open link. Nothing
 * is dropped: `release()` delivers what was held, then passes through again.
 */
export interface HoldProxy {
  readonly url: string
  hold(): void
  release(): void
  /** Messages held back so far (delivered or not). */
  readonly held: () => number
  close(): Promise<void>
}

/** At most this many messages are held per connection; beyond it the connection is closed (bounded memory). */
const MAX_HELD_PER_CONNECTION = 10_000

export async function startHoldProxy(relayUrl: string): Promise<HoldProxy> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  let holding = false
  let heldCount = 0
  const flushers = new Set<() => void>()
  const sockets = new Set<WebSocket>()
  server.on('connection', (client, request) => {
    const upstream = new WebSocket(`${relayUrl}${request.url ?? '/'}`)
    sockets.add(client).add(upstream)
    const early: RawData[] = []
    const queue: Uint8Array[] = []
    client.on('message', (data: RawData) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data)
      else early.push(data)
    })
    upstream.on('open', () => {
      for (const data of early.splice(0)) upstream.send(data)
    })
    const flush = (): void => {
      for (const bytes of queue.splice(0)) if (client.readyState === WebSocket.OPEN) client.send(bytes)
    }
    flushers.add(flush)
    upstream.on('message', (data: RawData) => {
      const bytes = new Uint8Array(data as Buffer)
      if (holding) {
        heldCount++
        queue.push(bytes)
        if (queue.length > MAX_HELD_PER_CONNECTION) closeBoth()
        return
      }
      if (client.readyState === WebSocket.OPEN) client.send(bytes)
    })
    const closeBoth = (): void => {
      flushers.delete(flush)
      client.close()
      upstream.close()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('close', closeBoth)
    upstream.on('close', closeBoth)
    client.on('error', closeBoth)
    upstream.on('error', closeBoth)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}`,
    hold: () => {
      holding = true
    },
    release: () => {
      holding = false
      for (const flush of [...flushers]) flush()
    },
    held: () => heldCount,
    close: async () => {
      for (const socket of sockets) socket.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
