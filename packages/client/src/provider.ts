import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { ObservableV2 } from 'lib0/observable'
import { Backoff, DEFAULT_BACKOFF } from './backoff.js'
import { MeridianError } from './errors.js'
import { Outbox } from './outbox.js'
import { LocalStore } from './local-store.js'
import { RelayLink, type RelayInfo } from './relay-link.js'
import { DEFAULT_PROVIDER_OPTIONS, defaultSyncProbeIntervalMs, validateProviderOptions, type MeridianProviderOptions, type WebSocketConstructor } from './options.js'
import { CROSS_TAB_ORIGIN, CrossTab, broadcastChannelAvailable } from './cross-tab.js'
import { systemClock, type Clock, type ClockTimer, type PolicyDecision } from '@meridian/policy'
import { Guarantees } from './guarantees.js'
import type { DurabilityLevel } from './durability.js'
import { AUTH_REFUSALS, type ConnectionStatus, type MeridianProviderEvents, type PersistenceState } from './provider-events.js'
import { Waiters } from './waiters.js'
import { CLOSE_CODES } from '@meridian/protocol'
import { SIZE_REFUSALS, WriteGate } from './write-gate.js'
import { DEFAULT_MAX_FRAME_BYTES, type RefusedWrite } from './refused-writes.js'

export type { ConnectionStatus, MeridianProviderEvents, PersistenceState } from './provider-events.js'

/** Origin of transactions replaying the local store. */
const STORE_ORIGIN = Symbol('meridian-store')

/**
 * Keeps a Y.Doc in IndexedDB first and in sync with a Meridian relay (or any
 * y-websocket server) when one is reachable. See the package README.
 */
export class MeridianProvider extends ObservableV2<MeridianProviderEvents> {
  readonly doc: Y.Doc
  readonly docName: string
  readonly awareness: awarenessProtocol.Awareness
  /** Resolves once the local store has been applied to the doc. Never rejects: store failures become `error` events. */
  readonly whenLoaded: Promise<void>

  private readonly urls: string[]
  private readonly options: MeridianProviderOptions
  /** Query parameters for the next connection (a token, typically); see setParams. */
  private params: Readonly<Record<string, string>> | undefined
  private readonly WebSocketImpl: WebSocketConstructor | undefined
  private readonly clock: Clock
  private readonly ownsAwareness: boolean
  private readonly outbox = new Outbox()
  private readonly guarantees: Guarantees
  /** Writes held back for their size (see write-gate.ts). */
  private readonly gate: WriteGate
  private readonly backoff: Backoff
  private readonly store: LocalStore
  /** Cross-tab sharing (see cross-tab.ts); null when disabled or unavailable. */
  private readonly crossTab: CrossTab | null
  private link: RelayLink | null = null
  private urlIndex = 0
  private reconnectTimer: ClockTimer | null = null
  private stableTimer: ClockTimer | null = null
  private wantConnected: boolean
  private destroyed = false
  private _status: ConnectionStatus = 'disconnected'
  private _synced = false
  private _loaded = false
  private _relay: RelayInfo | null = null
  private readonly waiters: Waiters
  /** Sent in HELLO on every connection of this provider (see RelayLinkOptions.nodeId). */
  private readonly nodeId: string
  private readonly syncProbeIntervalMs: number

  constructor(options: MeridianProviderOptions) {
    super()
    this.urls = validateProviderOptions(options)
    this.params = options.params
    this.options = options
    this.doc = options.doc
    this.docName = options.docName
    this.WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    this.clock = options.clock ?? systemClock
    this.waiters = new Waiters(this.clock)
    this.syncProbeIntervalMs = options.syncProbeIntervalMs ?? defaultSyncProbeIntervalMs(options.policy)
    this.backoff = new Backoff({ ...DEFAULT_BACKOFF, ...options.backoff }, options.random)
    // Random per provider instance, from the injected source (the testing kit replays it from a seed).
    const random = options.random ?? Math.random
    this.nodeId = Array.from({ length: 4 }, () => Math.floor(random() * 0x10000).toString(16).padStart(4, '0')).join('')
    this.guarantees = new Guarantees({
      policy: options.policy,
      clock: this.clock,
      onPolicy: (decision, diff) => this.emit('policy', [decision, diff]),
      onConverged: (decision) => this.emit('converged', [decision]),
      onWritable: () => this.link?.sendPendingDiff(),
      onWarning: (error) => this.emitError(error)
    })
    this.gate = new WriteGate({
      doc: this.doc, outbox: this.outbox, durability: this.guarantees.durability,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      newClientId: () => Math.floor(random() * 0xffffffff) >>> 0,
      onError: (e) => this.emitError(e)
    })
    this.store = new LocalStore({
      store: options.store,
      docName: this.docName,
      compactAfterUpdates: options.compactAfterUpdates ?? DEFAULT_PROVIDER_OPTIONS.compactAfterUpdates,
      onError: (e) => this.emitError(e),
      onMemoryOnly: (error) => !this.destroyed && this.emit('persistence', [{ state: 'memory-only', error }])
    })
    this.ownsAwareness = options.awareness === undefined
    this.awareness = options.awareness ?? new awarenessProtocol.Awareness(this.doc)
    this.wantConnected = options.connect ?? DEFAULT_PROVIDER_OPTIONS.connect
    // Listen before loading: edits made while the store loads are persisted and sent too.
    this.doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
    // Cross-tab: on by default where tabs share the store (the default IndexedDB one) and
    // BroadcastChannel exists. With a custom store, instances do not share storage, so it is opt-in.
    const crossTab = options.crossTab ?? (options.store === undefined && broadcastChannelAvailable())
    this.crossTab = crossTab && broadcastChannelAvailable() ? this.openCrossTab() : null
    // The browser's own connectivity hints: drop a connection it says is gone, retry at once when it is back.
    browserEvents()?.addEventListener('offline', this.onBrowserOffline)
    browserEvents()?.addEventListener('online', this.onBrowserOnline)
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

  /** Local updates not yet acknowledged by a relay. */
  get pendingCount(): number {
    return this.outbox.size
  }

  get pendingBytes(): number {
    return this.outbox.byteLength
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
    this.gate.drop(seq, () => this.outbox.highWaterMark)
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
    if (this.destroyed) return Promise.reject(new MeridianError('ERR_DESTROYED', 'provider destroyed'))
    return this.guarantees.whenDurable(target, level, options?.timeoutMs)
  }

  /** The durability level a local write has reached so far. */
  durabilityOf(target: Uint8Array | 'all'): DurabilityLevel | 'pending' {
    return this.guarantees.durability.levelOf(target)
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
    if (this.destroyed) return
    this.wantConnected = true
    if (this._loaded && this.link === null && this.reconnectTimer === null) this.openLink()
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
    this.wantConnected = false
    this.clearTimers()
    this.link?.close(1000, 'client disconnect')
  }

  /** Resolves when a sync round with a relay has completed (now or later). */
  whenSynced(options?: { timeoutMs?: number }): Promise<void> {
    return this.waitFor(() => this._synced, 'synced', options?.timeoutMs)
  }

  /** Resolves when every local update so far has been acknowledged by a relay (committed to its storage). */
  whenAcknowledged(options?: { timeoutMs?: number }): Promise<void> {
    return this.waitFor(() => this.outbox.size === 0, 'acknowledged', options?.timeoutMs)
  }

  /** Resolves once every local write so far is committed to the local store. */
  async whenPersisted(): Promise<void> {
    await this.whenLoaded
    await this.store.local?.flush()
  }

  /** Disconnects, flushes local writes and releases everything. */
  override async destroy(): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    this.wantConnected = false
    this.clearTimers()
    this.guarantees.destroy()
    this.link?.close(1000, 'provider destroyed')
    this.link = null
    this.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.crossTab?.close()
    browserEvents()?.removeEventListener('offline', this.onBrowserOffline)
    browserEvents()?.removeEventListener('online', this.onBrowserOnline)
    if (this.ownsAwareness) this.awareness.destroy()
    this.waiters.rejectAll(new MeridianError('ERR_DESTROYED', 'provider destroyed'))
    await this.whenLoaded
    await this.store.close()
    super.destroy()
  }

  private async load(): Promise<void> {
    const stored = await this.store.load()
    if (stored !== null && !this.destroyed) {
      Y.transact(this.doc, () => {
        if (stored.snapshot !== null) Y.applyUpdate(this.doc, stored.snapshot, STORE_ORIGIN)
        for (const u of stored.updates) Y.applyUpdate(this.doc, u.data, STORE_ORIGIN)
      }, STORE_ORIGIN)
      for (const p of stored.pending) this.gate.admitRestored(this.outbox.add(p.data, p.key, this.clock.now()))
    }
    this._loaded = true
    if (this.destroyed) return
    this.emit('loaded', [])
    // Ask the other tabs for edits this tab's load may have missed.
    this.crossTab?.start()
    if (this.outbox.size > 0) this.notePending()
    if (this.wantConnected) this.openLink()
  }

  private openCrossTab(): CrossTab {
    return new CrossTab({
      doc: this.doc,
      docName: this.docName,
      onUpdate: (update, forward) => {
        // Not persisted, not in our outbox, not posted again (see cross-tab.ts).
        Y.applyUpdate(this.doc, update, CROSS_TAB_ORIGIN)
        // The sending tab had no relay connection: pass its edit on to ours (not counted in our outbox;
        // held back like our own edits while the document is read-only).
        if (forward && this.guarantees.isWritable) this.link?.sendUpdate(update, this.outbox.highWaterMark)
      },
      onError: (cause) => this.emitError(new MeridianError('ERR_REMOTE_UPDATE', 'could not apply an update from another tab', { cause }))
    })
  }

  private readonly onBrowserOffline = (): void => {
    // Browsers keep a WebSocket "open" for a while after the network is gone; close it now.
    // Reconnection then follows the usual backoff (a relay on localhost stays reachable).
    this.link?.close(CLOSE_CODES.CLIENT_RECONNECT, 'browser offline')
  }

  private readonly onBrowserOnline = (): void => {
    // Do not wait out the backoff delay once the browser says the network is back.
    if (this.destroyed || !this.wantConnected || this.link !== null || !this._loaded) return
    if (this.reconnectTimer !== null) this.clock.clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
    this.openLink()
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    // Another tab's edit: that tab stores and sends it (see cross-tab.ts).
    if (origin === STORE_ORIGIN || origin === CROSS_TAB_ORIGIN) return
    const remote = origin === this
    if (remote) {
      // The link opens only after loading, so persistence exists for every remote update.
      void this.store.local?.write(update, false)
      return
    }
    const client = this.doc.clientID
    const entry = this.outbox.add(update, null, this.clock.now())
    this.guarantees.durability.track(update, entry.seq)
    const send = this.gate.admit(entry, client)
    const persisted = this.store.local !== null ? this.store.local.write(update, true) : this.whenLoaded.then(() => this.store.local?.write(update, true) ?? null)
    void persisted.then((key) => {
      entry.key = key
      this.guarantees.durability.markLocal(entry.seq, key !== null)
      // Acknowledged before the local write committed: drop it from the store's pending list now.
      if (key !== null && entry.acked) this.store.local?.acknowledge([key])
    })
    this.notePending()
    if (this.guarantees.isWritable) {
      if (send) this.link?.sendUpdate(update, this.outbox.highWaterMark)
    } else {
      // Not dropped: kept locally and in the outbox, sent once the document is writable again.
      this.emitError(new MeridianError('ERR_READ_ONLY', `${this.docName} is read-only (${this.guarantees.decision.reasons.join(', ')}): the edit is held locally, not sent`))
    }
    this.crossTab?.postUpdate(update, this._status === 'connected')
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown
  ): void => {
    if (origin === this) return
    const changed = [...added, ...updated, ...removed]
    this.link?.sendAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed))
  }

  private openLink(): void {
    if (this.destroyed || !this.wantConnected || this.link !== null || this.urls.length === 0) return
    if (this.WebSocketImpl === undefined) {
      this.emitError(new MeridianError('ERR_NO_WEBSOCKET', 'no WebSocket implementation: pass options.WebSocket (e.g. from the ws package)'))
      return
    }
    const url = this.urls[this.urlIndex % this.urls.length] as string
    const link = new RelayLink({
      url,
      docName: this.docName,
      params: this.params,
      WebSocket: this.WebSocketImpl,
      clock: this.clock,
      connectTimeoutMs: this.options.connectTimeoutMs ?? DEFAULT_PROVIDER_OPTIONS.connectTimeoutMs,
      syncProbeIntervalMs: this.syncProbeIntervalMs,
      doc: this.doc,
      outboxHighWaterMark: () => this.outbox.highWaterMark,
      isReadOnly: () => !this.guarantees.isWritable,
      encodeDiff: (sv, digest) => this.gate.encodeDiff(sv, digest, () => this.outbox.deleteRanges()),
      maxFrameBytes: this.gate.maxFrameBytes,
      nodeId: this.nodeId,
      localAwareness: () => this.encodeLocalAwareness(),
      handlers: {
        onOpen: () => this.onLinkOpen(link),
        onSynced: (syncAtMs) => {
          this.guarantees.synced(syncAtMs)
          this.setSynced(true)
        },
        onSyncPoint: (syncAtMs) => this.guarantees.syncPoint(syncAtMs),
        onAcknowledged: (outboxSeq) => this.onAcknowledged(outboxSeq),
        onReplicated: (regions, outboxSeq) => this.guarantees.durability.markReplicated(regions, outboxSeq),
        onStatus: (status, reportAtMs, roundDone) => this.guarantees.status(status, reportAtMs, roundDone),
        onRelayInfo: (info) => {
          this._relay = info
          this.guarantees.relayInfo(info.region)
          this.emit('relay', [info])
        },
        onAwareness: (update) => awarenessProtocol.applyAwarenessUpdate(this.awareness, update, this),
        onRemoteUpdate: (update) => Y.applyUpdate(this.doc, update, this),
        onError: (e) => this.emitError(e),
        onFrameTooLarge: (bytes) => this.emitError(new MeridianError('ERR_WRITE_TOO_LARGE', `the update the relay lacks is ${bytes} bytes, over maxFrameBytes ${this.gate.maxFrameBytes}: not sent (no single write is to blame; see provider.refusedWrites)`, { bytes })),
        onClose: (wasOpen, code, reason) => this.onLinkClose(link, wasOpen, code, reason)
      }
    })
    this.link = link
    this.setStatus('connecting', url)
  }

  private onLinkOpen(link: RelayLink): void {
    this.setStatus('connected', link.url)
    // Reset backoff only once the link proved stable, or a flapping relay would see a storm.
    this.stableTimer = this.clock.setTimeout(() => {
      this.stableTimer = null
      this.backoff.reset()
    }, this.backoff.options.stableAfterMs)
  }

  private onLinkClose(link: RelayLink, wasOpen: boolean, code: number | null = null, reason = ''): void {
    if (this.link !== link) return
    this.link = null
    // Refused for its size: hold the culprit back so the reconnection does not resend it (y-websocket#189).
    if (code !== null && SIZE_REFUSALS[code] !== undefined) this.gate.relayRefused(code)
    const refusal = code === null ? undefined : AUTH_REFUSALS[code]
    if (refusal !== undefined) {
      // Retrying the same credentials cannot succeed and would hammer the relay: stop, and say why.
      // The app fixes the cause (e.g. a fresh token in options.params) and calls connect().
      this.wantConnected = false
      this.emitError(new MeridianError('ERR_RELAY', `relay refused the connection (${code}): ${refusal}`, { relayCode: reason.length > 0 ? reason : refusal }))
    }
    if (this.stableTimer !== null) this.clock.clearTimeout(this.stableTimer)
    this.stableTimer = null
    this.setSynced(false)
    // Fail over: next attempt goes to the next relay in the list. A deliberate disconnect() is
    // not a failure of this relay: connect() comes back to it.
    if (this.wantConnected && (!wasOpen || this.urls.length > 1)) this.urlIndex++
    this.setStatus('disconnected', link.url)
    if (this.destroyed || !this.wantConnected) return
    const delay = this.backoff.nextDelayMs()
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = null
      this.openLink()
    }, delay)
  }

  private notePending(): void {
    this.emit('pending', [this.outbox.size])
    this.guarantees.pending(this.outbox.size, this.outbox.byteLength, this.outbox.oldest()?.atMs ?? null)
  }

  private onAcknowledged(outboxSeq: number): void {
    this.guarantees.durability.markRelay(outboxSeq)
    const done = this.outbox.acknowledge(outboxSeq, (seq) => this.gate.refused.has(seq))
    if (done.length === 0) return
    const keys = done.flatMap((e) => (e.key !== null ? [e.key] : []))
    this.store.local?.acknowledge(keys)
    this.notePending()
    this.waiters.check()
  }

  private encodeLocalAwareness(): Uint8Array | null {
    if (this.awareness.getLocalState() === null) return null
    return awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.awareness.clientID])
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

  private waitFor(check: () => boolean, what: string, timeoutMs: number | undefined): Promise<void> {
    if (this.destroyed) return Promise.reject(new MeridianError('ERR_DESTROYED', 'provider destroyed'))
    return this.waiters.waitFor(check, what, timeoutMs)
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== null) this.clock.clearTimeout(this.reconnectTimer)
    if (this.stableTimer !== null) this.clock.clearTimeout(this.stableTimer)
    this.reconnectTimer = null
    this.stableTimer = null
  }
}

/** `window` (or a worker's global) for the browser's online/offline events; null in Node. */
function browserEvents(): Pick<EventTarget, 'addEventListener' | 'removeEventListener'> | null {
  const g = globalThis as { addEventListener?: unknown; removeEventListener?: unknown }
  return typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function' ? (g as unknown as EventTarget) : null
}
