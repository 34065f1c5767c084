/** Raw TCP WebSocket clients for attacks a `ws` client cannot make (partial frames, slow headers). */
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'

export interface RawWire {
  socket: Socket
  /** Every byte received after the 101 response. */
  received: () => Buffer
  closed: Promise<void>
}

/** Opens a TCP connection to `url` and completes a WebSocket upgrade for `path` by hand. */
export async function rawUpgrade(url: string, path: string): Promise<RawWire> {
  const { hostname, port } = new URL(url)
  const socket = connect({ host: hostname, port: Number(port) })
  let buffer = Buffer.alloc(0)
  let upgraded = false
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.on('error', () => undefined)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    })
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (upgraded) return
      const end = buffer.indexOf('\r\n\r\n')
      if (end < 0) return
      if (!buffer.subarray(0, end).toString().startsWith('HTTP/1.1 101')) reject(new Error(buffer.subarray(0, end).toString()))
      upgraded = true
      buffer = buffer.subarray(end + 4)
      resolve()
    })
    socket.once('close', () => reject(new Error('closed before the upgrade')))
  })
  return { socket, received: () => buffer, closed }
}

/** The header of a masked binary frame announcing `length` payload bytes (the mask is zero: payload unchanged). */
export function frameHeader(length: number): Buffer {
  const header = Buffer.alloc(14)
  header[0] = 0x82
  header[1] = 0x80 | 127
  header.writeBigUInt64BE(BigInt(length), 2)
  return header // last 4 bytes: the zero mask
}

/** The close code of the first close frame in `bytes` (server frames are unmasked), or null. */
export function closeCodeIn(bytes: Buffer): number | null {
  let at = 0
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f
    let len = (bytes[at + 1] as number) & 0x7f
    let offset = at + 2
    if (len === 126) {
      len = bytes.readUInt16BE(offset)
      offset += 2
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(offset))
      offset += 8
    }
    if (opcode === 0x8) return len >= 2 && offset + 2 <= bytes.length ? bytes.readUInt16BE(offset) : null
    at = offset + len
  }
  return null
}
