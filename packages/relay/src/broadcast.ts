/**
 * Broadcasting a room's messages, framed once.
 *
 * A room collects what it broadcasts during one event-loop turn (every
 * update of a socket read, the awareness changes they bring) and hands the
 * batch to each peer at the end of the turn. For a real `ws` socket the
 * batch is framed once — all its messages as WebSocket frames in one buffer,
 * the same bytes for every socket — and written to the TCP stream in one
 * `write`, instead of one framing and one `writev` per message per socket.
 * Other socket implementations (the simulated network of @meridian/testing)
 * get each message through `send`, in the same order.
 */

import { labelOfEncoded, type MessageLabel, type RelayMetrics } from './metrics.js'

/** A receiver of a room's broadcasts. */
export interface BroadcastPeer {
  send(message: Uint8Array): void
  /**
   * The room's broadcast of one event-loop turn: every entry but those whose
   * `except` is this peer, in order. Returns whether the peer took it (false:
   * it is gone, or was dropped as a slow consumer). Without it, the room sends
   * the messages one by one.
   */
  deliver?(broadcast: Broadcast): boolean
}

/** One broadcast message: to every peer of the room but `except` (its origin), if set. */
export interface BroadcastEntry {
  readonly message: Uint8Array
  /** The peer that sent it (a room peer), or null. */
  readonly except: object | null
}

/**
 * The messages of one turn. Peers that were the origin of some of them get
 * the others (in order); every other peer gets all of them, framed once.
 */
export class Broadcast {
  readonly entries: readonly BroadcastEntry[]
  /** Total payload bytes of all entries. */
  readonly bytes: number
  /** Peers excluded from at least one entry (the writers of this turn). */
  private readonly excepts: ReadonlySet<unknown>
  private framedAll: Buffer | null = null

  constructor(entries: readonly BroadcastEntry[]) {
    this.entries = entries
    let bytes = 0
    const excepts = new Set<unknown>()
    for (const e of entries) {
      bytes += e.message.length
      if (e.except !== null) excepts.add(e.except)
    }
    this.bytes = bytes
    this.excepts = excepts
  }

  /** Whether `peer` gets every entry (it originated none). */
  getsAll(peer: unknown): boolean {
    return !this.excepts.has(peer)
  }

  /** The messages `peer` gets, in order. */
  messagesFor(peer: unknown): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const e of this.entries) if (e.except !== peer) out.push(e.message)
    return out
  }

  /** The frames of every entry, built on first use and shared by every peer that gets all of them. */
  framedForAll(): Buffer {
    this.framedAll ??= frameBinaryMessages(this.entries.map((e) => e.message))
    return this.framedAll
  }
}

/** Unmasked binary WebSocket frames (server to client, FIN, opcode 2) for `messages`, back to back in one buffer. */
export function frameBinaryMessages(messages: readonly Uint8Array[]): Buffer {
  let size = 0
  for (const m of messages) size += headerLength(m.length) + m.length
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (const m of messages) {
    const n = m.length
    out[at++] = 0x82
    if (n < 126) {
      out[at++] = n
    } else if (n < 0x10000) {
      out[at++] = 126
      out.writeUInt16BE(n, at)
      at += 2
    } else {
      out[at++] = 127
      out.writeUInt32BE(Math.floor(n / 0x100000000), at)
      out.writeUInt32BE(n >>> 0, at + 4)
      at += 8
    }
    out.set(m, at)
    at += n
  }
  return out
}

function headerLength(n: number): number {
  return n < 126 ? 2 : n < 0x10000 ? 4 : 10
}

/**
 * Sends one turn's messages to `peers` (each gets every entry it did not
 * originate, framed once for all that get all of them), and counts them once
 * per broadcast: per message type, how many sockets got it.
 */
export function sendTurn(entries: readonly BroadcastEntry[], peers: readonly BroadcastPeer[], metrics: RelayMetrics | undefined): void {
  const broadcast = new Broadcast(entries)
  let recipients = 0
  let partial: Set<object> | null = null
  for (const peer of peers) {
    let took: boolean
    if (peer.deliver !== undefined) {
      took = peer.deliver(broadcast)
    } else {
      const messages = broadcast.messagesFor(peer)
      for (const m of messages) peer.send(m)
      took = messages.length > 0
    }
    if (!took) continue
    recipients++
    if (!broadcast.getsAll(peer)) (partial ??= new Set()).add(peer)
  }
  if (metrics === undefined || recipients === 0) return
  const counts = new Map<MessageLabel, { messages: number; bytes: number }>()
  for (const e of entries) {
    const n = e.except !== null && partial !== null && partial.has(e.except) ? recipients - 1 : recipients
    if (n === 0) continue
    const label = labelOfEncoded(e.message)
    let c = counts.get(label)
    if (c === undefined) counts.set(label, (c = { messages: 0, bytes: 0 }))
    c.messages += n
    c.bytes += n * e.message.length
  }
  for (const [type, c] of counts) metrics.messagesOut(type, c.messages, c.bytes)
}
