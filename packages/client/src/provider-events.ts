/** The provider's public state and event types. */
import type { DecisionDiff, PolicyDecision } from '@meridian/policy'
import { FATAL_CLOSE_CODES } from '@meridian/protocol'
import { MeridianError } from './errors.js'
import type { RelayInfo } from './link-events.js'

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected'

/**
 * Where local edits go: `ok` — into the local store (IndexedDB), so they
 * survive a reload; `memory-only` — the store failed (quota, closed by another
 * tab's upgrade, unavailable): the document keeps working, edits live in memory
 * and in the ledger until the relay acknowledges them, and a reload is needed
 * to use the store again. `error` is the failure that caused the switch.
 */
export type PersistenceState = 'ok' | 'memory-only'

export interface MeridianProviderEvents {
  /** The local store has been read into the doc (or failed to: see `error`). */
  loaded: () => void
  /** The policy decision changed (mode, a capability on or shed, writability). */
  policy: (decision: PolicyDecision, diff: DecisionDiff) => void
  /** Back to healthy with nothing pending after a degraded, read-only or offline spell. */
  converged: (decision: PolicyDecision) => void
  status: (event: { status: ConnectionStatus; url: string | null }) => void
  /** True once a sync round with the relay completed on the current connection. */
  synced: (synced: boolean) => void
  /** A local write got further (stored locally, acknowledged, replicated): read `durabilityOf`. */
  durability: () => void
  /** Number of local updates the relay has not acknowledged yet. */
  pending: (count: number) => void
  /** The relay identified itself (Meridian relays only). */
  relay: (info: RelayInfo) => void
  /** The local store stopped working (`memory-only`); emitted once, after the `error` event that explains it. */
  persistence: (event: { state: PersistenceState; error: MeridianError | null }) => void
  error: (error: MeridianError) => void
}

/** Close codes after which reconnecting with the same credentials cannot succeed (see PROTOCOL.md). */
export const AUTH_REFUSALS: Readonly<Record<number, string>> = FATAL_CLOSE_CODES

/** The error for a relay's close that retrying the same credentials cannot fix (AUTH_REFUSALS), or null. */
export function authRefusal(code: number | null, reason: string): MeridianError | null {
  const refusal = code === null ? undefined : AUTH_REFUSALS[code]
  return refusal === undefined ? null : new MeridianError('ERR_RELAY', `relay refused the connection (${code}): ${refusal}`, { relayCode: reason.length > 0 ? reason : refusal })
}
