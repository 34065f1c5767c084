/**
 * Ending a socket whose peer may not cooperate: the close frame is sent (so a
 * client can tell why), reading stops (nothing more is buffered for it), and
 * the socket is destroyed after a short grace whether or not the close
 * handshake completed.
 */
import type { Clock } from '@meridian/base'
import type { RelaySocket } from './transport.js'

/** How long a refused socket gets to take its close frame before it is destroyed. */
export const DEFAULT_CLOSE_GRACE_MS = 1_000

const SOCKET_CLOSED = 3

/** Destroys `socket` after `graceMs` unless it closed by then (e.g. ws is already closing it with 1009). */
export function terminateAfterGrace(socket: RelaySocket, graceMs: number, clock: Clock): void {
  if (socket.readyState === SOCKET_CLOSED) return
  const timer = clock.setTimeout(() => socket.terminate(), graceMs)
  socket.once('close', () => clock.clearTimeout(timer))
}

/** Sends the close frame, stops reading, and destroys the socket after `graceMs`. */
export function closeThenTerminate(socket: RelaySocket, code: number, reason: string, graceMs: number, clock: Clock): void {
  if (socket.readyState === SOCKET_CLOSED) return
  socket.pause()
  socket.close(code, reason.slice(0, 120))
  terminateAfterGrace(socket, graceMs, clock)
}
