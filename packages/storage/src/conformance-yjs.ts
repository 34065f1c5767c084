import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { loadExisting } from './conformance-harness.js'
import type { Harness } from './conformance-harness.js'
import type { StoredDocument } from './types.js'
import { docFromStored } from './stored-doc.js'

/**
 * The end-to-end property the relay relies on: whatever mix of snapshot and
 * updates an adapter returns, applying it to an empty Y.Doc reproduces the
 * original document exactly. Deterministic (seeded PRNG, fixed client ids) so a
 * failure names a seed that reproduces it.
 */
const SEEDS = [1, 0xc0ffee, 20240229]

interface Rng {
  int(bound: number): number
  chance(p: number): boolean
  word(): string
}

/** mulberry32: tiny, seedable, good enough for edit scripts. */
function createRng(seed: number): Rng {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const alphabet = 'abcdefghijklmnopqrstuvwxyz ✓é😀\n'
  const chars = Array.from(alphabet)
  return {
    int: (bound) => Math.floor(next() * bound),
    chance: (p) => next() < p,
    word: () => Array.from({ length: 1 + Math.floor(next() * 6) }, () => chars[Math.floor(next() * chars.length)]).join('')
  }
}

const MAP_KEYS = ['a', 'b', 'c', 'd', 'nested', 'ü']

function randomValue(rng: Rng): unknown {
  switch (rng.int(5)) {
    case 0:
      return rng.int(1000)
    case 1:
      return rng.word()
    case 2:
      return rng.chance(0.5)
    case 3:
      return null
    default: {
      const nested = new Y.Map<unknown>()
      nested.set('k', rng.word())
      return nested
    }
  }
}

function randomEdit(doc: Y.Doc, rng: Rng): void {
  const text = doc.getText('text')
  const map = doc.getMap<unknown>('map')
  const array = doc.getArray<unknown>('array')
  switch (rng.int(7)) {
    case 0:
    case 1: {
      const attributes = rng.chance(0.2) ? { bold: true } : undefined
      text.insert(rng.int(text.length + 1), rng.word(), attributes)
      return
    }
    case 2: {
      if (text.length === 0) return
      const index = rng.int(text.length)
      text.delete(index, 1 + rng.int(Math.min(4, text.length - index)))
      return
    }
    case 3:
      map.set(MAP_KEYS[rng.int(MAP_KEYS.length)] ?? 'a', randomValue(rng))
      return
    case 4:
      map.delete(MAP_KEYS[rng.int(MAP_KEYS.length)] ?? 'a')
      return
    case 5:
      array.insert(rng.int(array.length + 1), [randomValue(rng), rng.int(100)])
      return
    default: {
      if (array.length === 0) return
      const index = rng.int(array.length)
      array.delete(index, 1 + rng.int(Math.min(3, array.length - index)))
    }
  }
}

/**
 * A document edited by itself and two peers; `updates` is every update the
 * document emitted (local edits and merged peer edits), in order.
 */
class EditSession {
  readonly doc = new Y.Doc()
  readonly updates: Uint8Array[] = []
  readonly #peers: Y.Doc[]
  readonly #rng: Rng

  constructor(seed: number) {
    this.#rng = createRng(seed)
    this.doc.clientID = 1000 + (seed % 1000)
    this.#peers = [2001, 2002].map((clientID) => {
      const peer = new Y.Doc()
      peer.clientID = clientID
      return peer
    })
    this.doc.on('update', (update: Uint8Array) => this.updates.push(update))
  }

  /** Runs `steps` random transactions, some concurrent on peers, then syncs peers into the doc. */
  run(steps: number): void {
    for (let step = 0; step < steps; step++) {
      const target = this.#rng.chance(0.6) ? this.doc : this.#peers[this.#rng.int(this.#peers.length)] ?? this.doc
      const edits = 1 + this.#rng.int(3)
      target.transact(() => {
        for (let i = 0; i < edits; i++) randomEdit(target, this.#rng)
      })
      for (const peer of this.#peers) {
        // Peers deliver lazily so their edits are concurrent with the doc's.
        if (this.#rng.chance(0.3)) this.#sync(peer)
      }
    }
    for (const peer of this.#peers) this.#sync(peer)
  }

  #sync(peer: Y.Doc): void {
    Y.applyUpdate(this.doc, Y.encodeStateAsUpdate(peer, Y.encodeStateVector(this.doc)), 'peer')
    Y.applyUpdate(peer, Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(peer)), 'doc')
  }
}

function restore(stored: StoredDocument): Y.Doc {
  return docFromStored(stored)
}

function expectSameDoc(actual: Y.Doc, expected: Y.Doc): void {
  const view = (doc: Y.Doc) => ({
    text: doc.getText('text').toJSON(),
    delta: doc.getText('text').toDelta() as unknown,
    map: doc.getMap('map').toJSON(),
    array: doc.getArray('array').toJSON()
  })
  expect(view(actual)).toEqual(view(expected))
  expect(Y.encodeStateVector(actual)).toEqual(Y.encodeStateVector(expected))
  expect(Y.encodeStateAsUpdate(actual)).toEqual(Y.encodeStateAsUpdate(expected))
}

export function registerYjsCases(h: Harness): void {
  for (const seed of SEEDS) {
    it(`Yjs cycle (seed ${seed}): append, load, compact, append, reopen, load reproduces the doc byte for byte`, async () => {
      const docName = `yjs/${seed}`
      const session = new EditSession(seed)
      session.run(150)
      expect(session.updates.length).toBeGreaterThan(50)
      for (const update of session.updates) await h.adapter.append(docName, update)

      const loaded = await loadExisting(h.adapter, docName)
      expect(loaded.updates.length).toBe(session.updates.length)
      const replica = restore(loaded)
      expectSameDoc(replica, session.doc)

      const through = loaded.updates.at(-1)?.seq ?? 0
      await h.adapter.compact(docName, Y.encodeStateAsUpdate(replica), through)

      const before = session.updates.length
      session.run(25)
      const tail = session.updates.slice(before)
      expect(tail.length).toBeGreaterThan(0)
      for (const update of tail) await h.adapter.append(docName, update)

      const adapter = h.canReopen ? await h.reopen() : h.adapter
      const final = await loadExisting(adapter, docName)
      expect(final.snapshotSeq).toBe(through)
      expect(final.updates.length).toBe(tail.length)
      expectSameDoc(restore(final), session.doc)
    })
  }
}
