import { describe, expect, it } from 'vitest'
import { Membership, isValidMember, isValidRegionName } from './membership.js'

const self = { nodeId: 'a', region: 'eu', url: 'ws://a:1', incarnation: 1 }
const m = (nodeId: string, region = 'us', incarnation = 1): { nodeId: string; region: string; url: string; incarnation: number } => ({ nodeId, region, url: `ws://${nodeId}:1`, incarnation })
const opts = { suspectAfterMs: 100, downAfterMs: 200, maxMembers: 4 }

describe('Membership', () => {
  it('keeps gossip as unproven hints, capped, and ignores invalid records and records of itself', () => {
    const ms = new Membership(self, opts)
    expect(ms.merge([m('b'), m('c', 'a b'), m('d', 'r'.repeat(64)), { ...m('e'), url: 'http://e' }, m('a', 'zz', 9)]).map((x) => x.nodeId)).toEqual(['b'])
    expect(ms.get('b')?.proven).toBe(false)
    expect(ms.get('a')?.region).toBe('eu')
    ms.merge([m('f'), m('g'), m('h'), m('i')])
    expect(ms.size).toBe(4)
  })

  it('a proven record replaces gossip; a newer incarnation from gossip makes it a hint again', () => {
    const ms = new Membership(self, opts)
    ms.merge([m('b', 'us')])
    expect(ms.prove(m('b', 'ap', 1))).toBe(true)
    expect(ms.get('b')).toMatchObject({ region: 'ap', proven: true })
    expect(ms.merge([m('b', 'us', 1)])).toEqual([])
    expect(ms.get('b')).toMatchObject({ region: 'ap', proven: true })
    ms.merge([m('b', 'us', 2)])
    expect(ms.get('b')).toMatchObject({ region: 'us', incarnation: 2, proven: false })
  })

  it('validates region names and members', () => {
    for (const ok of ['eu', 'us-east-1', 'ap.south_2', 'A'.repeat(63)]) expect(isValidRegionName(ok), ok).toBe(true)
    for (const bad of ['', '-eu', 'e u', 'A'.repeat(64), 'eu\n', 'é']) expect(isValidRegionName(bad), bad).toBe(false)
    expect(isValidMember(m('b'))).toBe(true)
    expect(isValidMember({ ...m('b'), incarnation: -1 })).toBe(false)
    expect(isValidMember({ ...m('b'), nodeId: 'x'.repeat(129) })).toBe(false)
  })

  // [case, records known before (merged, then proven if marked), incoming gossip, changed node ids, then expected [id, region, incarnation, proven]]
  const mergeTable: [string, [ReturnType<typeof m>, boolean][], ReturnType<typeof m>[], string[], [string, string, number, boolean]][] = [
    ['a new member is a hint', [], [m('b', 'us', 1)], ['b'], ['b', 'us', 1, false]],
    ['the same incarnation changes nothing', [[m('b', 'us', 1), false]], [m('b', 'ap', 1)], [], ['b', 'us', 1, false]],
    ['an older incarnation changes nothing', [[m('b', 'us', 3), false]], [m('b', 'ap', 2)], [], ['b', 'us', 3, false]],
    ['a newer incarnation replaces the record', [[m('b', 'us', 1), false]], [m('b', 'ap', 2)], ['b'], ['b', 'ap', 2, false]],
    ['a newer incarnation unproves a proven record', [[m('b', 'us', 1), true]], [m('b', 'ap', 2)], ['b'], ['b', 'ap', 2, false]],
    ['gossip never overrides a proven record of the same incarnation', [[m('b', 'us', 1), true]], [m('b', 'ap', 1)], [], ['b', 'us', 1, true]],
    ['the highest of several incarnations wins', [], [m('b', 'us', 1), m('b', 'ap', 3), m('b', 'eu', 2)], ['b', 'b'], ['b', 'ap', 3, false]]
  ]
  for (const [name, before, incoming, changed, [id, region, incarnation, proven]] of mergeTable) {
    it(`merge: ${name}`, () => {
      const ms = new Membership(self, opts)
      for (const [record, isProven] of before) {
        if (isProven) ms.prove(record)
        else ms.merge([record])
      }
      expect(ms.merge(incoming).map((x) => x.nodeId)).toEqual(changed)
      expect(ms.get(id)).toMatchObject({ region, incarnation, proven })
    })
  }

  it('the failure detector counts direct contact only: alive, suspect, down, alive again', () => {
    const ms = new Membership(self, opts)
    ms.merge([m('b')])
    expect(ms.tick(1_000)).toEqual([]) // never contacted: left joining
    expect(ms.contact('b', 0)).toBe(true)
    // [time, expected state]
    const steps: [number, string][] = [[50, 'alive'], [100, 'suspect'], [199, 'suspect'], [200, 'down']]
    for (const [at, state] of steps) {
      ms.tick(at)
      expect(ms.get('b')?.state, `at ${at}`).toBe(state)
    }
    expect(ms.contact('b', 300)).toBe(true)
    expect(ms.get('b')?.state).toBe('alive')
    expect(ms.contact('a', 300)).toBe(false) // itself
  })
})
