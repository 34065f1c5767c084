/** WebSocket frames as `ws` hands them over, as a document socket queues them, and decoded. */
import { tryDecodeMessage, type DecodeLimits, type Message } from '@meridian/protocol'
import type { RawData } from 'ws'
import { CLOSE_CODES, RelayError } from './errors.js'
import type { RejectReason, RelayMetrics } from './metrics.js'

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

/** A frame decoded, or why it is refused: what it ends (the socket, or a document) closes with `closeCode`. */
export type DecodedFrame =
  | { readonly ok: true; readonly message: Message; readonly bytes: number }
  | { readonly ok: false; readonly rejected: RejectReason; readonly error: RelayError; readonly closeCode: number }

/** Decodes one frame (binary only: the protocol has no text frames). */
export function decodeFrame(data: RawData, isBinary: boolean, limits: DecodeLimits, metrics: RelayMetrics): DecodedFrame {
  if (!isBinary) {
    return { ok: false, rejected: 'text_frame', error: new RelayError('ERR_PROTOCOL', 'text frames are not part of the protocol'), closeCode: CLOSE_CODES.UNSUPPORTED_DATA }
  }
  return decodeBytes(toBytes(data), limits, metrics)
}

/** Decodes one message (a frame's bytes, or one entry of a batch); an undecodable one is counted as `invalid`. */
export function decodeBytes(bytes: Uint8Array, limits: DecodeLimits, metrics: RelayMetrics): DecodedFrame {
  const decoded = tryDecodeMessage(bytes, limits)
  if (decoded.ok) return { ok: true, message: decoded.message, bytes: bytes.length }
  const oversized = decoded.error.code === 'ERR_PROTOCOL_OVERSIZED'
  metrics.messageIn('invalid', bytes.length)
  return {
    ok: false,
    rejected: oversized ? 'oversized' : 'malformed',
    error: new RelayError('ERR_PROTOCOL', decoded.error.code, { cause: decoded.error }),
    closeCode: oversized ? CLOSE_CODES.MESSAGE_TOO_BIG : CLOSE_CODES.INVALID_MESSAGE
  }
}
