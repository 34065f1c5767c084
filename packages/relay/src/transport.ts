/**
 * The socket a relay speaks through: the subset of `ws`'s WebSocket it uses.
 * Fastify's WebSocket route hands it `ws` sockets; `Relay.acceptSocket`
 * takes any implementation, e.g. the simulated network of @meridian/testing.
 */
import type { RawData } from 'ws'

export const SOCKET_CONNECTING = 0
export const SOCKET_OPEN = 1

export interface RelaySocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed (the WebSocket values). */
  readonly readyState: number
  /** Bytes queued and not yet written. */
  readonly bufferedAmount: number
  send(data: Uint8Array, options: { binary: boolean }, cb?: (err?: Error) => void): void
  close(code?: number, reason?: string): void
  /** Drops the connection without a close handshake. */
  terminate(): void
  ping(): void
  /** Stops / restarts delivering messages (rate limiting). */
  pause(): void
  resume(): void
  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): unknown
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown
  on(event: 'open' | 'pong', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  once(event: 'close', listener: (code: number, reason: Buffer) => void): unknown
  once(event: 'open', listener: () => void): unknown
  once(event: 'error', listener: (err: Error) => void): unknown
}

/** What a relay needs to know about an incoming connection's upgrade request. */
export interface UpgradeInfo {
  /** Path and query, e.g. `/my-doc?token=…`. */
  url: string
  /** Request headers, lower-case names. */
  headers: Readonly<Record<string, string | string[] | undefined>>
  /** The peer's address (per-IP limits). */
  ip: string
}

/** Opens a socket to another relay (mesh links); default: `ws`. */
export type DialSocket = (url: string, options: { headers: Record<string, string>; maxPayload: number; handshakeTimeoutMs: number }) => RelaySocket
