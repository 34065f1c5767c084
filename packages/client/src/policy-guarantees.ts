import { withOmittedRegions, type PolicyDecision } from '@meridian/policy'
import type { StatusFields } from '@meridian/protocol'
import { MeridianError } from './errors.js'
import type { Guarantees, GuaranteesOptions, PolicyEngine } from './guarantees.js'
import { PolicyMonitor } from './policy-monitor.js'
import { StalenessFloor } from './staleness-floor.js'

/** A STATUS that arrived before the connection's first sync round completed. */
interface EarlyReport { regions: Record<string, number | null>; meshConfigured: boolean; reportAtMs: number }

/**
 * The policy engine's guarantees: the policy decision (mode, capabilities,
 * staleness bound) fed from the connection, the relay's status reports and the
 * pending writes.
 *
 * The staleness inputs are kept honest: a sync point is the local time the
 * client *sent* something the relay then answered (so the one-way latency is
 * counted), a relay's report never vouches for a region it omits (every region
 * seen this session is unbounded unless listed), and a new connection's bound
 * never reuses the previous relay's report.
 */
export class PolicyGuarantees implements Guarantees {
  private readonly monitor: PolicyMonitor
  private readonly o: GuaranteesOptions
  private readonly floor: StalenessFloor
  private connected = false
  private writable = true
  /** Every region seen this session: listed in any report, or the region of any relay. */
  private readonly seenRegions = new Set<string>()
  /** The region of the relay of the current connection, once it said hello. */
  private relayRegion: string | null = null
  private early: EarlyReport | null = null

  constructor(options: GuaranteesOptions) {
    this.o = options
    this.floor = new StalenessFloor(options.policy?.capabilities ?? [])
    this.monitor = new PolicyMonitor({
      config: options.policy ?? {},
      clock: options.clock,
      onChange: (decision, diff) => {
        options.onPolicy(decision, diff)
        const wasWritable = this.writable
        this.writable = decision.writable
        if (!wasWritable && decision.writable) options.onWritable()
      },
      onConverged: options.onConverged
    }, {
      connected: false,
      lastSyncAtMs: null,
      relayStalenessMs: {},
      relayMeshConfigured: false,
      relayReportedAtMs: null,
      pendingUpdates: 0,
      pendingBytes: 0,
      oldestPendingAgeMs: null,
      homeRegionReachable: null,
      relayReadOnly: false
    })
    this.writable = this.monitor.decision.writable
  }

  /** The decision as of now (its staleness bound grown to this moment). */
  get decision(): PolicyDecision {
    return this.monitor.decision
  }

  get isWritable(): boolean {
    return this.monitor.decision.writable
  }

  can(capability: string): boolean {
    return this.monitor.can(capability)
  }

  /** The relay of the current connection said hello from `region` ('' when it has none). */
  relayInfo(region: string): void {
    this.relayRegion = region.length > 0 ? region : null
    if (this.relayRegion !== null) this.seenRegions.add(this.relayRegion)
  }

  /**
   * The connection's first sync round completed: the client holds everything the
   * relay held when it received our step 1, sent at `syncAtMs`. The relay's
   * regions come from a report of this connection, never from an earlier relay's.
   */
  synced(syncAtMs: number): void {
    const early = this.early
    this.early = null
    this.monitor.update(early !== null
      ? { connected: true, lastSyncAtMs: syncAtMs, relayStalenessMs: early.regions, relayMeshConfigured: early.meshConfigured, relayReportedAtMs: early.reportAtMs }
      : { connected: true, lastSyncAtMs: syncAtMs, relayStalenessMs: this.unknownRegions(), relayMeshConfigured: false, relayReportedAtMs: syncAtMs })
  }

  /** The relay answered a message sent at `syncAtMs` (after the first round): a newer sync point. */
  syncPoint(syncAtMs: number): void {
    this.monitor.update({ lastSyncAtMs: syncAtMs })
  }

  connection(open: boolean): void {
    if (open === this.connected) return
    this.connected = open
    if (!open) {
      this.relayRegion = null
      this.early = null
      this.floor.reset()
    }
    this.monitor.update({ connected: open })
  }

  /**
   * A STATUS report; `reportAtMs` is a local time at or before the relay sent it
   * (see LinkEvent `status`), `roundDone` whether this connection's first
   * sync round has completed. Read-only and home-region fields apply at once.
   */
  status(s: StatusFields, reportAtMs: number, roundDone: boolean): void {
    const regions = withOmittedRegions(s.regions, this.seenRegions, this.relayRegion)
    for (const region of Object.keys(s.regions)) this.seenRegions.add(region)
    const fields = { homeRegionReachable: s.homeRegionReachable, relayReadOnly: s.readOnly }
    if (!roundDone) {
      this.early = { regions, meshConfigured: s.meshConfigured, reportAtMs }
      this.monitor.update(fields)
      return
    }
    this.monitor.update({ ...fields, connected: true, lastSyncAtMs: reportAtMs, relayReportedAtMs: reportAtMs, relayStalenessMs: regions, relayMeshConfigured: s.meshConfigured })
    for (const u of this.floor.report(regions, s.meshConfigured)) {
      this.o.onWarning(new MeridianError('ERR_STALENESS_UNACHIEVABLE',
        `capability '${u.name}' asks for maxStalenessMs ${u.maxStalenessMs}, but the relay's staleness towards other regions is at best ${Math.round(u.floorMs)} ms (its last fresh reports): it will be shed most of the time`))
    }
  }

  pending(count: number, bytes: number, oldestAtMs: number | null): void {
    this.monitor.update({ pendingUpdates: count, pendingBytes: bytes, oldestPendingAgeMs: oldestAtMs === null ? null : this.o.clock.now() - oldestAtMs })
  }

  destroy(): void {
    this.monitor.destroy()
  }

  /** Every region seen so far but the relay's own, as unbounded: what a relay that has not reported yet vouches for. */
  private unknownRegions(): Record<string, number | null> {
    return withOmittedRegions({}, this.seenRegions, this.relayRegion)
  }
}

/**
 * The bounded-staleness policy engine for the provider:
 * `new MeridianProvider({ …, policy: { … }, policyEngine })`.
 */
export const policyEngine: PolicyEngine = (options) => new PolicyGuarantees(options)
