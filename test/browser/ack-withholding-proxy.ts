import type { AddressInfo } from 'node:net'
import WebSocket, { WebSocketServer, type RawData } from 'ws'
import { tryDecodeMessage } from '@meridian/protocol'

/**
 * A WebSocket proxy in front of a relay that passes everything through except
 * the relay's acknowledgements, which it withholds: the relay is reachable,
 * applies, stores and fans out the client's writes, but the client never
 * learns that they are durable. The client's outbox grows and its staleness
 * clock (time since the last completed round trip) keeps running — what a
 * client sees when its relay cannot confirm writes (storage stalled, or a
 * relay cut off behind a half-open partition).
 */
export interface AckWithholdingProxy {
  readonly url: string
  /** Acknowledgements dropped so far. */
  readonly withheld: () => number
  close(): Promise<void>
}

export async function startAckWithholdingProxy(relayUrl: string): Promise<AckWithholdingProxy> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  let withheld = 0
  const sockets = new Set<WebSocket>()
  server.on('connection', (client, request) => {
    const upstream = new WebSocket(`${relayUrl}${request.url ?? '/'}`)
    sockets.add(client).add(upstream)
    const early: RawData[] = []
    client.on('message', (data: RawData) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data)
      else early.push(data)
    })
    upstream.on('open', () => {
      for (const data of early.splice(0)) upstream.send(data)
    })
    upstream.on('message', (data: RawData) => {
      const bytes = new Uint8Array(data as Buffer)
      const decoded = tryDecodeMessage(bytes)
      if (decoded.ok && decoded.message.type === 'ack') {
        withheld++
        return
      }
      if (client.readyState === WebSocket.OPEN) client.send(bytes)
    })
    const closeBoth = (): void => {
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
    withheld: () => withheld,
    close: async () => {
      for (const socket of sockets) socket.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
