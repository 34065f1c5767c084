import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import type { DocumentMode } from '@meridian/policy'
import { DocumentModes, type DocumentPolicy } from './doc-modes.js'

const HOLD_MS = 1_000
const logger = pino({ level: 'silent' })

function modes(policies: DocumentPolicy[], reachable: Set<string>): { modes: DocumentModes; transitions: [string, DocumentMode, DocumentMode][] } {
  const transitions: [string, DocumentMode, DocumentMode][] = []
  return {
    transitions,
    modes: new DocumentModes({
      policies,
      region: 'eu',
      isRegionReachable: (region) => reachable.has(region),
      recoveryHoldMs: HOLD_MS,
      logger,
      onTransition: (doc, from, to) => transitions.push([doc, from, to])
    })
  }
}

describe('DocumentModes', () => {
  const policies: DocumentPolicy[] = [
    { pattern: 'us/*', homeRegion: 'us' },
    { pattern: 'eu/*', homeRegion: 'eu' },
    { pattern: 'ap/*', homeRegion: 'ap', writesRequireHomeRegion: false },
    { pattern: '*', homeRegion: 'us' } // never reached by 'free' documents below: first match wins
  ]
  // [document, home region reachable, expected: read-only, home region, home reachable (null: no home)]
  const table: [string, boolean, boolean, string | null, boolean | null][] = [
    ['us/a', true, false, 'us', true],
    ['us/a', false, true, 'us', false],
    ['eu/a', false, false, 'eu', true], // the relay's own region is always reachable
    ['ap/a', false, false, 'ap', false], // writes do not require the home region
    ['other', false, true, 'us', false] // the catch-all pattern
  ]
  for (const [doc, reachable, readOnly, homeRegion, homeReachable] of table) {
    it(`${doc} with its home region ${reachable ? 'reachable' : 'unreachable'}`, () => {
      const { modes: m } = modes(policies, new Set(reachable ? ['us', 'ap'] : []))
      expect(m.get(doc, 0)).toMatchObject({ readOnly, homeRegion, homeRegionReachable: homeReachable })
    })
  }

  it('a document no policy matches is free', () => {
    const { modes: m } = modes([{ pattern: 'us/*', homeRegion: 'us' }], new Set())
    expect(m.get('elsewhere', 0)).toEqual({ mode: 'healthy', readOnly: false, homeRegion: null, homeRegionReachable: null })
  })

  it('turns read-only when the home region goes, and writable only after it stayed back for the hold', () => {
    const reachable = new Set(['us'])
    const { modes: m, transitions } = modes([{ pattern: '*', homeRegion: 'us' }], reachable)
    // [time, home region reachable, expected read-only after a tick]
    const steps: [number, boolean, boolean][] = [
      [0, true, false],
      [100, false, true],
      [200, true, true], // back, but not yet for the hold
      [200 + HOLD_MS - 1, true, true],
      [200 + HOLD_MS, true, false],
      [5_000, false, true]
    ]
    expect(m.get('doc', 0).readOnly).toBe(false)
    for (const [at, up, readOnly] of steps) {
      if (up) reachable.add('us')
      else reachable.delete('us')
      m.tick(at)
      expect(m.get('doc', at).readOnly, `at ${at}`).toBe(readOnly)
    }
    expect(transitions.length).toBeGreaterThanOrEqual(3)
    expect(transitions.every(([doc]) => doc === 'doc')).toBe(true)
  })

  it('tick reports the documents whose writability or reachability changed; forget stops tracking', () => {
    const reachable = new Set(['us'])
    const { modes: m } = modes([{ pattern: '*', homeRegion: 'us' }], reachable)
    m.get('a', 0)
    m.get('b', 0)
    expect(m.tick(10)).toEqual([])
    reachable.delete('us')
    expect(m.tick(20).sort()).toEqual(['a', 'b'])
    m.forget('a')
    reachable.add('us')
    expect(m.tick(30)).toEqual(['b']) // reachable again (still read-only for the hold)
  })

  it('refuses a policy without a home region', () => {
    expect(() => modes([{ pattern: '*', homeRegion: '' }], new Set())).toThrow(/homeRegion is required/)
  })
})
