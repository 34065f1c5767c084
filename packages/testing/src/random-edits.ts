import * as Y from 'yjs'
import { createPrng } from './prng.js'

/**
 * One random edit on text, map or array — the shapes apps use. `tag` ends up
 * in inserted content so a diff shows whose edit it was.
 */
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

export interface RandomEditsOptions {
  /** Seeds the edits; the same seed on the same document state makes the same edits. */
  seed: number
  /** How many edits (each its own transaction, so each its own update). */
  ops: number
  /** Marks inserted content (default `e`). */
  tag?: string
}

/**
 * Makes `ops` random edits on `doc`, one transaction each, and returns the
 * updates they emitted (the same objects the doc emitted, so a provider's
 * `durabilityOf(update)` knows them).
 */
export function randomEditsOnDoc(doc: Y.Doc, options: RandomEditsOptions): Uint8Array[] {
  if (!Number.isSafeInteger(options.ops) || options.ops < 0) throw new TypeError(`ops must be a non-negative integer, got ${String(options.ops)}`)
  const rand = createPrng(options.seed)
  const tag = options.tag ?? 'e'
  const updates: Uint8Array[] = []
  const capture = (update: Uint8Array): void => {
    updates.push(update)
  }
  doc.on('update', capture)
  try {
    for (let i = 0; i < options.ops; i++) {
      doc.transact(() => randomEdit(doc, rand, `${tag}${i}.`), 'meridian-testing')
    }
  } finally {
    doc.off('update', capture)
  }
  return updates
}
