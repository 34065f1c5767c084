import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { resolvePolicyConfig } from './config.js'
import { decisionsEqual } from './diff.js'
import { evaluatePolicy } from './evaluate.js'
import { DOCUMENT_MODES, SHED_REASONS } from './types.js'
import type { CapabilityRequirement, PolicyConfig, PolicyDecision, PolicySignals, PolicyState, RequirementKind } from './types.js'

const RUNS = { numRuns: 200 }
const T0 = 1_000_000

/** Signals relative to `nowMs`, so that a sequence can be laid out on any timeline. */
interface Spec {
  connected: boolean
  sinceSyncMs: number | null
  /** undefined: no relayReportedAtMs; null: null; n: reported n ms before the sync round. */
  reportLagMs: number | null | undefined
  relay: Record<string, number | null>
  pendingUpdates: number
  pendingBytes: number
  oldestPendingAgeMs: number | null
  homeRegionReachable: boolean | null
  relayReadOnly: boolean | undefined
}

function mostly<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: good, weight: 3 }, { arbitrary: bad, weight: 1 })
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  connected: mostly(fc.constant(true), fc.constant(false)),
  sinceSyncMs: mostly(fc.integer({ min: 0, max: 3_000 }), fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: null })),
  reportLagMs: fc.constantFrom(undefined, null, 0, 400, 5_000),
  relay: mostly(
    fc.dictionary(fc.constantFrom('us', 'ap'), fc.integer({ min: 0, max: 1_500 })),
    fc.dictionary(fc.constantFrom('us', 'ap', 'sa'), fc.option(fc.integer({ min: 0, max: 40_000 }), { nil: null, freq: 6 }))
  ),
  pendingUpdates: mostly(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 80 })),
  pendingBytes: mostly(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 200_000 })),
  oldestPendingAgeMs: mostly(fc.constant(null), fc.integer({ min: 0, max: 60_000 })),
  homeRegionReachable: mostly(fc.constant(true), fc.constantFrom(false, null)),
  relayReadOnly: mostly(fc.constantFrom(undefined, false), fc.constant(true))
})

function toSignals(nowMs: number, spec: Spec): PolicySignals {
  const lastSyncAtMs = spec.sinceSyncMs === null ? null : nowMs - spec.sinceSyncMs
  const signals: PolicySignals = {
    nowMs,
    connected: spec.connected,
    lastSyncAtMs,
    relayStalenessMs: { ...spec.relay },
    pendingUpdates: spec.pendingUpdates,
    pendingBytes: spec.pendingBytes,
    oldestPendingAgeMs: spec.oldestPendingAgeMs,
    homeRegionReachable: spec.homeRegionReachable
  }
  if (spec.reportLagMs !== undefined) {
    signals.relayReportedAtMs = spec.reportLagMs === null || lastSyncAtMs === null ? null : lastSyncAtMs - spec.reportLagMs
  }
  if (spec.relayReadOnly !== undefined) signals.relayReadOnly = spec.relayReadOnly
  return signals
}

const requiresArb = fc.constantFrom<RequirementKind | readonly RequirementKind[]>('online', 'home-region', ['online', 'home-region'])

const capArb = fc.record(
  {
    maxStalenessMs: fc.integer({ min: 0, max: 40_000 }),
    maxPendingUpdates: fc.integer({ min: 0, max: 50 }),
    maxPendingBytes: fc.integer({ min: 0, max: 100_000 }),
    maxPendingAgeMs: fc.integer({ min: 0, max: 60_000 }),
    requires: requiresArb,
    priority: fc.integer({ min: -3, max: 3 })
  },
  { requiredKeys: [] }
)

const configArb: fc.Arbitrary<PolicyConfig> = fc
  .record({
    maxStalenessMs: fc.integer({ min: 0, max: 40_000 }),
    maxPendingUpdates: fc.integer({ min: 0, max: 50 }),
    recoveryHoldMs: fc.integer({ min: 0, max: 10_000 }),
    homeRegion: fc.constantFrom('eu', null),
    requiresHome: fc.boolean(),
    capabilities: fc.array(capArb, { maxLength: 4 })
  })
  .map(({ requiresHome, capabilities, ...rest }) =>
    resolvePolicyConfig({
      ...rest,
      requiresHomeRegionForWrites: requiresHome && rest.homeRegion !== null,
      capabilities: capabilities.map((cap, i): CapabilityRequirement => ({ name: `cap${i}`, ...cap }))
    })
  )

const stepsArb = fc.array(fc.record({ dtMs: fc.integer({ min: 0, max: 8_000 }), spec: specArb }), { minLength: 1, maxLength: 25 })

function timeline(steps: readonly { dtMs: number; spec: Spec }[], startMs = T0): PolicySignals[] {
  let t = startMs
  return steps.map(({ dtMs, spec }) => {
    t += dtMs
    return toSignals(t, spec)
  })
}

function run(config: PolicyConfig, signals: readonly PolicySignals[], state: PolicyState | null = null) {
  const decisions: PolicyDecision[] = []
  for (const s of signals) {
    const next = evaluatePolicy(config, s, state)
    state = next.state
    decisions.push(next.decision)
  }
  return { decisions, state }
}

/** The instantaneous decision: no history, no hold (what the signals alone say). */
function raw(config: PolicyConfig, signals: PolicySignals): PolicyDecision {
  return evaluatePolicy({ ...config, recoveryHoldMs: 0 }, signals, null).decision
}

const rank = (d: PolicyDecision): number => DOCUMENT_MODES.indexOf(d.mode)

function good(nowMs: number): PolicySignals {
  return {
    nowMs,
    connected: true,
    lastSyncAtMs: nowMs,
    relayStalenessMs: {},
    pendingUpdates: 0,
    pendingBytes: 0,
    oldestPendingAgeMs: null,
    homeRegionReachable: true,
    relayReadOnly: false
  }
}

describe('policy properties', () => {
  it('is deterministic, and its state survives a JSON round trip', () => {
    fc.assert(
      fc.property(configArb, stepsArb, fc.nat(), (config, steps, cut) => {
        const signals = timeline(steps)
        const a = run(config, signals)
        const b = run(config, signals)
        expect(b).toEqual(a)
        const k = cut % (signals.length + 1)
        const head = run(config, signals.slice(0, k))
        const resumed = JSON.parse(JSON.stringify(head.state)) as PolicyState | null
        const tail = run(config, signals.slice(k), resumed)
        expect([...head.decisions, ...tail.decisions]).toEqual(a.decisions)
      }),
      RUNS
    )
  })

  it('keeps its invariants: reasons for every shed, never healthy while something is shed', () => {
    const canonicalIndex = (r: string) => SHED_REASONS.indexOf(r as never)
    fc.assert(
      fc.property(configArb, stepsArb, (config, steps) => {
        const signals = timeline(steps)
        run(config, signals).decisions.forEach((d, j) => {
          const s = signals[j]!
          for (const cap of d.capabilities) {
            expect(cap.on).toBe(cap.reason === null)
            expect(cap.reason).toBe(cap.reasons[0] ?? null)
            const idx = cap.reasons.map(canonicalIndex)
            expect(idx.every((v, i) => v >= 0 && (i === 0 || v > idx[i - 1]!))).toBe(true)
            expect(cap.recoverAtMs === null || cap.reason === 'recovering').toBe(true)
          }
          expect(d.capabilities.map((c) => c.name)).toEqual(config.capabilities.map((c) => c.name))
          expect(d.mode === 'healthy').toBe(d.reasons.length === 0)
          if (d.mode === 'healthy') expect(d.capabilities.every((c) => c.on)).toBe(true)
          if (d.capabilities.some((c) => !c.on)) expect(d.mode).not.toBe('healthy')
          expect(new Set(d.reasons).size).toBe(d.reasons.length)
          expect(d.writable).toBe(d.mode !== 'read-only')
          expect(d.mode === 'offline').toBe(!s.connected)
          if (d.mode === 'offline') expect(d.reasons[0]).toBe('offline')
          expect(d.recheckAtMs === null || d.recheckAtMs > d.evaluatedAtMs).toBe(true)
          expect(JSON.parse(JSON.stringify(d))).toEqual(d)
        })
      }),
      RUNS
    )
  })

  it('is monotonic: worse signals never turn a capability on or improve the mode', () => {
    type Op =
      | { kind: 'sync'; by: number }
      | { kind: 'never-synced' }
      | { kind: 'relay'; region: string; by: number }
      | { kind: 'relay-unbounded'; region: string }
      | { kind: 'report-earlier'; by: number }
      | { kind: 'pending' | 'bytes' | 'age'; by: number }
      | { kind: 'disconnect' | 'reach' | 'read-only' }
    const by = fc.integer({ min: 0, max: 30_000 })
    const region = fc.constantFrom('us', 'ap', 'sa')
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      by.map((n) => ({ kind: 'sync' as const, by: n })),
      fc.constant({ kind: 'never-synced' as const }),
      fc.record({ kind: fc.constant('relay' as const), region, by }),
      fc.record({ kind: fc.constant('relay-unbounded' as const), region }),
      by.map((n) => ({ kind: 'report-earlier' as const, by: n })),
      fc.record({ kind: fc.constantFrom('pending' as const, 'bytes' as const, 'age' as const), by }),
      fc.record({ kind: fc.constantFrom('disconnect' as const, 'reach' as const, 'read-only' as const) })
    )
    const worsen = (spec: Spec, op: Op): Spec => {
      const s: Spec = { ...spec, relay: { ...spec.relay } }
      switch (op.kind) {
        case 'sync':
          if (s.sinceSyncMs !== null) s.sinceSyncMs += op.by
          break
        case 'never-synced':
          s.sinceSyncMs = null
          break
        case 'relay': {
          const current = s.relay[op.region]
          if (current !== null) s.relay[op.region] = (current ?? 0) + op.by
          break
        }
        case 'relay-unbounded':
          s.relay[op.region] = null
          break
        case 'report-earlier':
          s.reportLagMs = (s.reportLagMs ?? 0) + op.by
          break
        case 'pending':
          s.pendingUpdates += op.by
          break
        case 'bytes':
          s.pendingBytes += op.by
          break
        case 'age':
          s.oldestPendingAgeMs = (s.oldestPendingAgeMs ?? 0) + op.by
          break
        case 'disconnect':
          s.connected = false
          break
        case 'reach':
          s.homeRegionReachable = s.homeRegionReachable === true ? null : false
          break
        case 'read-only':
          s.relayReadOnly = true
          break
      }
      return s
    }
    fc.assert(
      fc.property(configArb, stepsArb, specArb, fc.integer({ min: 0, max: 8_000 }), fc.array(opArb, { minLength: 1, maxLength: 5 }), (config, steps, spec, dt, ops) => {
        const prefix = timeline(steps)
        const { state } = run(config, prefix)
        const now = (prefix.at(-1)?.nowMs ?? T0) + dt
        const worse = ops.reduce(worsen, spec)
        const better = evaluatePolicy(config, toSignals(now, spec), state).decision
        const worst = evaluatePolicy(config, toSignals(now, worse), state).decision
        expect(rank(worst)).toBeGreaterThanOrEqual(rank(better))
        worst.capabilities.forEach((cap, i) => {
          if (cap.on) expect(better.capabilities[i]?.on).toBe(true)
        })
        const inf = (v: number | null) => (v === null ? Number.POSITIVE_INFINITY : v)
        expect(inf(worst.stalenessBoundMs)).toBeGreaterThanOrEqual(inf(better.stalenessBoundMs))
      }),
      RUNS
    )
  })

  it('hysteresis: sheds at once, comes back exactly when the requirement has held for recoveryHoldMs', () => {
    fc.assert(
      fc.property(configArb, stepsArb, (config, steps) => {
        const signals = timeline(steps)
        const { decisions } = run(config, signals)
        const raws = signals.map((s) => raw(config, s))
        config.capabilities.forEach((_, i) => {
          let everOn = false
          let prevOn: boolean | undefined
          let holdingSinceMs: number | null = null
          decisions.forEach((d, j) => {
            const t = signals[j]!.nowMs
            const holds = raws[j]!.capabilities[i]!.on
            const on = d.capabilities[i]!.on
            if (!holds) {
              expect(on).toBe(false)
              holdingSinceMs = null
            } else {
              holdingSinceMs ??= t
              if (prevOn === undefined || prevOn || !everOn) expect(on).toBe(true)
              else expect(on).toBe(t - holdingSinceMs >= config.recoveryHoldMs)
            }
            if (on) everOn = true
            prevOn = on
          })
        })
        // Hysteresis only ever makes the decision more cautious than the signals alone.
        decisions.forEach((d, j) => {
          expect(rank(d)).toBeGreaterThanOrEqual(rank(raws[j]!))
          d.capabilities.forEach((cap, i) => {
            if (cap.on) expect(raws[j]!.capabilities[i]!.on).toBe(true)
          })
        })
      }),
      RUNS
    )
  })

  it('hysteresis: a link flapping faster than the hold never brings a shed capability back', () => {
    const runArb = fc.record({
      offsets: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
      gapMs: fc.integer({ min: 0, max: 20_000 })
    })
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 10_000 }), fc.array(runArb, { minLength: 1, maxLength: 8 }), (holdMs, runs) => {
        const config = resolvePolicyConfig({ recoveryHoldMs: holdMs, capabilities: [{ name: 'live', requires: 'online' }, { name: 'fresh', maxStalenessMs: 60_000 }] })
        const signals: PolicySignals[] = [good(T0), { ...good(T0 + 1), connected: false }]
        let t = T0 + 1
        for (const { offsets, gapMs } of runs) {
          const start = t + gapMs
          // Up-run shorter than the hold: evaluations within [start, start + hold - 2], link drops at start + hold - 1.
          for (const o of [...offsets].sort((a, b) => a - b)) signals.push(good(start + Math.floor(o * (holdMs - 2))))
          t = start + holdMs - 1
          signals.push({ ...good(t), connected: false })
        }
        const { decisions } = run(config, signals)
        expect(decisions[0]?.mode).toBe('healthy')
        for (const d of decisions.slice(1)) {
          expect(d.capabilities[0]?.on).toBe(false)
          expect(d.mode).not.toBe('healthy')
        }
      }),
      RUNS
    )
  })

  it('hysteresis: good signals held for recoveryHoldMs bring everything satisfiable back', () => {
    fc.assert(
      fc.property(configArb, stepsArb, fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 3 }), (config, steps, midpoints) => {
        const prefix = timeline(steps)
        const { state } = run(config, prefix)
        const start = prefix.at(-1)!.nowMs + 1
        const hold = config.recoveryHoldMs
        const mids = midpoints.map((m) => start + (hold === 0 ? 0 : m % hold)).sort((a, b) => a - b)
        const { decisions } = run(config, [good(start), ...mids.map(good), good(start + hold)], state)
        const final = decisions.at(-1)!
        const expected = raw(config, good(start + hold))
        expect(final.capabilities.map((c) => c.on)).toEqual(expected.capabilities.map((c) => c.on))
        expect(final.mode).toBe(expected.mode)
      }),
      RUNS
    )
  })

  it('recheckAtMs: with unchanged signals nothing changes before it (and nothing ever when null)', () => {
    fc.assert(
      fc.property(configArb, stepsArb, fc.double({ min: 0, max: 1, noNaN: true }), (config, steps, pick) => {
        const signals = timeline(steps)
        const { decisions, state } = run(config, signals)
        const last = signals.at(-1)!
        const d = decisions.at(-1)!
        const at = (u: number) => {
          const age = last.oldestPendingAgeMs
          return evaluatePolicy(config, { ...last, nowMs: u, oldestPendingAgeMs: age === null ? null : age + (u - last.nowMs) }, state).decision
        }
        const r = d.recheckAtMs
        const probes = r === null ? [last.nowMs + 10_000_000] : [r - 1, last.nowMs + Math.floor(pick * (r - 1 - last.nowMs))]
        for (const u of probes) expect(decisionsEqual(at(u), d)).toBe(true)
      }),
      RUNS
    )
  })
})
