import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { diffVersions, type RootDiff } from './diff.js'
import { captureVersion, docFromState } from './version.js'

const snap = (doc: Y.Doc): Y.Doc => docFromState(captureVersion(doc, { kind: 'auto', nowMs: 0 }))
const root = (roots: RootDiff[], name: string): RootDiff | undefined => roots.find((r) => r.name === name)

describe('diffVersions', () => {
  it('text: inserted and deleted ranges with the client that inserted them', () => {
    const alice = new Y.Doc()
    alice.clientID = 1
    alice.getText('t').insert(0, 'hello world')
    const v1 = snap(alice)
    const bob = new Y.Doc()
    bob.clientID = 2
    Y.applyUpdate(bob, Y.encodeStateAsUpdate(alice))
    bob.getText('t').delete(0, 6)
    bob.getText('t').insert(5, '!')
    const diff = diffVersions(v1, snap(bob))
    expect(diff.changed).toBe(true)
    expect(root(diff.roots, 't')).toEqual({
      name: 't',
      kind: 'text',
      ops: [
        { op: 'delete', text: 'hello ', client: 1 },
        { op: 'retain', text: 'world', client: null },
        { op: 'insert', text: '!', client: 2 }
      ]
    })
  })

  it('maps: added, removed and changed keys; arrays: entries', () => {
    const doc = new Y.Doc()
    doc.clientID = 7
    doc.getMap('m').set('keep', 1)
    doc.getMap('m').set('gone', 2)
    doc.getMap('m').set('edit', 'a')
    doc.getArray('a').insert(0, ['x', 'y'])
    const v1 = snap(doc)
    doc.getMap('m').delete('gone')
    doc.getMap('m').set('edit', 'b')
    doc.getMap('m').set('new', true)
    doc.getArray('a').delete(0, 1)
    doc.getArray('a').insert(1, ['z'])
    const diff = diffVersions(v1, snap(doc))
    expect(root(diff.roots, 'm')).toEqual({
      name: 'm',
      kind: 'map',
      changes: [
        { key: 'edit', change: 'changed', before: 'a', after: 'b', client: 7 },
        { key: 'gone', change: 'removed', before: 2, client: null },
        { key: 'new', change: 'added', after: true, client: 7 }
      ]
    })
    expect(root(diff.roots, 'a')).toEqual({
      name: 'a',
      kind: 'array',
      ops: [
        { op: 'delete', values: ['x'], client: 7 },
        { op: 'retain', values: ['y'], client: null },
        { op: 'insert', values: ['z'], client: 7 }
      ]
    })
  })

  it('XML: kept elements are entered, new and removed ones shown whole', () => {
    const doc = new Y.Doc()
    doc.clientID = 3
    const frag = doc.getXmlFragment('default')
    const p = new Y.XmlElement('paragraph')
    p.insert(0, [new Y.XmlText('abc')])
    frag.insert(0, [p, new Y.XmlElement('hr')])
    const v1 = snap(doc)
    ;(p.get(0) as Y.XmlText).insert(3, 'd')
    frag.delete(1, 1)
    frag.insert(1, [new Y.XmlElement('h1')])
    const diff = diffVersions(v1, snap(doc))
    expect(root(diff.roots, 'default')).toEqual({
      name: 'default',
      kind: 'xml',
      ops: [
        { op: 'enter', node: 'element', name: 'paragraph' },
        { op: 'retain', node: 'text', text: 'abc', client: null },
        { op: 'insert', node: 'text', text: 'd', client: 3 },
        { op: 'exit', node: 'element', name: 'paragraph' },
        { op: 'insert', node: 'element', name: 'h1', xml: '<h1></h1>', client: 3 },
        { op: 'delete', node: 'element', name: 'hr', xml: '<hr></hr>', client: 3 }
      ]
    })
  })

  it('no change: nothing inserted or deleted', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'same')
    expect(diffVersions(snap(doc), snap(doc)).changed).toBe(false)
  })
})
