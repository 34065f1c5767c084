import { BusError } from './errors.js'
import { Listeners } from './listeners.js'
import type { BusMessage, BusMessageHandler, BusStatus, RelayBus, RelayBusEvents, ReceivedBusMessage } from './types.js'
import { assertBusMessage, assertDocName, assertNodeId } from './validate.js'

/**
 * Connects the buses of several relays in one process (tests, embedding).
 * Delivery is asynchronous (a macrotask later, like a network) and in publish
 * order. `setOnline(bus, false)` simulates a lost connection: that bus neither
 * sends nor receives until `setOnline(bus, true)`, which makes it emit
 * `resync` for its documents and announce its failed publishes to the others —
 * the same recovery contract as `RedisBus`.
 */
export class MemoryBusHub {
  readonly #buses = new Set<MemoryBus>()
  #queue: (() => void)[] = []
  #scheduled = false

  /** A new bus for the relay `nodeId`, connected to this hub. */
  bus(nodeId: string): MemoryBus {
    const bus = new MemoryBus(this, nodeId)
    this.#buses.add(bus)
    return bus
  }

  setOnline(bus: MemoryBus, online: boolean): void {
    bus._setOnline(online)
  }

  /** @internal */
  _detach(bus: MemoryBus): void {
    this.#buses.delete(bus)
  }

  /** @internal */
  _broadcast(from: MemoryBus, docName: string, deliver: (to: MemoryBus) => void): void {
    const targets = [...this.#buses].filter((b) => b !== from)
    this.#queue.push(() => {
      for (const to of targets) if (to._online && to._subscribed(docName)) deliver(to)
    })
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      const batch = this.#queue
      this.#queue = []
      for (const run of batch) run()
    })
  }
}

export class MemoryBus implements RelayBus {
  readonly nodeId: string
  readonly #hub: MemoryBusHub
  readonly #subs = new Map<string, Set<BusMessageHandler>>()
  readonly #events = new Listeners<RelayBusEvents>()
  /** Documents with an update publish that failed while offline. */
  readonly #unpublished = new Set<string>()
  #status: BusStatus = 'ready'
  /** @internal */
  _online = true

  /** Use `MemoryBusHub.bus(nodeId)`. */
  constructor(hub: MemoryBusHub, nodeId: string) {
    assertNodeId(nodeId)
    this.#hub = hub
    this.nodeId = nodeId
  }

  get status(): BusStatus {
    return this.#status
  }

  publish(docName: string, message: BusMessage): Promise<void> {
    try {
      this.#assertOpen()
      assertDocName(docName)
      assertBusMessage(message)
    } catch (err) {
      return Promise.reject(err)
    }
    if (!this._online) {
      if (message.kind === 'update') this.#unpublished.add(docName)
      return Promise.reject(new BusError('ERR_BUS_UNAVAILABLE', 'bus is disconnected'))
    }
    const received: ReceivedBusMessage = { kind: message.kind, data: message.data.slice(), origin: this.nodeId }
    this.#hub._broadcast(this, docName, (to) => to._deliver(docName, received))
    return Promise.resolve()
  }

  subscribe(docName: string, handler: BusMessageHandler): Promise<() => Promise<void>> {
    try {
      this.#assertOpen()
      assertDocName(docName)
      if (typeof handler !== 'function') throw new BusError('ERR_BUS_INVALID_ARGUMENT', 'handler must be a function')
    } catch (err) {
      return Promise.reject(err)
    }
    let handlers = this.#subs.get(docName)
    if (handlers === undefined) this.#subs.set(docName, (handlers = new Set()))
    const entry: BusMessageHandler = (m) => handler(m)
    handlers.add(entry)
    return Promise.resolve(async () => {
      const current = this.#subs.get(docName)
      current?.delete(entry)
      if (current?.size === 0) this.#subs.delete(docName)
    })
  }

  trim(docName: string, maxEntries: number): Promise<void> {
    try {
      this.#assertOpen()
      assertDocName(docName)
      if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) throw new BusError('ERR_BUS_INVALID_ARGUMENT', 'maxEntries must be a non-negative integer')
    } catch (err) {
      return Promise.reject(err)
    }
    return Promise.resolve() // nothing is retained
  }

  on<E extends keyof RelayBusEvents>(event: E, listener: RelayBusEvents[E]): () => void {
    return this.#events.on(event, listener)
  }

  close(): Promise<void> {
    if (this.#status === 'closed') return Promise.resolve()
    this.#hub._detach(this)
    this.#subs.clear()
    this.#setStatus('closed')
    this.#events.clear()
    return Promise.resolve()
  }

  /** @internal */
  _subscribed(docName: string): boolean {
    return this.#subs.has(docName)
  }

  /** @internal */
  _deliver(docName: string, message: ReceivedBusMessage): void {
    for (const handler of [...(this.#subs.get(docName) ?? [])]) {
      try {
        handler({ ...message, data: message.data.slice() })
      } catch (err) {
        this.#events.emit('error', err instanceof Error ? err : new Error(String(err)))
      }
    }
  }

  /** @internal */
  _resyncNotice(docName: string): void {
    this.#events.emit('resync', { docNames: [docName], reason: 'peer-publish-failed' })
  }

  /** @internal */
  _setOnline(online: boolean): void {
    if (this.#status === 'closed' || this._online === online) return
    this._online = online
    if (!online) {
      this.#setStatus('reconnecting')
      return
    }
    this.#setStatus('ready')
    const docNames = [...this.#subs.keys()]
    if (docNames.length > 0) this.#events.emit('resync', { docNames, reason: 'reconnected' })
    for (const docName of this.#unpublished) this.#hub._broadcast(this, docName, (to) => to._resyncNotice(docName))
    this.#unpublished.clear()
  }

  #setStatus(status: BusStatus): void {
    if (this.#status === status) return
    this.#status = status
    this.#events.emit('status', status)
  }

  #assertOpen(): void {
    if (this.#status === 'closed') throw new BusError('ERR_BUS_CLOSED', 'bus is closed')
  }
}
