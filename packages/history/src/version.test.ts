import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { HistoryError } from './errors.js'
import { historyDocName, liveDocNameOf } from './names.js'
import { rootKind } from './root-kinds.js'
import { appendVersion, captureVersion, invalidVersionIds, listVersions, openVersion, stateHash, versionsMap } from './version.js'
import { decideAutoVersion } from './auto-policy.js'
import { expiredVersions } from './retention.js'

describe('versions in a history document', () => {
  it('captures, lists (oldest first) and opens a version as a fresh document', () => {
    const live = new Y.Doc()
    const history = new Y.Doc()
    live.getText('t').insert(0, 'v1')
    const named = captureVersion(live, { kind: 'named', label: 'first', author: 'ann', nowMs: 1_000, id: 'n1' })
    live.getText('t').insert(2, ' and v2')
    const auto = captureVersion(live, { kind: 'auto', nowMs: 2_000, author: 'relay:a' })
    expect(appendVersion(history, auto)).toBe(true)
    expect(appendVersion(history, named)).toBe(true)
    expect(listVersions(history).map((v) => [v.id, v.kind, v.label])).toEqual([['n1', 'named', 'first'], [auto.id, 'auto', '']])
    const opened = openVersion(history, 'n1')
    expect(opened).not.toBe(live)
    expect(opened.getText('t').toString()).toBe('v1')
    expect(() => openVersion(history, 'nope')).toThrow(expect.objectContaining({ code: 'ERR_VERSION_NOT_FOUND' }))
    expect(HistoryError.is((() => { try { openVersion(history, 'nope') } catch (e) { return e } })(), 'ERR_VERSION_NOT_FOUND')).toBe(true)
  })

  it('automatic versions of the same state get the same id on every replica, whatever the order it arrived in', () => {
    const a = new Y.Doc()
    const b = new Y.Doc()
    const c = new Y.Doc()
    a.getText('t').insert(0, 'from a')
    b.getMap('m').set('k', 'from b')
    b.getText('t').insert(0, 'x')
    b.getText('t').delete(0, 1)
    const ua = Y.encodeStateAsUpdate(a)
    const ub = Y.encodeStateAsUpdate(b)
    Y.applyUpdate(a, ub)
    Y.applyUpdate(c, ub)
    Y.applyUpdate(c, ua)
    Y.applyUpdate(b, ua)
    expect(stateHash(a)).toBe(stateHash(c))
    expect(captureVersion(a, { kind: 'auto', nowMs: 1 }).id).toBe(captureVersion(c, { kind: 'auto', nowMs: 99 }).id)
    // Two histories that took it concurrently merge into one entry.
    const h1 = new Y.Doc()
    const h2 = new Y.Doc()
    appendVersion(h1, captureVersion(a, { kind: 'auto', nowMs: 1, author: 'relay:eu' }))
    appendVersion(h2, captureVersion(c, { kind: 'auto', nowMs: 2, author: 'relay:us' }))
    Y.applyUpdate(h1, Y.encodeStateAsUpdate(h2))
    Y.applyUpdate(h2, Y.encodeStateAsUpdate(h1))
    expect(listVersions(h1)).toEqual(listVersions(h2))
    expect(listVersions(h1)).toHaveLength(1)
    expect(appendVersion(h1, captureVersion(b, { kind: 'auto', nowMs: 3 }))).toBe(false)
  })

  it('leaves out entries that are not valid records', () => {
    const history = new Y.Doc()
    versionsMap(history).set('junk', { kind: 'named' })
    expect(listVersions(history)).toEqual([])
    expect(invalidVersionIds(history)).toEqual(['junk'])
  })

  it('names: the companion document, and what may not have one', () => {
    expect(historyDocName('notes/1')).toBe('_meridian/history/notes/1')
    expect(liveDocNameOf('_meridian/history/notes/1')).toBe('notes/1')
    expect(liveDocNameOf('_meridian/history/_meridian/revocations')).toBeNull()
    expect(liveDocNameOf('_meridian/history/')).toBeNull()
    expect(liveDocNameOf('notes/1')).toBeNull()
  })

  it('infers untyped roots from their structure', () => {
    const src = new Y.Doc()
    src.getText('t').insert(0, 'x')
    src.getMap('m').set('a', 1)
    src.getArray('a').insert(0, [1])
    src.getXmlFragment('x').insert(0, [new Y.XmlText('hi')])
    src.getText('gone').insert(0, 'y')
    src.getText('gone').delete(0, 1)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(src))
    expect(['t', 'm', 'a', 'x', 'gone', 'absent'].map((n) => rootKind(doc, n))).toEqual(['text', 'map', 'array', 'xml', 'empty', 'empty'])
  })
})

describe('automatic version policy and retention', () => {
  const o = { activityMinMs: 1_000, quietMs: 500, maxActivityMs: 10_000 }
  it('captures after enough activity followed by quiet, or after maxActivityMs without a pause', () => {
    expect(decideAutoVersion({ firstChangeMs: null, lastChangeMs: null }, 0, o)).toEqual({ action: 'idle' })
    expect(decideAutoVersion({ firstChangeMs: 0, lastChangeMs: 1_200 }, 1_300, o)).toEqual({ action: 'wait', recheckAtMs: 1_700 })
    expect(decideAutoVersion({ firstChangeMs: 0, lastChangeMs: 1_200 }, 1_700, o)).toEqual({ action: 'capture' })
    expect(decideAutoVersion({ firstChangeMs: 0, lastChangeMs: 100 }, 5_000, o).action).toBe('wait')
    expect(decideAutoVersion({ firstChangeMs: 0, lastChangeMs: 9_999 }, 10_000, o)).toEqual({ action: 'capture' })
  })

  it('removes the oldest automatic versions first, named ones only beyond the hard cap', () => {
    const v = (id: string, kind: 'named' | 'auto', createdAtMs: number) => ({ id, kind, createdAtMs, label: '', author: '', stateVector: new Uint8Array(), contentHash: '', sizeBytes: 0 })
    const versions = [v('a1', 'auto', 1), v('n1', 'named', 2), v('a2', 'auto', 3), v('a3', 'auto', 4), v('n2', 'named', 5)]
    expect(expiredVersions(versions, 10, { maxVersions: 1, maxVersionAgeMs: 1_000, hardMaxVersions: 10 })).toEqual(['a1', 'a2'])
    expect(expiredVersions(versions, 10, { maxVersions: 10, maxVersionAgeMs: 6, hardMaxVersions: 10 })).toEqual(['a1', 'a2'])
    expect(expiredVersions(versions, 10, { maxVersions: 0, maxVersionAgeMs: 1_000, hardMaxVersions: 1 })).toEqual(['a1', 'n1', 'a2', 'a3'])
    expect(expiredVersions(versions, 10, { maxVersions: 10, maxVersionAgeMs: 1_000, hardMaxVersions: 3 })).toEqual(['a1', 'a2'])
  })
})
