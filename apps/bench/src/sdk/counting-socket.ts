import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import WebSocket from 'ws'

/** What a client's sockets carried, counted at the TCP socket. */
export interface WireCount {
  /** WebSocket connections the client opened. */
  sockets: number
  /** Bytes sent: the HTTP upgrade request, WebSocket frame headers and payloads. */
  bytesUp: number
  /** Bytes received: the upgrade response, frame headers and payloads. */
  bytesDown: number
}

/** A client-side `ws` WebSocket class (the constructor forms SDKs call). */
export type WebSocketClass = new (address: string | URL, protocols?: string | string[], options?: WebSocket.ClientOptions) => WebSocket

export interface CountingWebSocket {
  /** A `ws` WebSocket class to hand to an SDK (its `WebSocket` / `WebSocketPolyfill` option). */
  WebSocket: WebSocketClass
  /** Totals so far over every socket the class opened (closed ones included). */
  count(): WireCount
}

/**
 * A `ws` WebSocket class that counts the connections it opens and the bytes
 * their TCP sockets read and wrote, so every SDK is measured at the same place
 * whatever it sends: handshakes, frame headers, acks, awareness, pings.
 */
export function countingWebSocket(): CountingWebSocket {
  const tcp: Socket[] = []
  let sockets = 0
  class Counting extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[], options?: WebSocket.ClientOptions) {
      super(address, protocols, options)
      sockets++
      // The upgrade response's socket is the connection's TCP socket; its counters include the upgrade itself.
      this.once('upgrade', (response: IncomingMessage) => tcp.push(response.socket))
    }
  }
  return {
    WebSocket: Counting,
    count: () => ({
      sockets,
      bytesUp: tcp.reduce((sum, s) => sum + s.bytesWritten, 0),
      bytesDown: tcp.reduce((sum, s) => sum + s.bytesRead, 0)
    })
  }
}
