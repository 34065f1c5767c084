/**
 * Connects a relay to its region's bus (several relays behind a load balancer
 * on one shared storage, e.g. PostgreSQL + Redis Streams).
 *
 * - Every change a relay commits (from its clients, the mesh, ...) is published
 *   on the document's stream *after* its storage commit, so a bus message always
 *   describes data already durable in the shared storage.
 * - Hence updates arriving from the bus are applied in memory only (and
 *   broadcast to this relay's clients): the publisher stored them; appending them
 *   again would multiply writes by the number of relays. One exception: if the
 *   room holds structs waiting for a missing dependency, the transaction may
 *   integrate them, so it is stored and published like a local change.
 * - The bus never delivers a relay's own messages, and changes applied from the
 *   bus are never published again: no echo.
 * - Catch-up from storage, by state vector: after subscribing to a document
 *   (what was published before the subscription is in storage), on every `resync`
 *   from the bus (reconnection, trimmed entries, another relay's failed publish),
 *   and every `catchUpIntervalMs` as a backstop for the one case the bus cannot
 *   see: a relay that died between its commit and its publish, whose writing
 *   client never came back to resend.
 */
import * as Y from 'yjs'
import type { BusMessage, BusResyncEvent, BusStatus, ReceivedBusMessage, RelayBus } from '@meridian/bus-redis'
import { isRelayError } from './errors.js'
import { createBusMetrics } from './metrics.js'
import { hasPending } from './yjs-internals.js'
import { docFromStored } from '@meridian/storage'
import { BUS_CATCH_UP_SOURCE, BUS_MERGE_SOURCE, BUS_SOURCE, isPublishedOnBus } from './change-source.js'
import type { Room } from './room.js'
import type { ResolvedRelayOptions } from './options.js'
import type { RoomManager } from './rooms.js'
import type { RelayMetrics } from './metrics.js'
import type { StatusProvider } from './status.js'
import { DEFAULT_BUS_BRIDGE_OPTIONS, type BusBridgeOptions } from './bus-bridge-options.js'

export { DEFAULT_BUS_BRIDGE_OPTIONS, type BusBridgeOptions } from './bus-bridge-options.js'

/** What the bridge needs of its relay (a `Relay` from buildRelay has all of it). */
export interface BridgedRelay {
  readonly options: Pick<ResolvedRelayOptions, 'logger' | 'nodeId' | 'storage' | 'clock'>
  readonly metrics: Pick<RelayMetrics, 'registry'>
  readonly rooms: Pick<RoomManager, 'onRoomLoaded' | 'onRoomEvicted' | 'loadedRooms'>
  registerStatusSection(name: string, provider: StatusProvider): () => void
}

export interface BusBridgeStats {
  published: number
  publishFailures: number
  received: number
  catchUps: number
  catchUpFailures: number
  resyncs: number
}

export interface BusBridge {
  readonly bus: RelayBus
  /** Counters since attach (also exported as `meridian_relay_bus_*` metrics). */
  readonly stats: Readonly<BusBridgeStats>
  /** Brings a loaded document (every loaded document without a name) up to date from storage. */
  catchUp(docName?: string): Promise<void>
  /** Stops publishing and applying; unsubscribes. Does not close the bus. */
  close(): Promise<void>
}

interface Attached {
  readonly room: Room
  readonly detachers: (() => void)[]
  unsubscribe: Promise<(() => Promise<void>) | null>
  catchUpRunning: Promise<void> | null
  catchUpAgain: boolean
  failures: number
  detached: boolean
}

const ERROR_LOG_INTERVAL_MS = 5_000

/**
 * Wires `bus` into `relay`: every loaded document is subscribed, published and
 * kept caught up until it is evicted. Call once, after `buildRelay` (documents
 * already loaded are picked up too). The bus's node id should be the relay's.
 */
export function attachBus(relay: BridgedRelay, bus: RelayBus, options: BusBridgeOptions = {}): BusBridge {
  const catchUpIntervalMs = options.catchUpIntervalMs ?? DEFAULT_BUS_BRIDGE_OPTIONS.catchUpIntervalMs
  const catchUpConcurrency = options.catchUpConcurrency ?? DEFAULT_BUS_BRIDGE_OPTIONS.catchUpConcurrency
  if (!Number.isSafeInteger(catchUpIntervalMs) || catchUpIntervalMs < 0) throw new TypeError('catchUpIntervalMs must be a non-negative integer')
  if (!Number.isSafeInteger(catchUpConcurrency) || catchUpConcurrency < 1) throw new TypeError('catchUpConcurrency must be a positive integer')
  const log = (options.logger ?? relay.options.logger).child({ component: 'bus', busNode: bus.nodeId })
  if (bus.nodeId !== relay.options.nodeId) log.warn({ relayNode: relay.options.nodeId }, 'the bus node id differs from the relay node id')
  const storage = relay.options.storage
  // Timers and timestamps on the relay's clock (simulated in the testing kit's memory mode).
  const clock = relay.options.clock
  const attached = new Map<string, Attached>()
  const stats: BusBridgeStats = { published: 0, publishFailures: 0, received: 0, catchUps: 0, catchUpFailures: 0, resyncs: 0 }
  const metrics = createBusMetrics(relay.metrics.registry)
  let closed = false

  // A small semaphore: a resync of every loaded document must not load them all at once.
  let running = 0
  const waiting: (() => void)[] = []
  const limited = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= catchUpConcurrency) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    try {
      return await fn()
    } finally {
      running--
      waiting.shift()?.()
    }
  }

  let lastErrorLogAt = 0
  const offError = bus.on('error', (err) => {
    const now = clock.now()
    if (now - lastErrorLogAt < ERROR_LOG_INTERVAL_MS) return log.debug({ err }, 'bus error')
    lastErrorLogAt = now
    log.warn({ err }, 'bus error (further ones within 5 s are logged at debug)')
  })
  const offStatus = bus.on('status', (status: BusStatus) => {
    metrics.connected.set(status === 'ready' ? 1 : 0)
    if (status === 'ready') log.info('bus ready')
    else if (status === 'reconnecting') log.warn('bus connection lost: publishing paused, catching up from storage once it is back')
  })
  metrics.connected.set(bus.status === 'ready' ? 1 : 0)
  const offResync = bus.on('resync', (event: BusResyncEvent) => {
    stats.resyncs++
    metrics.resyncs.inc({ reason: event.reason })
    log.info({ reason: event.reason, documents: event.docNames.length }, 'bus resync: catching documents up from storage')
    for (const docName of event.docNames) {
      const entry = attached.get(docName)
      if (entry !== undefined) void catchUp(entry)
    }
  })

  const publish = (docName: string, message: BusMessage): void => {
    if (closed) return
    bus.publish(docName, message).then(
      () => {
        stats.published++
        metrics.published.inc({ kind: message.kind })
      },
      (err: unknown) => {
        // The bus announces failed update publishes to the other relays once it is back.
        stats.publishFailures++
        metrics.publishFailures.inc({ kind: message.kind })
        log.debug({ err, doc: docName, kind: message.kind }, 'bus publish failed')
      }
    )
  }

  const onMessage = (entry: Attached, message: ReceivedBusMessage): void => {
    if (entry.detached) return
    const { room } = entry
    stats.received++
    metrics.received.inc({ kind: message.kind })
    if (message.kind === 'update') {
      const merge = hasPending(room.doc)
      room.applyUpdate(message.data, merge ? BUS_MERGE_SOURCE : BUS_SOURCE).catch((err: unknown) => {
        if (isRelayError(err) && err.code === 'ERR_RELAY_CLOSED') return
        log.warn({ err, doc: room.name, from: message.origin }, 'update from the bus could not be applied')
      })
    } else {
      try {
        room.applyAwareness(message.data, { kind: 'bus' })
      } catch (err) {
        log.debug({ err, doc: room.name, from: message.origin }, 'awareness from the bus could not be applied')
      }
    }
  }

  /** Loads the document and applies whatever this relay's copy lacks (by state vector). */
  const catchUpOnce = async (entry: Attached): Promise<void> => {
    if (entry.detached) return
    const { room } = entry
    const stored = await storage.load(room.name)
    if (stored === null || entry.detached) return
    const fromStorage = docFromStored(stored)
    try {
      const missing = Y.encodeStateAsUpdate(fromStorage, Y.encodeStateVector(room.doc))
      if (entry.detached) return
      const merge = hasPending(room.doc)
      await room.applyUpdate(missing, merge ? BUS_MERGE_SOURCE : BUS_CATCH_UP_SOURCE)
    } finally {
      fromStorage.destroy()
    }
  }

  /** Coalesced per document: a request during a run schedules exactly one more run. Retries with backoff on failure. */
  const catchUp = (entry: Attached): Promise<void> => {
    if (entry.detached || closed) return Promise.resolve()
    if (entry.catchUpRunning !== null) {
      entry.catchUpAgain = true
      return entry.catchUpRunning
    }
    const run = async (): Promise<void> => {
      do {
        entry.catchUpAgain = false
        await limited(() => catchUpOnce(entry))
        stats.catchUps++
        metrics.catchUps.inc({ result: 'ok' })
      } while (entry.catchUpAgain && !entry.detached && !closed)
      entry.failures = 0
    }
    entry.catchUpRunning = run()
      .catch((err: unknown) => {
        if (isRelayError(err) && err.code === 'ERR_RELAY_CLOSED') return
        stats.catchUpFailures++
        metrics.catchUps.inc({ result: 'error' })
        entry.failures++
        const delay = Math.min(250 * 2 ** Math.min(entry.failures, 7), 30_000)
        log.warn({ err, doc: entry.room.name, retryInMs: delay }, 'catch-up from storage failed; retrying')
        clock.setTimeout(() => void catchUp(entry), delay)
      })
      .finally(() => {
        entry.catchUpRunning = null
      })
    return entry.catchUpRunning
  }

  const attach = (room: Room): void => {
    if (closed) return
    const previous = attached.get(room.name)
    if (previous?.room === room) return
    if (previous !== undefined) detach(previous.room)
    const entry: Attached = {
      room,
      detachers: [],
      unsubscribe: Promise.resolve(null),
      catchUpRunning: null,
      catchUpAgain: false,
      failures: 0,
      detached: false
    }
    attached.set(room.name, entry)

    entry.detachers.push(
      room.onChange(({ update, source, committed }) => {
        if (!isPublishedOnBus(source)) return
        // Publish only what is durable: other relays treat bus messages as already stored.
        committed.then(
          () => {
            if (!entry.detached) publish(room.name, { kind: 'update', data: update })
          },
          () => undefined // not stored: the client was disconnected and will resend it
        )
      })
    )
    entry.detachers.push(
      room.onAwarenessChange(({ update, source }) => {
        if (entry.detached) return
        switch (source.kind) {
          case 'bus':
            return // from another relay of the region: it published it
          case 'client':
          case 'timeout':
          case 'peer-left':
            publish(room.name, { kind: 'awareness', data: update })
        }
      })
    )

    entry.unsubscribe = bus.subscribe(room.name, (message) => onMessage(entry, message)).then(
      (unsubscribe) => {
        if (entry.detached) {
          void unsubscribe().catch(() => undefined)
          return null
        }
        // Everything published before the subscription is in storage: read it now.
        void catchUp(entry)
        return unsubscribe
      },
      (err: unknown) => {
        if (!closed) log.error({ err, doc: room.name }, 'could not subscribe to the bus; this document gets no updates from other relays')
        return null
      }
    )
  }

  const detach = (room: Room): void => {
    const entry = attached.get(room.name)
    if (entry === undefined || entry.room !== room) return
    attached.delete(room.name)
    entry.detached = true
    for (const off of entry.detachers) off()
    void entry.unsubscribe.then((unsubscribe) => unsubscribe?.()).catch(() => undefined)
  }

  const offLoaded = relay.rooms.onRoomLoaded(attach)
  const offEvicted = relay.rooms.onRoomEvicted(detach)
  void relay.rooms.loadedRooms().then((rooms) => {
    for (const room of rooms) if (room.evicting === null) attach(room)
  })

  const timer = catchUpIntervalMs > 0
    ? clock.setInterval(() => {
        for (const entry of attached.values()) void catchUp(entry)
      }, catchUpIntervalMs)
    : null

  let unregisterStatus: (() => void) | null = null
  try {
    unregisterStatus = relay.registerStatusSection('bus', () => ({
      nodeId: bus.nodeId,
      status: bus.status,
      documents: attached.size,
      ...stats
    }))
  } catch (err) {
    log.warn({ err }, 'could not register the bus status section')
  }

  return {
    bus,
    stats,
    async catchUp(docName?: string): Promise<void> {
      const entries = docName === undefined ? [...attached.values()] : [attached.get(docName)].filter((e): e is Attached => e !== undefined)
      await Promise.all(entries.map((e) => catchUp(e)))
    },
    async close(): Promise<void> {
      if (closed) return
      closed = true
      if (timer !== null) clock.clearInterval(timer)
      offLoaded()
      offEvicted()
      offError()
      offStatus()
      offResync()
      unregisterStatus?.()
      const entries = [...attached.values()]
      for (const entry of entries) detach(entry.room)
      await Promise.all(entries.map((e) => e.unsubscribe.then((u) => u?.()).catch(() => undefined)))
    }
  }
}
