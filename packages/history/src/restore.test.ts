import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { restoreVersion } from './restore.js'
import { captureVersion, docFromState } from './version.js'

const sync = (a: Y.Doc, b: Y.Doc): void => {
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)))
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
}
/** A delta with adjacent runs of equal formatting merged (Yjs may split a run at a no-op format mark). */
function normalized(text: Y.Text): { insert: unknown; attributes?: unknown }[] {
  const out: { insert: unknown; attributes?: unknown }[] = []
  for (const op of text.toDelta() as { insert: unknown; attributes?: unknown }[]) {
    const last = out.at(-1)
    if (last !== undefined && typeof last.insert === 'string' && typeof op.insert === 'string' && JSON.stringify(last.attributes) === JSON.stringify(op.attributes)) last.insert += op.insert
    else out.push({ ...op })
  }
  return out
}
const snapshotDoc = (doc: Y.Doc): Y.Doc => docFromState(captureVersion(doc, { kind: 'auto', nowMs: 0 }))

/** A small seeded PRNG (mulberry32): the same seed, the same edits. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomEdit(doc: Y.Doc, rnd: () => number): void {
  const text = doc.getText('text')
  const map = doc.getMap('map')
  const array = doc.getArray<string>('array')
  const r = rnd()
  const word = (): string => Math.floor(rnd() * 1e6).toString(36)
  if (r < 0.35) text.insert(Math.floor(rnd() * (text.length + 1)), word(), rnd() < 0.3 ? { bold: true } : {})
  else if (r < 0.5 && text.length > 0) {
    const at = Math.floor(rnd() * text.length)
    text.delete(at, Math.min(text.length - at, 1 + Math.floor(rnd() * 5)))
  } else if (r < 0.6 && text.length > 0) text.format(Math.floor(rnd() * text.length), 3, { italic: rnd() < 0.5 ? true : null })
  else if (r < 0.75) map.set(`k${Math.floor(rnd() * 6)}`, word())
  else if (r < 0.8) map.delete(`k${Math.floor(rnd() * 6)}`)
  else if (r < 0.92) array.insert(Math.floor(rnd() * (array.length + 1)), [word()])
  else if (array.length > 0) array.delete(Math.floor(rnd() * array.length), 1)
}

describe('restoreVersion', () => {
  it('makes text, formatting, maps and arrays equal to the version, by forward edits only (seeded)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = prng(seed)
      const doc = new Y.Doc()
      for (let i = 0; i < 30; i++) randomEdit(doc, rnd)
      const version = snapshotDoc(doc)
      for (let i = 0; i < 30; i++) randomEdit(doc, rnd)
      const svBefore = Y.decodeStateVector(Y.encodeStateVector(doc))
      restoreVersion(doc, version, 'restore')
      expect(normalized(doc.getText('text')), `seed ${seed}`).toEqual(normalized(version.getText('text')))
      expect(doc.getMap('map').toJSON()).toEqual(version.getMap('map').toJSON())
      expect(doc.getArray('array').toJSON()).toEqual(version.getArray('array').toJSON())
      // Forward: every earlier item is still there (only its deletion flag may have changed).
      for (const [client, clock] of svBefore) expect(Y.decodeStateVector(Y.encodeStateVector(doc)).get(client)).toBeGreaterThanOrEqual(clock)
    }
  })

  it('keeps concurrent edits of other clients, and every replica converges', () => {
    for (let seed = 100; seed < 130; seed++) {
      const rnd = prng(seed)
      const a = new Y.Doc()
      const b = new Y.Doc()
      for (let i = 0; i < 20; i++) randomEdit(a, rnd)
      sync(a, b)
      const version = snapshotDoc(a)
      for (let i = 0; i < 20; i++) randomEdit(a, rnd)
      sync(a, b)
      // b types a marker while a restores, concurrently.
      b.getText('text').insert(0, 'CONCURRENT')
      b.getMap('map').set('concurrent', 'yes')
      restoreVersion(a, version, 'restore')
      sync(a, b)
      expect(a.getText('text').toString()).toBe(b.getText('text').toString())
      expect(a.getMap('map').toJSON()).toEqual(b.getMap('map').toJSON())
      expect(a.getText('text').toString()).toBe('CONCURRENT' + version.getText('text').toString())
      expect(a.getMap('map').get('concurrent')).toBe('yes')
    }
  })

  it('restores an XML fragment (the editor): nodes, attributes and text, keeping a concurrent edit inside a kept paragraph', () => {
    const a = new Y.Doc()
    const frag = a.getXmlFragment('default')
    const p = (text: string, attrs: Record<string, string> = {}): Y.XmlElement => {
      const el = new Y.XmlElement('paragraph')
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v)
      el.insert(0, [new Y.XmlText(text)])
      return el
    }
    frag.insert(0, [p('one'), p('two'), p('three')])
    const version = snapshotDoc(a)
    frag.delete(1, 1)
    frag.insert(1, [p('TWO', { align: 'center' }), p('extra')]);
    ((frag.get(0) as Y.XmlElement).get(0) as Y.XmlText).insert(3, ' more', { bold: true })
    const b = new Y.Doc()
    sync(a, b)
    restoreVersion(a, version, 'restore');
    // Concurrently, b types into the first paragraph.
    ((b.getXmlFragment('default').get(0) as Y.XmlElement).get(0) as Y.XmlText).insert(0, '>')
    sync(a, b)
    expect(a.getXmlFragment('default').toString()).toBe(b.getXmlFragment('default').toString())
    expect(a.getXmlFragment('default').toString()).toBe('<paragraph>&gt;one</paragraph><paragraph>two</paragraph><paragraph>three</paragraph>'.replace('&gt;', '>'))
  })

  it('restores a document whose roots were never typed here (inferred from the stored structure)', () => {
    const src = new Y.Doc()
    src.getText('t').insert(0, 'hello')
    src.getMap('m').set('a', 1)
    src.getXmlFragment('x').insert(0, [new Y.XmlElement('p')])
    const version = snapshotDoc(src)
    src.getText('t').insert(5, ' world')
    src.getMap('m').set('b', 2)
    src.getXmlFragment('x').insert(1, [new Y.XmlElement('h1')])
    const live = docFromState(captureVersion(src, { kind: 'auto', nowMs: 0 }))
    restoreVersion(live, version)
    expect(live.getText('t').toString()).toBe('hello')
    expect(live.getMap('m').toJSON()).toEqual({ a: 1 })
    expect(live.getXmlFragment('x').toString()).toBe('<p></p>')
  })
})
