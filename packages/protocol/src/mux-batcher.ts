import { MAX_BATCH_ENTRIES, encodeMuxMessage } from './mux.js'

/** Length prefix of one batch entry (a varUint: 5 bytes cover any frame size a relay accepts). */
const ENTRY_PREFIX_BYTES = 5
/** A batch's bytes before its entries: type, subtype and count. */
const BATCH_HEADER_BYTES = 8

/**
 * Coalesces what a multiplexed socket sends within one turn (a microtask: no
 * timer, so a simulated clock sees the same) into `batch` frames (PROTOCOL.md,
 * "Multiplexing"), on both sides: after a reconnect, hundreds of documents'
 * doc-open, hello and step 1 go out as a few frames, and the relay's answers too. A batch
 * never exceeds `maxBatchBytes` (the relay's frame limit at most: over it the
 * relay closes the socket) nor MAX_BATCH_ENTRIES (over it, a protocol error):
 * it is flushed before it would; a message that alone is that large goes out
 * in its own frame, unwrapped. Order is kept.
 */
export class MuxBatcher {
  private queue: Uint8Array[] = []
  /** What the queue takes as a batch: its header and each entry with its length prefix. */
  private bytes = BATCH_HEADER_BYTES
  private scheduled = false

  constructor(
    private readonly maxBatchBytes: number,
    /** Sends one frame on the socket. */
    private readonly sendFrame: (frame: Uint8Array) => void
  ) {}

  push(message: Uint8Array): void {
    const size = message.byteLength + ENTRY_PREFIX_BYTES
    if (this.queue.length > 0 && (this.bytes + size > this.maxBatchBytes || this.queue.length >= MAX_BATCH_ENTRIES)) this.flush()
    this.queue.push(message)
    this.bytes += size
    if (this.bytes >= this.maxBatchBytes) {
      this.flush()
      return
    }
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(() => {
        this.scheduled = false
        this.flush()
      })
    }
  }

  /** Sends what is queued now (before a deliberate close, so nothing queued is lost). */
  flush(): void {
    const queue = this.queue
    if (queue.length === 0) return
    this.queue = []
    this.bytes = BATCH_HEADER_BYTES
    this.sendFrame(queue.length === 1 ? (queue[0] as Uint8Array) : encodeMuxMessage({ type: 'batch', messages: queue }))
  }

  /** Drops what is queued: its socket is gone (every document on it reconnects and resends). */
  clear(): void {
    this.queue = []
    this.bytes = BATCH_HEADER_BYTES
  }
}
