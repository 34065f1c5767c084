/**
 * Writing to one document socket: direct sends and a room's broadcasts
 * (pre-framed for a `ws` socket, see broadcast.ts), each checked against the
 * socket's buffer bound — a peer that does not read is a slow consumer and is
 * destroyed at once.
 */
import type { Logger } from 'pino'
import { SOCKET_OPEN, type RelaySocket } from './transport.js'
import { frameBinaryMessages, type Broadcast, type BroadcastPeer } from './broadcast.js'
import { frameWriterOf, type FrameStream } from './ws-internals.js'
import type { RelayMetrics } from './metrics.js'

const BINARY = { binary: true } as const
/** Direct sends up to this size are framed here (copied once); larger ones go through `ws`. */
const SMALL_MESSAGE_BYTES = 16 * 1024

/** The socket's owner, as the writer needs it (an interface, not closures: one per socket adds up). */
export interface SocketWriterOwner {
  /** The socket's logger (made when first used). */
  readonly log: Logger
  readonly debugEnabled: boolean
  /** The socket was destroyed as a slow consumer. */
  slowConsumer(): void
}

export class SocketWriter {
  /** For a `ws` socket: where pre-framed broadcasts can be written; null: through `send`. */
  private readonly frameWriter: (() => FrameStream | null) | null
  /** The stream is corked until the current callback ends (see `stream`). */
  private corked = false

  /** `maxBufferedBytes`: past this many bytes queued for the socket, the peer is too slow. */
  constructor(
    private readonly socket: RelaySocket,
    private readonly owner: SocketWriterOwner,
    private readonly maxBufferedBytes: number,
    private readonly metrics: RelayMetrics
  ) {
    this.frameWriter = frameWriterOf(socket)
  }

  send(message: Uint8Array): void {
    if (this.write(message)) this.metrics.messageOut(message)
  }

  /** Sends `message` without counting it (a multiplexed socket counts the messages its frames carry); false: not sent. */
  write(message: Uint8Array): boolean {
    if (this.socket.readyState !== SOCKET_OPEN) return false
    if (!this.hasRoomFor(message.length)) return false
    // Small messages (acks, status, most handshakes) as one pre-framed write; large ones through
    // `ws`, which writes the header and the payload without copying it.
    const stream = message.length <= SMALL_MESSAGE_BYTES ? this.stream() : null
    if (stream !== null) {
      stream.write(frameBinaryMessages([message]))
      return true
    }
    this.socket.send(message, BINARY, (err) => {
      if (err !== undefined && err !== null && this.owner.debugEnabled) this.owner.log.debug({ err }, 'send failed')
    })
    return true
  }

  /**
   * The room's broadcast of a turn to `peer` (metrics are counted by the
   * room, once): for a `ws` socket the frames are written in one go — the
   * same buffer for every socket that gets all of them — else each message is sent.
   */
  deliver(broadcast: Broadcast, peer: BroadcastPeer): boolean {
    if (this.socket.readyState !== SOCKET_OPEN) return false
    const all = broadcast.getsAll(peer)
    const messages = all ? null : broadcast.messagesFor(peer)
    if (messages !== null && messages.length === 0) return false
    let bytes = broadcast.bytes
    if (messages !== null) {
      bytes = 0
      for (const m of messages) bytes += m.length
    }
    if (!this.hasRoomFor(bytes)) return false
    const stream = this.stream()
    if (stream !== null) {
      stream.write(messages === null ? broadcast.framedForAll() : frameBinaryMessages(messages))
    } else if (messages === null) {
      for (const e of broadcast.entries) this.socket.send(e.message, BINARY)
    } else {
      for (const m of messages) this.socket.send(m, BINARY)
    }
    return true
  }

  /**
   * The stream to write pre-framed bytes to, corked until the current
   * callback returns: the answers to one read (a handshake's hello, step 1,
   * step 2, status…) leave in one write instead of one system call each.
   * Uncorked on the next tick, before any timer or I/O, so nothing waits longer.
   */
  private stream(): FrameStream | null {
    const stream = this.frameWriter?.() ?? null
    if (stream !== null && !this.corked) {
      this.corked = true
      stream.cork()
      process.nextTick(uncorkWriter, this, stream)
    }
    return stream
  }

  /** @internal */
  uncork(stream: FrameStream): void {
    this.corked = false
    stream.uncork()
  }

  /**
   * False (and the socket destroyed) when `bytes` more would take what is
   * queued for this socket past `maxBufferedBytes`: the peer is too slow.
   */
  private hasRoomFor(bytes: number): boolean {
    const buffered = this.socket.bufferedAmount
    if (buffered === 0 || buffered + bytes <= this.maxBufferedBytes) return true
    // Destroyed at once, not closed: a close frame would queue behind what it does not read,
    // and the buffer would be held until the close timeout.
    this.owner.log.warn({ bufferedBytes: buffered }, 'slow consumer: disconnecting')
    this.socket.terminate()
    this.owner.slowConsumer()
    return false
  }
}

function uncorkWriter(writer: SocketWriter, stream: FrameStream): void {
  writer.uncork(stream)
}
