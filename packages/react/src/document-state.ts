import type { ConnectionStatus, DurabilityLevel, MeridianProvider, PersistenceState, RelayInfo } from '@meridian/client'
import type { PolicyDecision } from '@meridian/policy'
import { ExternalStore } from './external-store.js'
import { durabilityEqual, durabilityRank, type Durability } from './durability-labels.js'

/** What the SDK knows about an open document, as one immutable snapshot. */
export interface DocumentSnapshot {
  /** False until a document is open (server render, first client render) and after it closed. */
  readonly open: boolean
  readonly docName: string | null
  readonly status: ConnectionStatus
  /** A sync round with the relay completed on the current connection. */
  readonly synced: boolean
  /** The local copy (IndexedDB) has been read into the document. */
  readonly loaded: boolean
  readonly persistence: PersistenceState
  /** Local updates the relay has not acknowledged yet. */
  readonly pendingCount: number
  readonly durability: DurabilitySnapshot
  /** Mode, capabilities on or shed (with reasons), staleness bound; null until a document is open. */
  readonly policy: PolicyDecision | null
  /** The relay in use, once it said hello. */
  readonly relay: RelayInfo | null
}

export interface DurabilitySnapshot {
  /** The level every local write so far has reached. */
  readonly all: Durability
  /** The level the most recent local write of this session has reached; null before the first one. */
  readonly lastWrite: Durability | null
}

/** One connected peer in the awareness (presence) states. */
export interface PresencePeer {
  readonly clientId: number
  /** Its awareness state as it published it (e.g. `{ user: { name, color }, cursor }`). */
  readonly state: Readonly<Record<string, unknown>>
}

export interface PresenceSnapshot {
  /** This client's awareness id (the doc's clientID), or null when no document is open. */
  readonly self: number | null
  readonly selfState: Readonly<Record<string, unknown>> | null
  /** The other clients, ordered by client id. */
  readonly peers: readonly PresencePeer[]
}

export const CLOSED_SNAPSHOT: DocumentSnapshot = Object.freeze({
  open: false,
  docName: null,
  status: 'disconnected',
  synced: false,
  loaded: false,
  persistence: 'ok',
  pendingCount: 0,
  durability: Object.freeze({ all: 'local', lastWrite: null }),
  policy: null,
  relay: null
})

export const EMPTY_PRESENCE: PresenceSnapshot = Object.freeze({ self: null, selfState: null, peers: Object.freeze([]) })

export interface DocumentStateOptions {
  /** Observe replication up to this many other regions ("saved in k regions"). Default 2. */
  maxReplicatedRegions?: number
}

export const DEFAULT_DOCUMENT_STATE_OPTIONS = { maxReplicatedRegions: 2 } as const

/**
 * Follows one MeridianProvider and keeps two external stores current: the
 * document snapshot (status, policy, pending, durability) and presence. Built
 * only from the provider's public API: its events, and `whenDurable` waiters
 * for durability (the provider has no event for a write becoming local or
 * replicated). At most one waiter per level is armed at a time: when it
 * resolves the snapshot is recomputed and the waiter re-armed for the newest
 * write if that one is still below the level.
 */
export class DocumentState {
  readonly snapshot: ExternalStore<DocumentSnapshot>
  readonly presence: ExternalStore<PresenceSnapshot>
  private readonly levels: DurabilityLevel[]
  private readonly armed = new Set<number>()
  /** Levels whose waiter resolved with no local write since it was armed: not re-armed until a new write. */
  private readonly settled = new Set<number>()
  /** Local writes seen so far (a waiter armed at n covers writes up to n). */
  private writes = 0
  private lastWrite: Uint8Array | null = null
  /** The provider just queued a local write: the doc update that follows is it (see onPending). */
  private expectLocalWrite = false
  private previousPending: number
  private closed = false
  private readonly detach: (() => void)[] = []

  constructor(private readonly provider: MeridianProvider, options: DocumentStateOptions = {}) {
    const k = options.maxReplicatedRegions ?? DEFAULT_DOCUMENT_STATE_OPTIONS.maxReplicatedRegions
    if (!Number.isInteger(k) || k < 0) throw new RangeError('maxReplicatedRegions must be a non-negative integer')
    this.levels = ['local', 'relay', ...Array.from({ length: k }, (_, i): DurabilityLevel => ({ replicated: i + 1 }))]
    this.previousPending = provider.pendingCount
    this.snapshot = new ExternalStore(this.compute(), snapshotsEqual)
    this.presence = new ExternalStore(this.computePresence())
    const refresh = (): void => this.refresh()
    for (const event of ['status', 'synced', 'loaded', 'policy', 'relay', 'persistence'] as const) {
      provider.on(event, refresh)
      this.detach.push(() => provider.off(event, refresh))
    }
    provider.on('pending', this.onPending)
    this.detach.push(() => provider.off('pending', this.onPending))
    // Registered after the provider's own listener (it subscribes in its constructor), so the
    // provider has already queued and tracked a local write when this runs.
    provider.doc.on('update', this.onDocUpdate)
    this.detach.push(() => provider.doc.off('update', this.onDocUpdate))
    const onPresence = (): void => this.presence.set(this.computePresence())
    // Null without the SDK's `presence` option: presence stays empty.
    const awareness = provider.awareness
    awareness?.on('change', onPresence)
    this.detach.push(() => awareness?.off('change', onPresence))
    this.armWaiters()
  }

  /** Stops following the provider; the stores keep their last values. */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const off of this.detach.splice(0)) off()
  }

  private readonly onPending = (count: number): void => {
    // The outbox grows only by a local write, synchronously inside the provider's doc listener.
    if (count > this.previousPending) {
      // A new write: every level has something new to reach.
      this.writes++
      this.settled.clear()
      this.expectLocalWrite = true
      // Cleared before any other task: an update that is not this write can never be taken for it.
      queueMicrotask(() => {
        this.expectLocalWrite = false
      })
    }
    this.previousPending = count
    this.refresh()
  }

  private readonly onDocUpdate = (update: Uint8Array): void => {
    if (!this.expectLocalWrite) return
    this.expectLocalWrite = false
    this.lastWrite = update
    this.refresh()
  }

  private refresh(): void {
    if (this.closed) return
    this.snapshot.set(this.compute())
    this.armWaiters()
  }

  private armWaiters(): void {
    const all = this.provider.durabilityOf('all')
    for (const [index, level] of this.levels.entries()) {
      if (this.armed.has(index) || this.settled.has(index) || durabilityRank(all) >= durabilityRank(level)) continue
      this.armed.add(index)
      const armedAt = this.writes
      this.provider.whenDurable('all', level).then(
        () => {
          this.armed.delete(index)
          // Covers every write so far unless more came since it was armed: then re-arm (refresh).
          // Not re-armed otherwise: with no write at all it resolves at once while durabilityOf
          // still names a lower level, and re-arming would spin.
          if (this.writes === armedAt) this.settled.add(index)
          this.refresh()
        },
        // ERR_DESTROYED when the provider closes first: nothing left to observe.
        () => this.armed.delete(index)
      )
    }
  }

  private compute(): DocumentSnapshot {
    const p = this.provider
    return {
      open: !this.closed,
      docName: p.docName,
      status: p.status,
      synced: p.synced,
      loaded: p.loaded,
      persistence: p.persistence,
      pendingCount: p.pendingCount,
      durability: { all: p.durabilityOf('all'), lastWrite: this.lastWrite === null ? null : p.durabilityOf(this.lastWrite) },
      policy: p.policy,
      relay: p.relay
    }
  }

  private computePresence(): PresenceSnapshot {
    const awareness = this.provider.awareness
    if (awareness === null) return EMPTY_PRESENCE
    const self = awareness.clientID
    const peers: PresencePeer[] = []
    for (const [clientId, state] of awareness.getStates()) {
      if (clientId !== self) peers.push({ clientId, state })
    }
    peers.sort((a, b) => a.clientId - b.clientId)
    return { self, selfState: awareness.getLocalState(), peers }
  }
}

/** Field by field, so an unchanged document keeps the same snapshot object (no re-render). */
function snapshotsEqual(a: DocumentSnapshot, b: DocumentSnapshot): boolean {
  return (
    a.open === b.open &&
    a.docName === b.docName &&
    a.status === b.status &&
    a.synced === b.synced &&
    a.loaded === b.loaded &&
    a.persistence === b.persistence &&
    a.pendingCount === b.pendingCount &&
    a.policy === b.policy &&
    a.relay === b.relay &&
    durabilityEqual(a.durability.all, b.durability.all) &&
    (a.durability.lastWrite === null || b.durability.lastWrite === null
      ? a.durability.lastWrite === b.durability.lastWrite
      : durabilityEqual(a.durability.lastWrite, b.durability.lastWrite))
  )
}
