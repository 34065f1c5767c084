import type { DurabilityLevel } from '@meridian/client'

/** A write's durability as the hooks report it: a level, or `pending` (not even stored on this device yet). */
export type Durability = DurabilityLevel | 'pending'

/** Rank for comparisons: pending < local < relay < replicated in 1 < replicated in 2 … */
export function durabilityRank(level: Durability): number {
  if (level === 'pending') return 0
  if (level === 'local') return 1
  if (level === 'relay') return 2
  return 2 + level.replicated
}

/** True when `level` is at least `target` (e.g. `durabilityAtLeast(d, 'relay')`). */
export function durabilityAtLeast(level: Durability, target: DurabilityLevel): boolean {
  return durabilityRank(level) >= durabilityRank(target)
}

export function durabilityEqual(a: Durability, b: Durability): boolean {
  return durabilityRank(a) === durabilityRank(b)
}

/** The words a save-state badge shows. */
export function describeDurability(level: Durability): string {
  if (level === 'pending') return 'not saved yet'
  if (level === 'local') return 'saved on this device'
  if (level === 'relay') return 'saved on the relay'
  return `saved in ${level.replicated} ${level.replicated === 1 ? 'other region' : 'other regions'}`
}
