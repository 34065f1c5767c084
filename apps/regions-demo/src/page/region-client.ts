import * as Y from 'yjs'
import { MeridianProvider } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { deleteDigest } from '@meridian/client/digest'
import { policyEngine } from '@meridian/client/policy'
import { type DocumentMode, type PolicyConfig, type PolicyDecision } from '@meridian/policy'
import { systemClock } from '@meridian/base'

/** T: beyond this staleness bound a region's document is `degraded`. Short, so a cut shows within seconds. */
export const MAX_STALENESS_MS = 3_000

/** The policy every region's client runs (the SDK's own engine: `provider.policy`). */
export const REGIONS_POLICY: Partial<PolicyConfig> = {
  maxStalenessMs: MAX_STALENESS_MS,
  maxPendingUpdates: 1_000,
  recoveryHoldMs: 2_000,
  capabilities: [
    { name: 'comments', maxStalenessMs: 10_000 },
    { name: 'publish', maxStalenessMs: MAX_STALENESS_MS, priority: 10 }
  ]
}

/** One point of the chart. `atMs` is on the policy clock (`systemClock`: Date.now). */
export interface Sample {
  atMs: number
  /** The staleness bound now (null: unbounded). */
  boundMs: number | null
  mode: DocumentMode
}

/** How long samples are kept: a bit more than the chart shows. */
export const SAMPLE_WINDOW_MS = 75_000

/**
 * The editor client of one region: its own Y.Doc and provider against that
 * region's relay only. Kept in memory, not in IndexedDB, and not shared
 * across tabs: three regions in one page must not exchange edits locally.
 */
export class RegionClient {
  readonly doc = new Y.Doc()
  readonly text: Y.Text
  readonly provider: MeridianProvider
  readonly samples: Sample[] = []

  constructor(
    readonly region: string,
    readonly wsUrl: string,
    docName: string
  ) {
    this.text = this.doc.getText('text')
    this.provider = new MeridianProvider({
      doc: this.doc,
      docName,
      urls: [wsUrl],
      store: new MemoryClientStore(),
      crossTab: false,
      // A killed relay comes back within seconds: retry soon, never more than 2 s apart.
      backoff: { initialDelayMs: 250, maxDelayMs: 2_000, stableAfterMs: 3_000 },
      policy: REGIONS_POLICY,
      policyEngine,
      deleteDigest
    })
  }

  get decision(): PolicyDecision {
    return this.provider.policy
  }

  /**
   * The staleness bound at `nowMs`. The decision is re-evaluated when a
   * signal changes (a sync round, a relay's status report, at least every
   * second while connected); in between, with no news, the bound grows one to
   * one with time from the value the decision was made with.
   */
  boundAt(nowMs: number): number | null {
    const d = this.provider.policy
    return d.stalenessBoundMs === null ? null : d.stalenessBoundMs + Math.max(0, nowMs - d.evaluatedAtMs)
  }

  sample(): Sample {
    const atMs = systemClock.now()
    const s: Sample = { atMs, boundMs: this.boundAt(atMs), mode: this.provider.policy.mode }
    this.samples.push(s)
    while (this.samples.length > 0 && (this.samples[0] as Sample).atMs < atMs - SAMPLE_WINDOW_MS) this.samples.shift()
    return s
  }

  destroy(): Promise<void> {
    return this.provider.destroy()
  }
}
