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
})
