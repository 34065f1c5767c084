/**
 * Which versions retention removes (pure; the relay applies it as a server
 * change, see packages/relay/src/history/). Automatic versions (`auto`,
 * `pre-restore`) go first: those older than `maxVersionAgeMs`, then the oldest
 * beyond `maxVersions`. Named versions are kept unless there are more than
 * `hardMaxVersions` versions in all: then automatic ones go first, and the
 * oldest named ones only if that is not enough.
 */
import { HistoryError } from './errors.js'
import type { VersionMeta } from './version.js'

export interface RetentionOptions {
  /** Automatic versions kept at most. */
  maxVersions: number
  /** Automatic versions older than this are removed. */
  maxVersionAgeMs: number
  /** Versions of any kind kept at most (named ones are removed only beyond it). */
  hardMaxVersions: number
}

export const DEFAULT_RETENTION: Readonly<RetentionOptions> = Object.freeze({
  maxVersions: 50,
  maxVersionAgeMs: 30 * 24 * 3_600_000,
  hardMaxVersions: 500
})

/** Ids to remove from `versions` (sorted oldest first, as listVersions gives them). */
export function expiredVersions(versions: readonly VersionMeta[], nowMs: number, options: RetentionOptions = DEFAULT_RETENTION): string[] {
  const remove = new Set<string>()
  const automatic = versions.filter((v) => v.kind !== 'named')
  for (const v of automatic) if (nowMs - v.createdAtMs > options.maxVersionAgeMs) remove.add(v.id)
  const keptAuto = automatic.filter((v) => !remove.has(v.id))
  for (const v of keptAuto.slice(0, Math.max(0, keptAuto.length - options.maxVersions))) remove.add(v.id)
  // Over the hard cap: automatic versions first (oldest first), then named ones.
  const kept = versions.filter((v) => !remove.has(v.id))
  const byPriority = [...kept.filter((v) => v.kind !== 'named'), ...kept.filter((v) => v.kind === 'named')]
  for (const v of byPriority.slice(0, Math.max(0, kept.length - options.hardMaxVersions))) remove.add(v.id)
  return versions.filter((v) => remove.has(v.id)).map((v) => v.id)
}

export function resolveRetention(options: Partial<RetentionOptions> | undefined): RetentionOptions {
  const o = { ...DEFAULT_RETENTION, ...options }
  for (const key of ['maxVersions', 'maxVersionAgeMs', 'hardMaxVersions'] as const) {
    if (!Number.isFinite(o[key]) || o[key] < 0) throw new HistoryError('ERR_HISTORY_OPTIONS', `${key} must be a number ≥ 0`)
  }
  return o
}
