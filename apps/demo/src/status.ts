import type * as Y from 'yjs'
import type { ConnectionStatus, MeridianProvider, PersistenceState } from '@meridian/client'
import { createPolicyEngine, type PolicyConfig, type PolicyDecision, type PolicyEngine, type PolicySignals } from '@meridian/policy'

/**
 * What the status panel shows, derived from the provider's events. Everything
 * here is what the SDK exposes today; what it does not expose yet (staleness,
 * policy) is computed in the page and labelled so.
 */

/** Durability of the last local write: the levels of docs/architecture.md as far as the page shows them. */
export type Durability =
  | 'none' // no local write in this page yet
  | 'memory' // applied, not yet committed to IndexedDB (or the store failed: memory-only)
  | 'local' // committed to IndexedDB, not yet acknowledged by the relay
  | 'relay' // committed to the relay's storage and acknowledged
  | 'replicated' // held by other regions too (from the SDK's durabilityOf, once the mesh reports it)

export interface DemoState {
  docName: string
  status: ConnectionStatus
  url: string | null
  relay: { nodeId: string; region: string } | null
  synced: boolean
  pending: number
  pendingBytes: number
  durability: Durability
  /** For `replicated`: by how many other regions. */
  replicatedRegions: number | null
  /** performance.now() of the last completed sync (see SignalTracker); null: never in this page. */
  lastSyncAtMs: number | null
  stalenessMs: number | null
  persistence: PersistenceState
  persistenceError: string | null
  crossTab: boolean
  offlineByUser: boolean
  policySource: 'sdk' | 'page'
  /** The SDK has a `provider.policy` of its own (shown with ?policy=sdk). */
  sdkPolicyAvailable: boolean
  decision: PolicyDecision
  /** The page is cached for offline reloads (service worker + cache). */
  offlineReady: boolean
  homeRegion: string
}

/** The demo's app capabilities: the example of docs/architecture.md, "Modes and capabilities". */
export function demoPolicyConfig(homeRegion: string): Partial<PolicyConfig> {
  return {
    maxStalenessMs: 10_000,
    maxPendingUpdates: 1_000,
    homeRegion,
    requiresHomeRegionForWrites: false,
    recoveryHoldMs: 3_000,
    capabilities: [
      { name: 'comments', maxStalenessMs: 30_000 },
      { name: 'checkout', requires: 'home-region', maxStalenessMs: 2_000, priority: 10 },
      { name: 'upload', maxPendingUpdates: 500 }
    ]
  }
}

/**
 * Tracks the provider's signals over time: when the last sync round
 * completed, the age of the oldest unacknowledged write, and the durability
 * of the last local write.
 *
 * "Last completed sync" (the staleness clock), as far as the SDK exposes it:
 * a sync round completes at `synced` (the relay's state arrived) and at every
 * acknowledgement (the relay committed our writes, so it answered a round
 * trip). While connected and synced with nothing pending, the connection is
 * live and counts as in sync now. So staleness grows while disconnected, and
 * while writes wait for acknowledgements that do not come.
 */
export class SignalTracker {
  lastSyncAtMs: number | null = null
  private pendingSince: number[] = []
  private lastWrite: { seq: number; persisted: boolean; update: Uint8Array } | null = null
  private writeSeq = 0
  private lastPending = 0
  private detach: (() => void) | null = null

  constructor(private readonly now: () => number = () => performance.now()) {}

  attach(provider: MeridianProvider, doc: Y.Doc): void {
    this.detach?.()
    this.lastPending = provider.pendingCount
    this.pendingSince = Array.from({ length: provider.pendingCount }, () => this.now())
    const onSynced = (synced: boolean): void => {
      if (synced) this.lastSyncAtMs = this.now()
    }
    const onPending = (count: number): void => {
      // The outbox is acknowledged oldest first: an ack removes entries from the front.
      if (count < this.lastPending && provider.status === 'connected') this.lastSyncAtMs = this.now()
      while (this.pendingSince.length > count) this.pendingSince.shift()
      while (this.pendingSince.length < count) this.pendingSince.push(this.now())
      this.lastPending = count
    }
    const onUpdate = (update: Uint8Array, _origin: unknown, _doc: Y.Doc, transaction: Y.Transaction): void => {
      // Only this page's own edits (other tabs' and the relay's arrive through applyUpdate: not local).
      if (!transaction.local) return
      const seq = ++this.writeSeq
      this.lastWrite = { seq, persisted: false, update }
      void provider.whenPersisted().then(() => {
        if (this.lastWrite?.seq === seq) this.lastWrite.persisted = provider.persistence === 'ok'
      })
    }
    provider.on('synced', onSynced)
    provider.on('pending', onPending)
    doc.on('update', onUpdate)
    if (provider.synced) this.lastSyncAtMs = this.now()
    this.detach = () => {
      provider.off('synced', onSynced)
      provider.off('pending', onPending)
      doc.off('update', onUpdate)
    }
  }

  /** Call at every render: a live, synced connection with an empty outbox is in sync now. */
  observe(provider: MeridianProvider): void {
    if (provider.status === 'connected' && provider.synced && provider.pendingCount === 0) this.lastSyncAtMs = this.now()
  }

  durability(provider: MeridianProvider): { level: Durability; regions: number | null } {
    if (this.lastWrite === null) return { level: 'none', regions: null }
    // Replication is only known to the SDK (acknowledgements from other regions, via the mesh).
    const sdk = sdkDurabilityOf(provider, this.lastWrite.update)
    if (typeof sdk === 'object' && sdk !== null && typeof sdk.replicated === 'number' && sdk.replicated > 0) {
      return { level: 'replicated', regions: sdk.replicated }
    }
    // The outbox is FIFO and the last write is its newest entry: empty means it was acknowledged.
    if (provider.pendingCount === 0) return { level: 'relay', regions: null }
    return { level: this.lastWrite.persisted ? 'local' : 'memory', regions: null }
  }

  oldestPendingAgeMs(nowMs: number): number | null {
    const oldest = this.pendingSince[0]
    return oldest === undefined ? null : Math.max(0, nowMs - oldest)
  }

  dispose(): void {
    this.detach?.()
    this.detach = null
  }
}

/** `provider.durabilityOf(update)` where the SDK has it (read loosely: the demo also runs against SDKs without it). */
function sdkDurabilityOf(provider: MeridianProvider, update: Uint8Array): { replicated?: unknown } | string | null {
  const fn = (provider as unknown as { durabilityOf?: (target: Uint8Array) => unknown }).durabilityOf
  if (typeof fn !== 'function') return null
  const level = fn.call(provider, update)
  return typeof level === 'string' || (typeof level === 'object' && level !== null) ? (level as { replicated?: unknown } | string) : null
}

/** The SDK's own decision (`provider.policy`), where the SDK has one. */
export function sdkPolicyDecision(provider: MeridianProvider): PolicyDecision | null {
  const candidate = (provider as unknown as { policy?: unknown }).policy
  if (typeof candidate !== 'object' || candidate === null) return null
  const decision = 'decision' in candidate ? (candidate as { decision: unknown }).decision : candidate
  return typeof decision === 'object' && decision !== null && 'mode' in decision && 'capabilities' in decision ? (decision as PolicyDecision) : null
}

/**
 * Runs the pure @meridian/policy engine in the page on the provider's
 * signals. With `preferSdk`, shows the SDK's own `provider.policy` instead,
 * where the SDK has one (the provider is given the same config).
 */
export class PagePolicy {
  private readonly engine: PolicyEngine

  constructor(
    readonly homeRegion: string,
    private readonly preferSdk: boolean
  ) {
    this.engine = createPolicyEngine(demoPolicyConfig(homeRegion))
  }

  signals(provider: MeridianProvider, tracker: SignalTracker, nowMs: number): PolicySignals {
    const connected = provider.status === 'connected'
    const region = provider.relay?.region
    return {
      nowMs,
      connected,
      lastSyncAtMs: tracker.lastSyncAtMs,
      // Single relay, no mesh reports yet: no other region to be stale towards.
      relayStalenessMs: {},
      pendingUpdates: provider.pendingCount,
      pendingBytes: provider.pendingBytes,
      oldestPendingAgeMs: tracker.oldestPendingAgeMs(nowMs),
      // Connected to a relay of the home region: reachable. Otherwise unknown (no mesh reports yet).
      homeRegionReachable: connected && region === this.homeRegion ? true : null
    }
  }

  evaluate(provider: MeridianProvider, tracker: SignalTracker, nowMs: number): { source: 'sdk' | 'page'; decision: PolicyDecision } {
    // The page's engine runs either way, so its hysteresis state stays current.
    const page = this.engine.update(this.signals(provider, tracker, nowMs))
    const fromSdk = this.preferSdk ? sdkPolicyDecision(provider) : null
    return fromSdk !== null ? { source: 'sdk', decision: fromSdk } : { source: 'page', decision: page }
  }
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return 'unbounded'
  if (ms < 1_000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
