/**
 * Who dialed a connection through the fault proxy: read from the HTTP
 * upgrade request at the start of the stream (`x-meridian-node-id`,
 * `x-meridian-region`); the peeked bytes are forwarded unchanged.
 */

/** Most bytes peeked for the request head. */
export const MAX_HEAD_BYTES = 16 * 1024
const NODE_ID_HEADER = 'x-meridian-node-id'
const REGION_HEADER = 'x-meridian-region'

/** Could `buf` be the start of an HTTP request line (`METHOD SP ...`)? */
export function mayBeHttpRequest(buf: Buffer): boolean {
  const n = Math.min(buf.length, 21)
  for (let i = 0; i < n; i++) {
    const b = buf[i]!
    if (b === 0x20) return i > 0
    if (b < 0x41 || b > 0x5a) return false // methods are upper-case tokens
  }
  return buf.length < 21
}

/** Extract the dialer identity from a request head (without the final CRLFCRLF). */
export function parseDialerIdentity(head: Buffer): { peer: string | null; region: string | null } {
  let peer: string | null = null
  let region: string | null = null
  const lines = head.toString('latin1').split('\r\n')
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (value === '') continue
    if (name === NODE_ID_HEADER && peer === null) peer = value
    else if (name === REGION_HEADER && region === null) region = value
  }
  return { peer, region }
}
