/** WebSocket frames as `ws` hands them over, and as a document socket queues them. */
import type { Message } from '@meridian/protocol'
import type { RawData } from 'ws'

/**
 * A frame waiting for its document to open: as it arrived, or already decoded
 * (the auth gate decodes what it holds; it is not decoded again).
 */
export type QueuedFrame =
  | { readonly kind: 'raw'; readonly data: RawData; readonly isBinary: boolean }
  | { readonly kind: 'decoded'; readonly message: Message; readonly bytes: number }

export function byteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0)
  return data instanceof ArrayBuffer ? data.byteLength : data.length
}

export function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}
