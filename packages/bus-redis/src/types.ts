/**
 * The bus between the relays of one region (the contract every bus
 * implementation keeps; `RedisBus` for production, `MemoryBus` for tests).
 *
 * A relay publishes, per document, the updates it has committed to the
 * region's shared storage and the awareness changes of its clients; it
 * subscribes to the documents it has loaded and applies what other relays
 * published. The bus is a fast path for fan-out, not a source of truth:
 * storage is. Hence the one promise that matters:
 *
 *   After `subscribe(doc)` resolves, every message another relay publishes
 *   for `doc` is either delivered to the handler, or covered by a later
 *   `resync` event naming `doc` (or 'all'), after which the subscriber must
 *   catch up from storage. Nothing is missed silently.
 *
 * A bus never delivers a relay's own messages back to it.
 */
export type BusMessageKind = 'update' | 'awareness'

export interface BusMessage {
  readonly kind: BusMessageKind
  /** A Yjs update (kind 'update') or a y-protocols awareness update (kind 'awareness'). */
  readonly data: Uint8Array
}

export interface ReceivedBusMessage extends BusMessage {
  /** Node id of the relay that published it. */
  readonly origin: string
}

export type BusMessageHandler = (message: ReceivedBusMessage) => void

/** 'ready': connected and delivering. 'reconnecting': lost the connection; a `resync` follows recovery. */
export type BusStatus = 'connecting' | 'ready' | 'reconnecting' | 'closed'

export interface BusResyncEvent {
  /** Subscribed documents whose messages may have been missed; catch them up from storage. */
  readonly docNames: readonly string[]
  /**
   * 'reconnected': this relay's bus connection was down (or its read position
   * was unknown) for a while. 'gap': entries of a stream were trimmed before
   * they were read. 'peer-publish-failed': another relay committed updates it
   * could not publish.
   */
  readonly reason: 'reconnected' | 'gap' | 'peer-publish-failed'
}

export interface RelayBusEvents {
  status: (status: BusStatus) => void
  resync: (event: BusResyncEvent) => void
  /** Operational errors (connection refused...); informational, the bus keeps trying. */
  error: (error: Error) => void
}

export interface RelayBus {
  /** The publishing relay's id, carried by every message. */
  readonly nodeId: string
  readonly status: BusStatus
  /**
   * Publishes to the document's stream. Resolves once the bus accepted it;
   * rejects (ERR_BUS_UNAVAILABLE) while disconnected — a failed 'update'
   * publish is announced to the other relays as soon as the bus is back, so
   * they catch up from storage.
   */
  publish(docName: string, message: BusMessage): Promise<void>
  /** Starts delivering the document's messages from other relays; resolves with the unsubscribe function. */
  subscribe(docName: string, handler: BusMessageHandler): Promise<() => Promise<void>>
  /** Drops all but the newest `maxEntries` entries of the document's stream (streams are also capped on publish). */
  trim?(docName: string, maxEntries: number): Promise<void>
  on<E extends keyof RelayBusEvents>(event: E, listener: RelayBusEvents[E]): () => void
  /** Stops reading, flushes publishes in flight, disconnects. Idempotent. */
  close(): Promise<void>
}
