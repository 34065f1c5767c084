import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { ObservableV2 } from 'lib0/observable'
import { systemClock, type Clock, type PolicyDecision } from '@meridian/policy'
import { CLOSE_CODES } from '@meridian/protocol'
import { Backoff, DEFAULT_BACKOFF } from './backoff.js'
import { MeridianError } from './errors.js'
import { Ledger, type DurabilityLevel } from './ledger.js'
import { LocalStore } from './local-store.js'
import { RelayLink, type LinkEvent, type RelayInfo } from './relay-link.js'
import { DEFAULT_PROVIDER_OPTIONS, defaultSyncProbeIntervalMs, validateProviderOptions, type MeridianProviderOptions, type WebSocketConstructor } from './options.js'
import { CROSS_TAB_ORIGIN, CrossTab, broadcastChannelAvailable } from './cross-tab.js'
import { BasicGuarantees, type Guarantees, type GuaranteesOptions } from './guarantees.js'
import { AUTH_REFUSALS, type ConnectionStatus, type MeridianProviderEvents, type PersistenceState } from './provider-events.js'
import { Reconnect } from './reconnect.js'
import { Waiters } from './waiters.js'
import { SIZE_REFUSALS, WriteGate } from './write-gate.js'
import { DEFAULT_MAX_FRAME_BYTES, type RefusedWrite } from './refused-writes.js'

export type { ConnectionStatus, MeridianProviderEvents, PersistenceState } from './provider-events.js'

/** Origin of transactions replaying the local store. */
const STORE_ORIGIN = Symbol('meridian-store')

/**
 * Keeps a Y.Doc in IndexedDB first and in sync with a Meridian relay (or any
 * y-websocket server) when one is reachable. See the package README.
 *
 * The parts, each in its file: `Ledger` (every local write, pending and how
 * durable), `WriteGate` (which writes go to the relay), `LocalStore` (the
 * local copy), `Reconnect` (when and where to connect), `RelayLink` (one
 * connection, reporting `LinkEvent`s), `Guarantees` (mode and capabilities).
 */
export class MeridianProvider extends ObservableV2<MeridianProviderEvents> {
  readonly doc: Y.Doc
  readonly docName: string
  readonly awareness: awarenessProtocol.Awareness
  /** Resolves once the local store has been applied to the doc. Never rejects: store failures become `error` events. */
  readonly whenLoaded: Promise<void>

  private readonly o: MeridianProviderOptions
  /** Query parameters for the next connection (a token, typically); see setParams. */
  private params: Readonly<Record<string, string>> | undefined
  private readonly clock: Clock
  private readonly waiters: Waiters
  private readonly ledger: Ledger
  private readonly guarantees: Guarantees
  /** Writes held back for their size (see write-gate.ts). */
  private readonly gate: WriteGate
  private readonly store: LocalStore
  /** Cross-tab sharing (see cross-tab.ts); null when disabled or unavailable. */
  private readonly crossTab: CrossTab | null
  private readonly reconnect: Reconnect
  private link: RelayLink | null = null
  private _destroyed = false
  private _status: ConnectionStatus = 'disconnected'
  private _synced = false
  private _loaded = false
  private _relay: RelayInfo | null = null
  /** Sent in HELLO on every connection of this provider (see RelayLinkOptions.nodeId). */
  private readonly nodeId: string

  constructor(options: MeridianProviderOptions) {
    super()
    const urls = validateProviderOptions(options)
    this.o = options
    this.params = options.params
    this.doc = options.doc
    this.docName = options.docName
    this.clock = options.clock ?? systemClock
    this.waiters = new Waiters(this.clock)
    this.ledger = new Ledger(this.waiters, () => this.emit('durability', []))
    // Random per provider instance, from the injected source (the testing kit replays it from a seed).
    const random = options.random ?? Math.random
    this.nodeId = Array.from({ length: 4 }, () => Math.floor(random() * 0x10000).toString(16).padStart(4, '0')).join('')
    const hooks: GuaranteesOptions = {
      policy: options.policy,
      clock: this.clock,
      onPolicy: (decision, diff) => this.emit('policy', [decision, diff]),
      onConverged: (decision) => this.emit('converged', [decision]),
      onWritable: () => this.link?.sendPendingDiff(),
      onWarning: (error) => this.emitError(error)
    }
    this.guarantees = options.policyEngine?.(hooks) ?? new BasicGuarantees(hooks)
    this.gate = new WriteGate({
      doc: this.doc, ledger: this.ledger, digest: options.deleteDigest ?? null,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      newClientId: () => Math.floor(random() * 0xffffffff) >>> 0,
      onError: (e) => this.emitError(e)
    })
    this.store = new LocalStore({
      store: options.store,
      docName: this.docName,
      compactAfterUpdates: options.compactAfterUpdates ?? DEFAULT_PROVIDER_OPTIONS.compactAfterUpdates,
      onError: (e) => this.emitError(e),
      onMemoryOnly: (error) => !this._destroyed && this.emit('persistence', [{ state: 'memory-only', error }])
    })
    this.awareness = options.awareness ?? new awarenessProtocol.Awareness(this.doc)
    this.reconnect = new Reconnect({
      urls,
      backoff: new Backoff({ ...DEFAULT_BACKOFF, ...options.backoff }, options.random),
      clock: this.clock,
      connect: options.connect ?? DEFAULT_PROVIDER_OPTIONS.connect,
      open: (url) => this.openLink(url),
      drop: () => this.link?.close(CLOSE_CODES.CLIENT_RECONNECT, 'browser offline')
    })
    // Listen before loading: edits made while the store loads are persisted and sent too.
    this.doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
    // Cross-tab: on by default where tabs share the store (the default IndexedDB one) and
    // BroadcastChannel exists. With a custom store, instances do not share storage, so it is opt-in.
    const crossTab = options.crossTab ?? (options.store === undefined && broadcastChannelAvailable())
    this.crossTab = crossTab && broadcastChannelAvailable() ? this.openCrossTab() : null
    this.whenLoaded = this.load()
  }

  get status(): ConnectionStatus {
    return this._status
  }

  get synced(): boolean {
    return this._synced
  }

  get loaded(): boolean {
    return this._loaded
  }

  /** True once `destroy()` was called. */
  get destroyed(): boolean {
    return this._destroyed
  }

  /** Local updates not yet acknowledged by a relay. */
  get pendingCount(): number {
    return this.ledger.size
  }

  get pendingBytes(): number {
    return this.ledger.byteLength
  }

  /** The current policy decision: mode, capabilities on or shed with reasons, staleness bound. */
  get policy(): PolicyDecision {
    return this.guarantees.decision
  }

  /** Local writes held back because the relay cannot take them for their size (ERR_WRITE_TOO_LARGE), oldest first. */
  get refusedWrites(): RefusedWrite[] {
    return this.gate.refused.list()
  }

  /** Deletes a refused write's content (then it fits a frame) so it and the writes held with it sync; ERR_OPTIONS for an unknown seq. */
  dropWrite(seq: number): void {
    this.gate.drop(seq, () => this.ledger.highWaterMark)
    this.notePending()
    if (this.guarantees.isWritable) this.link?.sendPendingDiff()
  }

  /** Whether the app may offer `capability` right now. */
  can(capability: string): boolean {
    return this.guarantees.can(capability)
  }

  /**
   * Runs `fn` in one Yjs transaction on the document, unless the document is
   * read-only: then it throws ERR_READ_ONLY and nothing is changed.
   */
  transact<T>(fn: (doc: Y.Doc) => T): T {
    if (!this.guarantees.isWritable) throw new MeridianError('ERR_READ_ONLY', `${this.docName} is read-only: ${this.guarantees.decision.reasons.join(', ')}`)
    let result: T | undefined
    this.doc.transact(() => {
      result = fn(this.doc)
    })
    return result as T
  }

  /**
   * Resolves once a local write (the update object the doc emitted, or 'all'
   * for every write so far) reaches `level`: 'local', 'relay', or
   * { replicated: k } — committed in at least k other regions.
   */
  whenDurable(target: Uint8Array | 'all', level: DurabilityLevel, options?: { timeoutMs?: number }): Promise<void> {
    if (this._destroyed) return Promise.reject(destroyedError())
    return this.ledger.whenDurable(target, level, options?.timeoutMs)
  }

  /** The durability level a local write has reached so far (a `durability` event follows every change). */
  durabilityOf(target: Uint8Array | 'all'): DurabilityLevel | 'pending' {
    return this.ledger.levelOf(target)
  }

  /** The relay in use, once it said hello. */
  get relay(): RelayInfo | null {
    return this._relay
  }

  /** `ok`: local edits are stored locally; `memory-only`: the local store failed, see `persistenceError`. */
  get persistence(): PersistenceState {
    return this.store.state
  }

  /** Why the document went `memory-only` (an ERR_PERSISTENCE error with the store error as `cause`). */
  get persistenceError(): MeridianError | null {
    return this.store.error
  }

  /** True when edits are shared with other tabs of this origin through a BroadcastChannel. */
  get crossTabEnabled(): boolean {
    return this.crossTab !== null
  }

  /** The URL of the current (or last attempted) relay. */
  get url(): string | null {
    return this.link?.url ?? null
  }

  connect(): void {
    this.reconnect.connect()
  }

  /**
   * Replaces the query parameters used from the next connection on — e.g. a
   * fresh token after the relay refused an expired one (an `error` event with
   * `relayCode` ERR_AUTH_EXPIRED stops reconnecting); then call `connect()`.
   */
  setParams(params: Readonly<Record<string, string>>): void {
    this.params = { ...params }
  }

  /** Goes offline until `connect()`; local edits keep being stored and queued. */
  disconnect(): void {
    this.reconnect.disconnect()
    this.link?.close(1000, 'client disconnect')
  }

  /** Resolves when a sync round with a relay has completed (now or later). */
  whenSynced(options?: { timeoutMs?: number }): Promise<void> {
    if (this._destroyed) return Promise.reject(destroyedError())
    return this.waiters.waitFor({ done: () => this._synced, what: 'synced' }, options?.timeoutMs)
  }

  /** Resolves when every local update so far has been acknowledged by a relay (committed to its storage). */
  whenAcknowledged(options?: { timeoutMs?: number }): Promise<void> {
    if (this._destroyed) return Promise.reject(destroyedError())
    return this.waiters.waitFor({ done: () => this.ledger.size === 0, what: 'acknowledged' }, options?.timeoutMs)
  }

  /** Resolves once every local write so far is committed to the local store. */
  async whenPersisted(): Promise<void> {
    await this.whenLoaded
    await this.store.local?.flush()
  }

  /** Disconnects, flushes local writes and releases everything. */
  override async destroy(): Promise<void> {
    if (this._destroyed) return
    this._destroyed = true
    this.reconnect.destroy()
    this.guarantees.destroy()
    this.link?.close(1000, 'provider destroyed')
    this.link = null
    this.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.crossTab?.close()
    if (this.o.awareness === undefined) this.awareness.destroy()
    this.waiters.rejectAll(destroyedError())
    await this.whenLoaded
    await this.store.close()
    super.destroy()
  }

  private async load(): Promise<void> {
    const stored = await this.store.load()
    if (stored !== null && !this._destroyed) {
      Y.transact(this.doc, () => {
        if (stored.snapshot !== null) Y.applyUpdate(this.doc, stored.snapshot, STORE_ORIGIN)
        for (const u of stored.updates) Y.applyUpdate(this.doc, u.data, STORE_ORIGIN)
      }, STORE_ORIGIN)
      for (const p of stored.pending) this.gate.admitRestored(this.ledger.add(p.data, this.clock.now(), { key: p.key }))
    }
    this._loaded = true
    if (this._destroyed) return
    this.emit('loaded', [])
    // Ask the other tabs for edits this tab's load may have missed.
    this.crossTab?.start()
    if (this.ledger.size > 0) this.notePending()
    this.reconnect.start()
  }

  private openCrossTab(): CrossTab {
    return new CrossTab({
      doc: this.doc,
      docName: this.docName,
      onUpdate: (update, forward) => {
        // Not persisted, not in our ledger, not posted again (see cross-tab.ts).
        Y.applyUpdate(this.doc, update, CROSS_TAB_ORIGIN)
        // The sending tab had no relay connection: pass its edit on to ours (not counted in our ledger;
        // held back like our own edits while the document is read-only).
        if (forward && this.guarantees.isWritable) this.link?.sendUpdate(update, this.ledger.highWaterMark)
      },
      onError: (cause) => this.emitError(new MeridianError('ERR_REMOTE_UPDATE', 'could not apply an update from another tab', { cause }))
    })
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    // Another tab's edit: that tab stores and sends it (see cross-tab.ts).
    if (origin === STORE_ORIGIN || origin === CROSS_TAB_ORIGIN) return
    if (origin === this) {
      // A relay's update. The link opens only after loading, so persistence exists for it.
      void this.store.local?.write(update, false)
      return
    }
    const client = this.doc.clientID
    const entry = this.ledger.add(update, this.clock.now())
    const send = this.gate.admit(entry, client)
    const persisted = this.store.local !== null ? this.store.local.write(update, true) : this.whenLoaded.then(() => this.store.local?.write(update, true) ?? null)
    void persisted.then((key) => {
      entry.key = key
      this.ledger.markLocal(entry.seq, key !== null)
      // Acknowledged before the local write committed: drop it from the store's pending list now.
      if (key !== null && entry.acked) this.store.local?.acknowledge([key])
    })
    this.notePending()
    if (this.guarantees.isWritable) {
      if (send) this.link?.sendUpdate(update, this.ledger.highWaterMark)
    } else {
      // Not dropped: kept locally and in the ledger, sent once the document is writable again.
      this.emitError(new MeridianError('ERR_READ_ONLY', `${this.docName} is read-only (${this.guarantees.decision.reasons.join(', ')}): the edit is held locally, not sent`))
    }
    this.crossTab?.postUpdate(update, this._status === 'connected')
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown
  ): void => {
    if (origin === this) return
    this.link?.sendAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...added, ...updated, ...removed]))
  }

  /** One connection attempt (see Reconnect); false when none can start. */
  private openLink(url: string): boolean {
    const WebSocketImpl = this.o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocketImpl === undefined) {
      this.emitError(new MeridianError('ERR_NO_WEBSOCKET', 'no WebSocket implementation: pass options.WebSocket (e.g. from the ws package)'))
      return false
    }
    const link: RelayLink = new RelayLink({
      url,
      docName: this.docName,
      params: this.params,
      WebSocket: WebSocketImpl,
      clock: this.clock,
      connectTimeoutMs: this.o.connectTimeoutMs ?? DEFAULT_PROVIDER_OPTIONS.connectTimeoutMs,
      syncProbeIntervalMs: this.o.syncProbeIntervalMs ?? defaultSyncProbeIntervalMs(this.o.policy),
      doc: this.doc,
      digest: this.o.deleteDigest ?? null,
      maxFrameBytes: this.gate.maxFrameBytes,
      nodeId: this.nodeId,
      host: {
        highWaterMark: () => this.ledger.highWaterMark,
        writable: () => this.guarantees.isWritable,
        encodeDiff: (sv, digest) => this.gate.encodeDiff(sv, digest),
        localAwareness: () => (this.awareness.getLocalState() === null ? null : awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.awareness.clientID]))
      },
      onEvent: (event) => {
        if (this.link === link) this.onLinkEvent(link, event)
      }
    })
    this.link = link
    this.setStatus('connecting', url)
    return true
  }

  /** Everything the current link reports (events of a replaced link are ignored). */
  private onLinkEvent(link: RelayLink, event: LinkEvent): void {
    switch (event.type) {
      case 'open':
        this.setStatus('connected', link.url)
        this.reconnect.opened()
        return
      case 'synced':
        this.guarantees.synced(event.syncAtMs)
        this.setSynced(true)
        return
      case 'sync-point':
        this.guarantees.syncPoint(event.syncAtMs)
        return
      case 'acknowledged': {
        const done = this.ledger.acknowledge(event.seq)
        if (done.length === 0) return
        this.store.local?.acknowledge(done.flatMap((e) => (e.key !== null ? [e.key] : [])))
        this.notePending()
        this.waiters.check()
        return
      }
      case 'replicated':
        this.ledger.markReplicated(event.regions, event.seq)
        return
      case 'status':
        this.guarantees.status(event.status, event.reportAtMs, event.roundDone)
        return
      case 'relay':
        this._relay = event.info
        this.guarantees.relayInfo(event.info.region)
        this.emit('relay', [event.info])
        return
      case 'awareness':
        awarenessProtocol.applyAwarenessUpdate(this.awareness, event.update, this)
        return
      case 'remote-update':
        Y.applyUpdate(this.doc, event.update, this)
        return
      case 'error':
        this.emitError(event.error)
        return
      case 'frame-too-large':
        this.emitError(new MeridianError('ERR_WRITE_TOO_LARGE', `the update the relay lacks is ${event.bytes} bytes, over maxFrameBytes ${this.gate.maxFrameBytes}: not sent (no single write is to blame; see provider.refusedWrites)`, { bytes: event.bytes }))
        return
      case 'close':
        this.onLinkClose(link, event.wasOpen, event.code, event.reason)
        return
    }
  }

  private onLinkClose(link: RelayLink, wasOpen: boolean, code: number | null, reason: string): void {
    this.link = null
    // Refused for its size: hold the culprit back so the reconnection does not resend it (y-websocket#189).
    if (code !== null && SIZE_REFUSALS[code] !== undefined) this.gate.relayRefused(code)
    // Refused credentials: retrying them cannot succeed and would hammer the relay, so stop, and say
    // why (last, so that the app can fix the cause, e.g. setParams, and connect() from the handler).
    const refusal = code === null ? undefined : AUTH_REFUSALS[code]
    this.setSynced(false)
    this.reconnect.closed(wasOpen, refusal !== undefined)
    this.setStatus('disconnected', link.url)
    if (refusal !== undefined) this.emitError(new MeridianError('ERR_RELAY', `relay refused the connection (${code}): ${refusal}`, { relayCode: reason.length > 0 ? reason : refusal }))
  }

  private notePending(): void {
    this.emit('pending', [this.ledger.size])
    this.guarantees.pending(this.ledger.size, this.ledger.byteLength, this.ledger.oldest()?.atMs ?? null)
  }

  private setStatus(status: ConnectionStatus, url: string | null): void {
    if (this._status === status) return
    this._status = status
    this.guarantees.connection(status === 'connected')
    this.emit('status', [{ status, url }])
  }

  private setSynced(synced: boolean): void {
    if (this._synced === synced) return
    this._synced = synced
    this.emit('synced', [synced])
    this.waiters.check()
  }

  private emitError(error: MeridianError): void {
    // An error event with no listener must not crash the app: errors are reported, not thrown.
    this.emit('error', [error])
  }
}

const destroyedError = (): MeridianError => new MeridianError('ERR_DESTROYED', 'provider destroyed')
