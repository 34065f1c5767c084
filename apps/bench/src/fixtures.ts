import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { createPrng } from '@meridian/testing'

/** Deterministic PRNG (the testing kit's mulberry32): the same seed gives the same documents on every machine. */
export const seededRandom = createPrng

const WORDS = ['lorem ', 'ipsum ', 'dolor ', 'sit ', 'amet, ', 'consectetur ', 'adipiscing ', 'elit. ']

/**
 * One text edit like typing produces: mostly short inserts (70 % of them at
 * the end), 10 % deletions of 1–4 characters anywhere. This mix gives a
 * 100k-operation document a delete set of about 45 KB — what the y-websocket
 * handshake resends on every reconnect.
 */
export function randomEdit(text: Y.Text, random: () => number): void {
  const length = text.length
  if (length > 10 && random() < 0.1) {
    const at = Math.floor(random() * (length - 1))
    text.delete(at, 1 + Math.floor(random() * Math.min(4, length - at - 1)))
  } else {
    const at = random() < 0.7 ? length : Math.floor(random() * (length + 1))
    const word = WORDS[Math.floor(random() * WORDS.length)] ?? 'x'
    text.insert(at, word.slice(0, 1 + Math.floor(random() * word.length)))
  }
}

export interface LargeDoc {
  /** Operations it was built from. */
  ops: number
  /** The whole document as one update (`Y.encodeStateAsUpdate`). */
  state: Uint8Array
  /** The same document as the updates its editing produced, one per transaction, in order. */
  updates: Uint8Array[]
}

export const LARGE_DOC_OPS = 100_000
const OPS_PER_TRANSACTION = 100
const LARGE_DOC_SEED = 42
/** Client id of the author of the large document. */
export const LARGE_DOC_CLIENT = 1

/** Builds the large document: `ops` random edits by one client, `OPS_PER_TRANSACTION` per transaction. */
export function generateLargeDoc(ops = LARGE_DOC_OPS, seed = LARGE_DOC_SEED): LargeDoc {
  const random = seededRandom(seed)
  const doc = new Y.Doc()
  doc.clientID = LARGE_DOC_CLIENT
  const text = doc.getText('text')
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (let done = 0; done < ops; ) {
    const batch = Math.min(OPS_PER_TRANSACTION, ops - done)
    doc.transact(() => {
      for (let i = 0; i < batch; i++) randomEdit(text, random)
    })
    done += batch
  }
  const state = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return { ops, state, updates }
}

/** The large document, generated once and cached (it takes a few seconds). */
export function loadLargeDoc(cacheFile: string, ops = LARGE_DOC_OPS): LargeDoc {
  if (existsSync(cacheFile)) {
    try {
      const decoder = decoding.createDecoder(readFileSync(cacheFile))
      const cachedOps = decoding.readVarUint(decoder)
      const state = decoding.readVarUint8Array(decoder)
      const count = decoding.readVarUint(decoder)
      const updates: Uint8Array[] = []
      for (let i = 0; i < count; i++) updates.push(decoding.readVarUint8Array(decoder))
      if (cachedOps === ops) return { ops, state, updates }
    } catch {
      // A truncated or stale cache: build it again.
    }
  }
  const doc = generateLargeDoc(ops)
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, doc.ops)
  encoding.writeVarUint8Array(encoder, doc.state)
  encoding.writeVarUint(encoder, doc.updates.length)
  for (const u of doc.updates) encoding.writeVarUint8Array(encoder, u)
  mkdirSync(dirname(cacheFile), { recursive: true })
  writeFileSync(`${cacheFile}.tmp`, encoding.toUint8Array(encoder))
  renameSync(`${cacheFile}.tmp`, cacheFile)
  return doc
}

/** `count` edits to `doc`, one transaction each (what a user does offline); returns their updates. */
export function offlineEdits(doc: Y.Doc, count: number, seed: number): Uint8Array[] {
  const random = seededRandom(seed)
  const text = doc.getText('text')
  const updates: Uint8Array[] = []
  const capture = (update: Uint8Array): void => {
    updates.push(update)
  }
  doc.on('update', capture)
  try {
    for (let i = 0; i < count; i++) doc.transact(() => randomEdit(text, random))
  } finally {
    doc.off('update', capture)
  }
  return updates
}

/** `count` small text updates (a few characters each) by client `clientId`, in order. */
export function smallUpdates(count: number, clientId: number, seed = 7): Uint8Array[] {
  const doc = new Y.Doc()
  doc.clientID = clientId
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  const random = seededRandom(seed + clientId)
  const text = doc.getText('text')
  for (let i = 0; i < count; i++) randomEdit(text, random)
  doc.destroy()
  return updates
}
