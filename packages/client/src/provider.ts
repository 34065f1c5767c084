import * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import { ObservableV2 } from 'lib0/observable'
import { type PolicyDecision } from '@meridian/policy'
import { systemClock, type Clock } from '@meridian/base'
import { Backoff, DEFAULT_BACKOFF } from './backoff.js'
import { MeridianError } from './errors.js'
import { Ledger, type DurabilityLevel } from './ledger.js'
import { LocalStore } from './local-store.js'
import { LocalWrites, STORE_ORIGIN } from './local-writes.js'
import type { LinkEvent, RelayInfo } from './link-events.js'
import { Connection } from './connection.js'
import { DEFAULT_PROVIDER_OPTIONS, defaultSyncProbeIntervalMs, validateProviderOptions, type MeridianProviderOptions } from './options.js'
import { CROSS_TAB_ORIGIN, openCrossTab, type CrossTabLink } from './cross-tab-engine.js'
import { BasicGuarantees, type Guarantees, type GuaranteesOptions } from './guarantees.js'
import { authRefusal, type ConnectionStatus, type MeridianProviderEvents, type PersistenceState } from './provider-events.js'
import { Waiters } from './waiters.js'
import type { Presence } from './presence-engine.js'
import { BasicWriteGate, DEFAULT_MAX_FRAME_BYTES, type RefusedWrite, type WriteGate, type WriteGateOptions } from './write-gate.js'

export type { ConnectionStatus, MeridianProviderEvents, PersistenceState } from './provider-events.js'

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
  /** Presence: the `awareness` option or a new Awareness, with the `presence` option (`@meridian/client/presence`); null without it (peers' awareness is then ignored). */
  readonly awareness: Awareness | null
  /** Resolves once the local store has been applied to the doc. Never rejects: store failures become `error` events. */
  readonly whenLoaded: Promise<void>

  private readonly o: MeridianProviderOptions
  private readonly clock: Clock
  private readonly waiters: Waiters
  private readonly ledger: Ledger
  private readonly guarantees: Guarantees
  /** Which writes go to the relay: BasicWriteGate (fail-stop) or the `holdRefusedWrites` option's (see write-gate.ts). */
  private readonly gate: WriteGate
  private readonly store: LocalStore
  private readonly writes: LocalWrites
  /** Cross-tab sharing (see cross-tab.ts); null when disabled or unavailable. */
  private readonly crossTab: CrossTabLink | null
  private readonly connection: Connection
  private readonly presence: Presence | null
  private _destroyed = false
  private _status: ConnectionStatus = 'disconnected'
  private _synced = false
  private _loaded = false
  private _relay: RelayInfo | null = null

  constructor(options: MeridianProviderOptions) {
    super()
    const urls = validateProviderOptions(options)
    this.o = options
    this.doc = options.doc
    this.docName = options.docName
    this.clock = options.clock ?? systemClock
    this.waiters = new Waiters(this.clock)
    this.ledger = new Ledger(this.waiters, () => this.emit('durability', []))
    const random = options.random ?? Math.random
    const hooks: GuaranteesOptions = {
      policy: options.policy,
      clock: this.clock,
      onPolicy: (decision, diff) => this.emit('policy', [decision, diff]),
      onConverged: (decision) => this.emit('converged', [decision]),
      onWritable: () => this.connection.current?.sendPendingDiff(),
      onWarning: (error) => this.emitError(error)
    }
    this.guarantees = options.policyEngine?.(hooks) ?? new BasicGuarantees(hooks)
    const gate: WriteGateOptions = {
      doc: this.doc, ledger: this.ledger, digest: options.deleteDigest ?? null, maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      newClientId: () => Math.floor(random() * 0xffffffff) >>> 0, onError: (e) => this.emitError(e),
      // A write the gate cannot send: close the link before it goes out, and no reconnect loop (until connect()).
      stop: (e) => { this.connection.disconnect('write refused'); this.emitError(e) }
    }
    this.gate = options.holdRefusedWrites?.(gate) ?? new BasicWriteGate(gate)
    this.store = new LocalStore({
      store: options.store, docName: this.docName, onError: (e) => this.emitError(e),
      compactAfterUpdates: options.compactAfterUpdates ?? DEFAULT_PROVIDER_OPTIONS.compactAfterUpdates,
      onMemoryOnly: (error) => !this._destroyed && this.emit('persistence', [{ state: 'memory-only', error }])
    })
    this.writes = new LocalWrites({ doc: this.doc, ledger: this.ledger, gate: this.gate, store: this.store, clock: this.clock, loaded: () => this.whenLoaded })
    const presence = (this.presence = options.presence ?? null)
    this.awareness = presence === null ? null : (options.awareness ?? presence.create(this.doc))
    this.connection = new Connection({
      urls, params: options.params, WebSocket: options.WebSocket, docName: this.docName, doc: this.doc, clock: this.clock,
      backoff: new Backoff({ ...DEFAULT_BACKOFF, ...options.backoff }, options.random),
      connect: options.connect ?? DEFAULT_PROVIDER_OPTIONS.connect,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_PROVIDER_OPTIONS.connectTimeoutMs,
      // Probes feed the staleness bound; only the policy engine computes one (without it they only cost traffic).
      syncProbeIntervalMs: options.syncProbeIntervalMs ?? (options.policyEngine ? defaultSyncProbeIntervalMs(options.policy) : 0),
      digest: options.deleteDigest ?? null,
      maxFrameBytes: this.gate.maxFrameBytes,
      // Random per provider instance, from the injected source (the testing kit replays it from a seed).
      nodeId: Array.from({ length: 4 }, () => Math.floor(random() * 0x10000).toString(16).padStart(4, '0')).join(''),
      host: {
        highWaterMark: () => this.ledger.highWaterMark,
        writable: () => this.guarantees.isWritable,
        encodeDiff: (sv, digest) => this.gate.encodeDiff(sv, digest),
        sendableDeletes: (update) => this.gate.sendableDeletes(update),
        localAwareness: () => (presence === null || this.awareness === null || this.awareness.getLocalState() === null
          ? null : presence.encode(this.awareness, [this.awareness.clientID]))
      },
      onEvent: (event) => this.onLinkEvent(event),
      onAttempt: () => this.setStatus('connecting', this.url), // this.url, not the attempt's: a multiplexed provider reports the shared socket's
      onError: (e) => this.emitError(e)
    })
    // Listen before loading: edits made while the store loads are persisted and sent too.
    this.doc.on('update', this.onDocUpdate)
    this.awareness?.on('update', this.onAwarenessUpdate)
    this.crossTab = openCrossTab(options, {
      doc: this.doc,
      docName: this.docName,
      // The sending tab had no relay connection: pass its edit on to ours (not counted in our ledger;
      // held back like our own edits while the document is read-only).
      onForward: (update) => this.guarantees.isWritable && this.connection.current?.sendUpdate(update, this.ledger.highWaterMark),
      onError: (cause) => this.emitError(new MeridianError('ERR_REMOTE_UPDATE', 'from another tab', { cause }))
    })
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

  /** Local writes held back because the relay cannot take them (with `holdRefusedWrites`; empty without), oldest first. */
  get refusedWrites(): RefusedWrite[] {
    return this.gate.list()
  }

  /** Deletes a refused write's content (then it fits a frame) so it and the writes held with it sync; ERR_OPTIONS for an unknown seq (any, without `holdRefusedWrites`). */
  dropWrite(seq: number): void {
    this.gate.drop(seq, () => this.ledger.highWaterMark)
    this.notePending()
    if (this.guarantees.isWritable) this.connection.current?.sendPendingDiff()
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
    if (!this.guarantees.isWritable) throw new MeridianError('ERR_READ_ONLY', `${this.docName}: ${this.guarantees.decision.reasons.join(', ')}`)
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
    return this.connection.current?.url ?? null
  }

  connect(): void {
    this.connection.connect()
  }

  /**
   * Replaces the query parameters used from the next connection on — e.g. a
   * fresh token after the relay refused an expired one (an `error` event with
   * `relayCode` ERR_AUTH_EXPIRED stops reconnecting); then call `connect()`.
   */
  setParams(params: Readonly<Record<string, string>>): void {
    this.connection.params = { ...params }
  }

  /** Goes offline until `connect()`; local edits keep being stored and queued. */
  disconnect(): void {
    this.connection.disconnect('client disconnect')
  }

  /** Resolves when a sync round with a relay has completed (now or later). */
  whenSynced(options?: { timeoutMs?: number }): Promise<void> {
    return this._destroyed ? Promise.reject(destroyedError()) : this.waiters.waitFor({ done: () => this._synced, what: 'synced' }, options?.timeoutMs)
  }

  /** Resolves when every local update so far has been acknowledged by a relay (committed to its storage). */
  whenAcknowledged(options?: { timeoutMs?: number }): Promise<void> {
    return this._destroyed ? Promise.reject(destroyedError()) : this.waiters.waitFor({ done: () => this.ledger.size === 0, what: 'acknowledged' }, options?.timeoutMs)
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
    this.guarantees.destroy()
    this.connection.destroy()
    this.doc.off('update', this.onDocUpdate)
    this.awareness?.off('update', this.onAwarenessUpdate)
    this.crossTab?.close()
    if (this.o.awareness === undefined) this.awareness?.destroy()
    this.waiters.rejectAll(destroyedError())
    await this.whenLoaded
    await this.store.close()
    super.destroy()
  }

  private async load(): Promise<void> {
    const stored = await this.store.load()
    if (stored !== null && !this._destroyed) this.writes.restore(stored)
    this._loaded = true
    if (this._destroyed) return
    this.emit('loaded', [])
    // Ask the other tabs for edits this tab's load may have missed.
    this.crossTab?.start()
    if (this.ledger.size > 0) this.notePending()
    this.connection.start()
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    // Another tab's edit: that tab stores and sends it (see cross-tab.ts).
    if (origin === STORE_ORIGIN || origin === CROSS_TAB_ORIGIN) return
    if (origin === this) {
      // A relay's update. The link opens only after loading: persistence exists unless no store could be opened.
      void this.store.local?.write(update, false)
      return
    }
    const send = this.writes.record(update, this.doc.clientID)
    this.notePending()
    if (this.guarantees.isWritable) {
      if (send) this.connection.current?.sendUpdate(update, this.ledger.highWaterMark)
    } else {
      // Not dropped: kept locally and in the ledger, sent once the document is writable again.
      this.emitError(new MeridianError('ERR_READ_ONLY', `${this.docName} (${this.guarantees.decision.reasons.join(', ')}): the edit is held locally`))
    }
    this.crossTab?.postUpdate(update, this._status === 'connected')
  }

  private readonly onAwarenessUpdate = ({ added, updated, removed }: Record<'added' | 'updated' | 'removed', number[]>, origin: unknown): void => {
    if (origin === this || this.presence === null || this.awareness === null) return
    this.connection.current?.sendAwareness(this.presence.encode(this.awareness, [...added, ...updated, ...removed]))
  }

  /** Everything the current link reports, in order (see LinkEvent). */
  private onLinkEvent(event: LinkEvent): void {
    switch (event.type) {
      case 'open':
        this.setStatus('connected', this.url)
        this.connection.opened()
        return
      case 'synced':
        this.guarantees.synced(event.syncAtMs)
        this.setSynced(true)
        return
      case 'sync-point':
        this.guarantees.syncPoint(event.syncAtMs)
        return
      case 'acknowledged':
        if (this.writes.acknowledge(event.seq)) this.notePending()
        return
      case 'replicated':
        this.ledger.markReplicated(event.regions, event.seq)
        return
      case 'status':
        this.guarantees.status(event.status, event.reportAtMs, event.roundDone)
        return
      case 'relay':
        this._relay = event.info
        this.guarantees.relayInfo(event.info.region)
        this.emit('relay', [this.relay ?? event.info])
        return
      case 'awareness':
        if (this.awareness !== null) this.presence?.apply(this.awareness, event.update, this)
        return
      case 'remote-update':
        Y.applyUpdate(this.doc, event.update, this)
        return
      case 'error':
        this.emitError(event.error)
        return
      case 'frame-too-large':
        this.gate.frameTooLarge(event.bytes)
        return
      case 'close':
        this.onLinkClose(event.wasOpen, event.code, event.reason)
        return
    }
  }

  private onLinkClose(wasOpen: boolean, code: number | null, reason: string): void {
    const url = this.url
    // A write refused for its size or what it does is held back (holdRefusedWrites) or stops syncing: never resent in a
    // loop (y-websocket#189). Refused credentials: retrying cannot succeed. A stop says why last (so that the app can
    // fix the cause, e.g. setParams, and connect() from the handler).
    const refusal = this.gate.relayClosed(code, reason) ?? authRefusal(code, reason)
    this.setSynced(false)
    this.connection.closed(wasOpen, refusal !== null)
    this.setStatus('disconnected', url)
    if (refusal !== null) this.emitError(refusal)
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

const destroyedError = (): MeridianError => new MeridianError('ERR_DESTROYED')
