import { describe, expect, it } from 'vitest'
import type { DocumentMode, PolicyDecision } from '@meridian/policy'
import type { StatusFields } from '@meridian/protocol'
import { BasicGuarantees } from './guarantees.js'
import { manualClock } from './test-clock.test-helper.js'

const status = (readOnly: boolean): StatusFields => ({ readOnly, homeRegion: null, homeRegionReachable: null, regions: {}, meshConfigured: false })

type Step = 'connect' | 'disconnect' | 'synced' | 'read-only' | 'writable' | { pending: number }

describe('BasicGuarantees (no policy engine)', () => {
  it.each<{ name: string; steps: Step[]; mode: DocumentMode; writable: boolean; reasons: string[]; events: string[] }>([
    { name: 'offline at first', steps: [], mode: 'offline', writable: true, reasons: ['offline'], events: [] },
    { name: 'connected, not synced yet', steps: ['connect'], mode: 'degraded', writable: true, reasons: ['never-synced'], events: ['policy degraded'] },
    { name: 'synced', steps: ['connect', 'synced'], mode: 'healthy', writable: true, reasons: [], events: ['policy degraded', 'policy healthy', 'converged'] },
    { name: 'the relay says read-only', steps: ['connect', 'synced', 'read-only'], mode: 'read-only', writable: false, reasons: ['relay-read-only'], events: ['policy degraded', 'policy healthy', 'converged', 'policy read-only'] },
    { name: 'writable again: held writes go out', steps: ['connect', 'synced', 'read-only', 'writable'], mode: 'healthy', writable: true, reasons: [], events: ['policy degraded', 'policy healthy', 'converged', 'policy read-only', 'policy healthy', 'writable', 'converged'] },
    { name: 'converged only once nothing is pending', steps: [{ pending: 2 }, 'connect', 'synced', { pending: 0 }], mode: 'healthy', writable: true, reasons: [], events: ['policy degraded', 'policy healthy', 'converged'] },
    { name: 'a lost connection', steps: ['connect', 'synced', 'disconnect'], mode: 'offline', writable: true, reasons: ['offline'], events: ['policy degraded', 'policy healthy', 'converged', 'policy offline'] }
  ])('$name', ({ steps, mode, writable, reasons, events }) => {
    const seen: string[] = []
    const g = new BasicGuarantees({
      policy: undefined,
      clock: manualClock(),
      onPolicy: (d: PolicyDecision) => seen.push(`policy ${d.mode}`),
      onConverged: () => seen.push('converged'),
      onWritable: () => seen.push('writable'),
      onWarning: () => seen.push('warning')
    })
    for (const s of steps) {
      if (typeof s === 'object') g.pending(s.pending)
      else if (s === 'connect' || s === 'disconnect') g.connection(s === 'connect')
      else if (s === 'synced') g.synced()
      else g.status(status(s === 'read-only'))
    }
    expect([g.decision.mode, g.isWritable, g.decision.reasons]).toEqual([mode, writable, reasons])
    expect(g.decision.stalenessBoundMs).toBeNull()
    expect(g.can('anything')).toBe(false)
    expect(seen).toEqual(events)
  })
})
