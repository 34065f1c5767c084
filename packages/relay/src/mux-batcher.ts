/**
 * What a multiplexed socket sends within one turn, coalesced: messages queued
 * until the end of the turn (a microtask, as a room's broadcast: no timer, so
 * a simulated clock sees the same) go out as one `batch` frame when there is
 * more than one — a client opening many documents at once gets their
 * handshakes in a few frames instead of several per document. Bounded: the
 * queue is flushed early before a batch would pass `maxBatchBytes` or
 * MAX_BATCH_ENTRIES, and a message larger than a batch goes alone.
 */
import { MAX_BATCH_ENTRIES, encodeMuxMessage } from '@meridian/protocol'

/** Most messages in one batch, either way (a client's larger batch is a protocol error): the protocol's. */
export { MAX_BATCH_ENTRIES }

/** Largest batch the relay builds, unless `maxMessageBytes` is smaller. */
export const MAX_BATCH_BYTES = 256 * 1024

/** A batch's bytes around its entries: the type, subtype and count, then a length prefix per entry (at most 5 bytes each). */
const BATCH_HEADER_BYTES = 8
const ENTRY_PREFIX_BYTES = 5

export class MuxBatcher {
  private queue: Uint8Array[] = []
  /** Bytes the queued messages would take in a batch. */
  private queuedBytes = BATCH_HEADER_BYTES
  private scheduled = false

  /** `write`: sends one frame; `maxBatchBytes`: the largest batch to build (at most the peer's frame limit). */
  constructor(private readonly write: (frame: Uint8Array) => void, private readonly maxBatchBytes: number) {}

  /** Queues `message` for the end of this turn. */
  push(message: Uint8Array): void {
    const bytes = message.length + ENTRY_PREFIX_BYTES
    if (this.queue.length > 0 && (this.queuedBytes + bytes > this.maxBatchBytes || this.queue.length >= MAX_BATCH_ENTRIES)) this.flush()
    this.queue.push(message)
    this.queuedBytes += bytes
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(this.onTurnEnd)
  }

  /** Sends what is queued now: one message as it is, several as one batch. */
  flush(): void {
    const queue = this.queue
    if (queue.length === 0) return
    // Taken first: writing may end the socket (a slow consumer), which flushes again.
    this.queue = []
    this.queuedBytes = BATCH_HEADER_BYTES
    this.write(queue.length === 1 ? (queue[0] as Uint8Array) : encodeMuxMessage({ type: 'batch', messages: queue }))
  }

  private readonly onTurnEnd = (): void => {
    this.scheduled = false
    this.flush()
  }
}
