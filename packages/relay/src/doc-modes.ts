import type { Logger } from 'pino'
import { evaluatePolicy, resolvePolicyConfig, type DocumentMode, type PolicyConfig, type PolicyState } from '@meridian/policy'
import { compileGlob, matchGlob, type CompiledGlob } from './glob.js'
import { RelayError } from './errors.js'

/**
 * Where a document lives. A document whose writes require its home region is
 * read-only on every relay that cannot reach that region: the relay refuses
 * its writes (server-enforced), and tells its clients so.
 */
export interface DocumentPolicy {
  /** Document name glob (`*` matches any run of characters). First match wins. */
  pattern: string
  homeRegion: string
  /** Default true: without the home region the document is read-only. */
  writesRequireHomeRegion?: boolean
}

export interface DocumentModeState {
  mode: DocumentMode
  readOnly: boolean
  homeRegion: string | null
  homeRegionReachable: boolean | null
}

export interface DocumentModesOptions {
  policies: readonly DocumentPolicy[]
  region: string
  /** Whether the relay is linked to a live relay of `region` right now. */
  isRegionReachable: (region: string) => boolean
  /** A read-only document becomes writable only after its home region stayed reachable this long. */
  recoveryHoldMs: number
  logger: Logger
  onTransition: (docName: string, from: DocumentMode, to: DocumentMode, reasons: readonly string[]) => void
}

const FREE: DocumentModeState = { mode: 'healthy', readOnly: false, homeRegion: null, homeRegionReachable: null }
/** The relay judges writability only; staleness and backlog bounds are the clients' business. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER

/**
 * Runs the policy engine (the same one clients run) for every document that
 * has a home region, so the relay and its clients agree on what read-only
 * means, including the hysteresis before writes come back.
 */
export class DocumentModes {
  private readonly o: DocumentModesOptions
  private readonly compiled: { glob: CompiledGlob; policy: DocumentPolicy; config: PolicyConfig }[]
  private readonly states = new Map<string, { state: PolicyState; current: DocumentModeState }>()

  constructor(options: DocumentModesOptions) {
    this.o = options
    this.compiled = options.policies.map((policy) => {
      if (typeof policy.homeRegion !== 'string' || policy.homeRegion.length === 0) {
        throw new RelayError('ERR_RELAY_OPTIONS', `document policy ${policy.pattern}: homeRegion is required`)
      }
      return {
        glob: compileGlob(policy.pattern),
        policy,
        config: resolvePolicyConfig({
          maxStalenessMs: UNBOUNDED,
          maxPendingUpdates: UNBOUNDED,
          homeRegion: policy.homeRegion,
          requiresHomeRegionForWrites: policy.writesRequireHomeRegion ?? true,
          capabilities: [],
          recoveryHoldMs: options.recoveryHoldMs
        })
      }
    })
  }

  /** The document's current state (evaluated on first use). */
  get(docName: string, nowMs: number): DocumentModeState {
    return this.states.get(docName)?.current ?? this.evaluate(docName, nowMs)
  }

  /** Re-evaluates one document; reports a transition through `onTransition`. */
  evaluate(docName: string, nowMs: number): DocumentModeState {
    const match = this.compiled.find((c) => matchGlob(c.glob, docName))
    if (match === undefined) return FREE
    const home = match.policy.homeRegion
    const reachable = home === this.o.region || this.o.isRegionReachable(home)
    const previous = this.states.get(docName)
    const { decision, state } = evaluatePolicy(match.config, {
      nowMs,
      connected: true,
      lastSyncAtMs: nowMs,
      relayStalenessMs: {},
      pendingUpdates: 0,
      pendingBytes: 0,
      oldestPendingAgeMs: null,
      homeRegionReachable: reachable
    }, previous?.state ?? null)
    const current: DocumentModeState = { mode: decision.mode, readOnly: !decision.writable, homeRegion: home, homeRegionReachable: reachable }
    this.states.set(docName, { state, current })
    const before = previous?.current.mode
    if (before !== undefined && before !== current.mode) {
      this.o.logger.info({ doc: docName, from: before, to: current.mode, reasons: decision.reasons, homeRegion: home }, 'document mode changed')
      this.o.onTransition(docName, before, current.mode, decision.reasons)
    }
    return current
  }

  /** Re-evaluates every document seen so far; returns those whose state changed. */
  tick(nowMs: number): string[] {
    const changed: string[] = []
    for (const [docName, { current }] of this.states) {
      const next = this.evaluate(docName, nowMs)
      if (next.readOnly !== current.readOnly || next.homeRegionReachable !== current.homeRegionReachable) changed.push(docName)
    }
    return changed
  }

  /** Stops tracking a document (evicted). */
  forget(docName: string): void {
    this.states.delete(docName)
  }
}
