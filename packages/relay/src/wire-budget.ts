/**
 * The pre-auth byte budget counted on the wire. `ws` buffers a frame until it
 * is complete (up to the frame limit), so counting whole frames alone lets a
 * client without a token hold `maxMessageBytes` per socket by never finishing
 * one. This counts the bytes read from the TCP socket as they arrive.
 */
import type { Duplex } from 'node:stream'

/** The TCP socket under a WebSocket, as far as the count needs it. */
export type WireSocket = Pick<Duplex, 'on' | 'off'>

/** Largest WebSocket frame header (2 + 8 length bytes + 4 mask bytes). */
export const MAX_FRAME_HEADER_BYTES = 14

export class WireBudget {
  private bytes = 0
  private wire: WireSocket | null

  /** Calls `onExceeded` once when more than `allowedBytes` were read; `stop` ends the count. */
  constructor(wire: WireSocket, private readonly allowedBytes: number, private readonly onExceeded: () => void) {
    this.wire = wire
    wire.on('data', this.onData)
  }

  /** The budget for `maxFrames` frames carrying `maxBytes` between them. */
  static allowance(maxBytes: number, maxFrames: number): number {
    return maxBytes + maxFrames * MAX_FRAME_HEADER_BYTES
  }

  stop(): void {
    this.wire?.off('data', this.onData)
    this.wire = null
  }

  private readonly onData = (chunk: Buffer): void => {
    this.bytes += chunk.length
    if (this.bytes <= this.allowedBytes || this.wire === null) return
    this.stop()
    this.onExceeded()
  }
}
