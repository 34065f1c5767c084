/**
 * Every place the relay relies on `ws` or @fastify/websocket beyond their
 * documented API, in one module; ws-internals.test.ts checks the shapes used
 * here against the installed versions (pinned exactly in package.json), so an
 * upgrade that changes them fails a test, not production.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { WebSocket } from 'ws'
import type { RelaySocket } from './transport.js'

/** The parts of a `ws` (8.x) WebSocket the fast path relies on. */
interface WsInternals {
  _socket?: unknown
  _sender?: { _queue?: unknown; _state?: unknown; _bufferedBytes?: unknown } | null
  _extensions?: unknown
}

/** A TCP (or TLS) stream frames can be written to directly. */
export interface FrameStream {
  write(chunk: Buffer): boolean
  /** net.Socket's: writes until `uncork` go out together (one writev). */
  cork(): void
  uncork(): void
}

/**
 * For a `ws` WebSocket without extensions (no permessage-deflate: frames go
 * out as they are), a function returning its stream when pre-framed bytes can
 * be written to it now, keeping the order of everything sent through `ws`
 * (its sender has nothing queued), or null. Null for any other socket.
 */
export function frameWriterOf(socket: RelaySocket): (() => FrameStream | null) | null {
  const ws = socket as unknown as WsInternals
  const stream = ws._socket as { write?: unknown } | null | undefined
  const sender = ws._sender
  if (stream === null || typeof stream !== 'object' || typeof stream.write !== 'function') return null
  const { cork, uncork } = stream as { cork?: unknown; uncork?: unknown }
  if (typeof cork !== 'function' || typeof uncork !== 'function') return null
  if (sender === null || typeof sender !== 'object' || !Array.isArray(sender._queue)) return null
  if (ws._extensions === null || typeof ws._extensions !== 'object' || Object.keys(ws._extensions).length > 0) return null
  const writable = stream as FrameStream
  return () => ((sender._queue as unknown[]).length === 0 && (sender._state ?? 0) === 0 ? writable : null)
}

/**
 * Lets go of the HTTP upgrade once the socket is a WebSocket. @fastify/websocket
 * leaves the upgrade's response assigned to the TCP socket and routes socket
 * errors through a listener that holds the fastify request and reply: together
 * about 2 KB per connection (request, response, headers, a child logger) kept
 * for the socket's life and never used again. The response is detached, and
 * that listener replaced by one doing the same (`onError`) without them.
 */
export function releaseUpgrade(
  socket: WebSocket,
  raw: IncomingMessage,
  response: ServerResponse | undefined,
  onError: (this: WebSocket, error: Error) => void
): void {
  if (response !== undefined && response.socket !== null && response.socket === raw.socket) response.detachSocket(raw.socket)
  const listeners = socket.listeners('error')
  if (listeners.length !== 1) return // not @fastify/websocket's layout as known: leave it be
  // Added before the other is removed, so the socket is never without an error listener.
  socket.on('error', onError)
  socket.off('error', listeners[0] as (error: Error) => void)
}
