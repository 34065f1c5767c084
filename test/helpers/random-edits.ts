import * as Y from 'yjs'

/** One random edit on text, map or array — the shapes apps use. */
export function randomEdit(doc: Y.Doc, rand: () => number, tag: string): void {
  const pick = rand()
  const text = doc.getText('text')
  const map = doc.getMap('map')
  const array = doc.getArray<string>('array')
  if (pick < 0.4) {
    if (text.length > 0 && rand() < 0.3) {
      const at = Math.floor(rand() * text.length)
      text.delete(at, Math.min(1 + Math.floor(rand() * 3), text.length - at))
    } else {
      text.insert(Math.floor(rand() * (text.length + 1)), `${tag}${Math.floor(rand() * 100)} `)
    }
  } else if (pick < 0.7) {
    const key = `k${Math.floor(rand() * 8)}`
    if (rand() < 0.2) map.delete(key)
    else map.set(key, `${tag}:${Math.floor(rand() * 1000)}`)
  } else if (array.length > 0 && rand() < 0.3) {
    array.delete(Math.floor(rand() * array.length), 1)
  } else {
    array.insert(Math.floor(rand() * (array.length + 1)), [`${tag}-${Math.floor(rand() * 1000)}`])
  }
}

/** What two converged documents must agree on. */
export function docFingerprint(doc: Y.Doc): { stateVector: string; deleteSet: string; content: unknown } {
  return {
    stateVector: Buffer.from(Y.encodeStateVector(doc)).toString('hex'),
    // A snapshot encodes the delete set (canonically: clients sorted, ranges merged) and the state vector.
    deleteSet: Buffer.from(Y.encodeSnapshot(Y.snapshot(doc))).toString('hex'),
    content: { text: doc.getText('text').toString(), map: doc.getMap('map').toJSON(), array: doc.getArray('array').toJSON() }
  }
}
