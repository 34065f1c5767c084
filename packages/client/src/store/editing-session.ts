import * as prng from 'lib0/prng'
import * as Y from 'yjs'
import type { ClientAppendEntry } from './types.js'

/**
 * Test support: a seeded, reproducible Yjs editing session between several
 * clients, seen from client 0's store. Client 0's own edits are pending
 * entries; other clients' updates reach it in random, shuffled chunks (so some
 * arrive before their dependencies) and are stored as remote entries.
 */
export interface EditingSessionStep {
  /** Entries client 0 would append now (may be empty). */
  readonly entries: readonly ClientAppendEntry[]
}

export interface EditingSession {
  /** Client 0's document: it has applied every entry returned so far. */
  readonly doc: Y.Doc
  /** Advances one random step; returns what client 0 stores. */
  step(): EditingSessionStep
  /** Delivers everything still in flight to client 0 and returns it. */
  drain(): EditingSessionStep
  destroy(): void
}

/** Deterministic numbers in [0, 1) (lib0's PRNG): same seed, same session. */
export function seededRandom(seed: number): () => number {
  const gen = prng.create(seed)
  return () => prng.real53(gen)
}

const REMOTE = Symbol('remote')

export function createEditingSession(seed: number, clientCount = 3): EditingSession {
  const random = seededRandom(seed)
  const int = (max: number): number => Math.floor(random() * max)
  const docs = Array.from({ length: clientCount }, (_, i) => {
    const doc = new Y.Doc()
    doc.clientID = i + 1 // fixed ids keep the session reproducible
    return doc
  })
  const inboxes = docs.map((): Uint8Array[] => [])
  let outgoing: ClientAppendEntry[] = []

  docs.forEach((doc, from) => {
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE) return // full mesh: only a client's own edits are sent
      inboxes.forEach((inbox, to) => {
        if (to !== from) inbox.push(update)
      })
      if (from === 0) outgoing.push({ data: update, pending: true })
    })
  })

  const deliver = (to: number, count: number): void => {
    const inbox = inboxes[to]
    const doc = docs[to]
    if (inbox === undefined || doc === undefined) return
    const chunk = inbox.splice(0, count)
    for (let i = chunk.length - 1; i > 0; i--) {
      const j = int(i + 1)
      const a = chunk[i]
      const b = chunk[j]
      if (a !== undefined && b !== undefined) [chunk[i], chunk[j]] = [b, a]
    }
    for (const update of chunk) {
      Y.applyUpdate(doc, update, REMOTE)
      if (to === 0) outgoing.push({ data: update, pending: false })
    }
  }

  const edit = (doc: Y.Doc): void => {
    const text = doc.getText('text')
    const map = doc.getMap<number | string>('map')
    const array = doc.getArray<number>('array')
    const kind = int(6)
    if (kind === 0 || (kind === 1 && text.length === 0)) {
      text.insert(int(text.length + 1), `c${doc.clientID}-${int(1000)} `)
    } else if (kind === 1) {
      const at = int(text.length)
      text.delete(at, Math.min(1 + int(5), text.length - at))
    } else if (kind === 2) {
      map.set(`k${int(12)}`, random() < 0.5 ? int(1000) : `v${int(1000)}`)
    } else if (kind === 3) {
      map.delete(`k${int(12)}`)
    } else if (kind === 4 || array.length === 0) {
      array.insert(int(array.length + 1), [int(1000)])
    } else {
      array.delete(int(array.length), 1)
    }
  }

  const take = (): EditingSessionStep => {
    const entries = outgoing
    outgoing = []
    return { entries }
  }

  return {
    doc: docs[0] ?? new Y.Doc(),
    step() {
      const roll = random()
      if (roll < 0.75) {
        const doc = docs[int(docs.length)]
        if (doc !== undefined) doc.transact(() => edit(doc))
      } else {
        deliver(int(docs.length), 1 + int(6))
      }
      return take()
    },
    drain() {
      inboxes.forEach((inbox, to) => deliver(to, inbox.length))
      return take()
    },
    destroy() {
      for (const doc of docs) doc.destroy()
    }
  }
}
