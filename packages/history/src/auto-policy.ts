/**
 * When to take an automatic version: a pure decision on times, so relays
 * (on their injected clock) and tests decide alike.
 *
 * A version is due once the document has changed for at least `activityMinMs`
 * (from the first change after the last version to the latest change) and
 * then stayed quiet for `quietMs`. A document edited without pause gets one
 * anyway every `maxActivityMs`. A restore always takes one first
 * (`pre-restore`), whatever this says.
 */
import { HistoryError } from './errors.js'

export interface AutoVersionOptions {
  /** Changes must span at least this long to be worth a version. */
  activityMinMs: number
  /** …followed by this long without a change. */
  quietMs: number
  /** Never go longer than this with changes and no version, even without a pause. */
  maxActivityMs: number
}

export const DEFAULT_AUTO_VERSION_OPTIONS: Readonly<AutoVersionOptions> = Object.freeze({
  activityMinMs: 60_000,
  quietMs: 30_000,
  maxActivityMs: 30 * 60_000
})

/** What the decision looks at: changes since the last version (null: none). */
export interface ActivityState {
  readonly firstChangeMs: number | null
  readonly lastChangeMs: number | null
}

export type AutoVersionDecision =
  | { readonly action: 'capture' }
  | { readonly action: 'wait'; readonly recheckAtMs: number }
  | { readonly action: 'idle' }

export function decideAutoVersion(state: ActivityState, nowMs: number, options: AutoVersionOptions = DEFAULT_AUTO_VERSION_OPTIONS): AutoVersionDecision {
  const { firstChangeMs, lastChangeMs } = state
  if (firstChangeMs === null || lastChangeMs === null) return { action: 'idle' }
  if (nowMs - firstChangeMs >= options.maxActivityMs) return { action: 'capture' }
  const quietAt = lastChangeMs + options.quietMs
  const longEnough = lastChangeMs - firstChangeMs >= options.activityMinMs
  if (longEnough && nowMs >= quietAt) return { action: 'capture' }
  // Short activity: wait for more of it (or the max) rather than versioning every keystroke.
  return { action: 'wait', recheckAtMs: longEnough ? quietAt : Math.max(nowMs + 1, Math.min(quietAt, firstChangeMs + options.maxActivityMs)) }
}

export function resolveAutoVersionOptions(options: Partial<AutoVersionOptions> | undefined): AutoVersionOptions {
  const o = { ...DEFAULT_AUTO_VERSION_OPTIONS, ...options }
  for (const key of ['activityMinMs', 'quietMs', 'maxActivityMs'] as const) {
    if (!Number.isFinite(o[key]) || o[key] < 0) throw new HistoryError('ERR_HISTORY_OPTIONS', `${key} must be a number ≥ 0`)
  }
  return o
}
