import { worstRelayStalenessMs, type CapabilityRequirement } from '@meridian/policy'

/** Fresh reports the floor is judged on. */
export const STALENESS_FLOOR_SAMPLES = 5

/** A configured staleness bound the relay cannot deliver even when its mesh works. */
export interface UnachievableBound {
  /** A capability's name. */
  name: string
  maxStalenessMs: number
  /** The best (lowest) worst-region staleness of the relay's recent fresh reports. */
  floorMs: number
}

/**
 * What staleness a relay can deliver at best, from its STATUS reports, and which
 * configured capability bounds lie below it (each reported once per provider).
 *
 * A report counts only when its worst-region staleness went *down* since the
 * previous one: an anti-entropy exchange completed in between, so the mesh works.
 * During a partition the value only grows and nothing is sampled, so a partition
 * (which the policy handles by shedding) is never mistaken for a bound that cannot
 * be met. The floor is the lowest of the last `STALENESS_FLOOR_SAMPLES` samples.
 */
export class StalenessFloor {
  private previous: number | null = null
  private readonly samples: number[] = []
  private readonly warned = new Set<string>()

  constructor(private readonly capabilities: readonly CapabilityRequirement[]) {}

  /** A new connection: its relay's reports start afresh. */
  reset(): void {
    this.previous = null
    this.samples.length = 0
  }

  /** One report (regions as the client reads them). Returns the bounds newly found unachievable. */
  report(regions: Readonly<Record<string, number | null>>, meshConfigured: boolean): UnachievableBound[] {
    const worst = worstRelayStalenessMs(regions, meshConfigured)
    const previous = this.previous
    this.previous = worst
    if (worst === null || previous === null || !(worst < previous)) return []
    this.samples.push(worst)
    if (this.samples.length > STALENESS_FLOOR_SAMPLES) this.samples.shift()
    if (this.samples.length < STALENESS_FLOOR_SAMPLES) return []
    const floorMs = Math.min(...this.samples)
    const out: UnachievableBound[] = []
    for (const cap of this.capabilities) {
      if (cap.maxStalenessMs === undefined || cap.maxStalenessMs >= floorMs || this.warned.has(cap.name)) continue
      this.warned.add(cap.name)
      out.push({ name: cap.name, maxStalenessMs: cap.maxStalenessMs, floorMs })
    }
    return out
  }
}
