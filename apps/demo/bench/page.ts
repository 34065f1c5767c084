/**
 * The browser side of bench/cold-load.mjs. `?phase=write&ops=N` builds an
 * N-operation document and stores it three ways; `?phase=load&system=…` is run
 * in a fresh browser process and measures loading one of them. Results go to
 * window.__bench.
 */
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { MeridianProvider, type ClientAppendEntry } from '@meridian/client'
import { indexedDbStore, openIdbClientStore } from '@meridian/client/store'

type System = 'meridian' | 'meridian-pending' | 'y-indexeddb' | 'idb-open' | 'meridian-store'
const DOC: Record<System, string> = {
  meridian: 'bench-acknowledged',
  'meridian-store': 'bench-acknowledged',
  'meridian-pending': 'bench-unacknowledged',
  'y-indexeddb': 'bench-y-indexeddb',
  'idb-open': 'bench-baseline'
}
/** Recent updates left as separate records after the merged state (both systems keep such a tail: Meridian up to 200, y-indexeddb up to 500). */
const TAIL = 150
/** Records per transaction while filling the stores. */
const CHUNK = 5_000

interface Bench {
  done: boolean
  error?: string
  result?: unknown
}
const bench: Bench = { done: false }
;(window as unknown as { __bench: Bench }).__bench = bench

function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * N single-character operations, each its own transaction (so its own
 * update), like a person typing: characters at a cursor, 10% backspaces, and
 * the cursor jumping somewhere else 5% of the time.
 */
function generate(ops: number): { updates: Uint8Array[]; text: string } {
  const random = seeded(42)
  const doc = new Y.Doc()
  doc.clientID = 1
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  const text = doc.getText('text')
  const letters = 'etaoin shrdlu cmfwyp vbgkqj xz,.'
  let cursor = 0
  for (let i = 0; i < ops; i++) {
    const roll = random()
    if (roll < 0.05) cursor = Math.floor(random() * (text.length + 1))
    if (roll > 0.9 && cursor > 0) {
      text.delete(cursor - 1, 1)
      cursor--
    } else {
      text.insert(cursor, letters[Math.floor(random() * letters.length)] ?? ' ')
      cursor++
    }
  }
  const result = { updates, text: text.toString() }
  doc.destroy()
  return result
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0))

function digest(s: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return `${s.length}:${(h >>> 0).toString(16)}`
}

/**
 * The shape the provider leaves behind: a compacted snapshot and a tail of
 * recent update records; with `pending`, every update also still in the
 * durable outbox (never acknowledged: a long offline session).
 */
async function writeMeridian(docName: string, updates: Uint8Array[], pending: boolean): Promise<unknown> {
  const store = await openIdbClientStore()
  const started = performance.now()
  const head = updates.slice(0, updates.length - TAIL)
  const append = async (list: Uint8Array[]): Promise<void> => {
    for (let i = 0; i < list.length; i += CHUNK) {
      const entries: ClientAppendEntry[] = list.slice(i, i + CHUNK).map((data) => ({ data, pending }))
      await store.append(docName, entries)
    }
  }
  if (pending) {
    await append(head)
  } else {
    // Same snapshot as compacting the head's records one by one (compaction re-encodes the
    // document either way), without writing and deleting 100k records first.
    const merged = new Y.Doc()
    Y.transact(merged, () => head.forEach((u) => Y.applyUpdate(merged, u)))
    await store.append(docName, [{ data: Y.encodeStateAsUpdate(merged), pending: false }])
    merged.destroy()
  }
  await store.compact(docName)
  await append(updates.slice(head.length))
  const writeMs = performance.now() - started
  const stored = await store.load(docName)
  await store.close()
  return {
    writeMs: Math.round(writeMs),
    snapshotBytes: stored.snapshot?.byteLength ?? 0,
    updateRecords: stored.updates.length,
    pendingRecords: stored.pending.length
  }
}

/**
 * The shape y-indexeddb leaves behind, made by y-indexeddb itself: attached to
 * a doc holding everything but the tail, it stores that state as one record
 * (what its trimming also produces), then one record per later update.
 */
async function writeYIndexeddb(docName: string, updates: Uint8Array[]): Promise<unknown> {
  const doc = new Y.Doc()
  const started = performance.now()
  Y.transact(doc, () => {
    for (const u of updates.slice(0, updates.length - TAIL)) Y.applyUpdate(doc, u)
  })
  const persistence = new IndexeddbPersistence(docName, doc)
  await persistence.whenSynced
  for (const u of updates.slice(updates.length - TAIL)) Y.applyUpdate(doc, u)
  // Its writes are one transaction each, issued in order: a later read of the store sees them all.
  await tick()
  const writeMs = performance.now() - started
  const db = persistence.db as IDBDatabase
  const { records, bytes } = await new Promise<{ records: number; bytes: number }>((resolve, reject) => {
    const request = db.transaction('updates').objectStore('updates').getAll()
    request.onsuccess = () => resolve({ records: request.result.length, bytes: (request.result as Uint8Array[]).reduce((n, u) => n + u.byteLength, 0) })
    request.onerror = () => reject(request.error)
  })
  await persistence.destroy()
  return { writeMs: Math.round(writeMs), records, bytes }
}

/** An empty database: the fixed cost of opening IndexedDB in a fresh browser process. */
async function writeBaseline(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const request = indexedDB.open(DOC['idb-open'], 1)
    request.onupgradeneeded = () => request.result.createObjectStore('kv')
    request.onsuccess = () => {
      request.result.close()
      resolve()
    }
    request.onerror = () => reject(request.error)
  })
}

async function writePhase(ops: number): Promise<unknown> {
  const t0 = performance.now()
  const { updates, text } = generate(ops)
  const generateMs = Math.round(performance.now() - t0)
  const updateBytes = updates.reduce((n, u) => n + u.byteLength, 0)
  localStorage.setItem('bench-digest', digest(text))
  return {
    ops,
    generateMs,
    updateBytes,
    textLength: text.length,
    meridian: await writeMeridian(DOC.meridian, updates, false),
    'meridian-pending': await writeMeridian(DOC['meridian-pending'], updates, true),
    'y-indexeddb': await writeYIndexeddb(DOC['y-indexeddb'], updates),
    baseline: await writeBaseline()
  }
}

async function loadPhase(system: System): Promise<unknown> {
  const expected = localStorage.getItem('bench-digest')
  const doc = new Y.Doc()
  const t0 = performance.now()
  if (system === 'idb-open') {
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(DOC['idb-open'], 1)
      request.onsuccess = () => {
        const get = request.result.transaction('kv').objectStore('kv').get('nothing')
        get.onsuccess = () => resolve()
        get.onerror = () => reject(get.error)
      }
      request.onerror = () => reject(request.error)
    })
    return { system, ms: performance.now() - t0, ok: true }
  }
  if (system === 'meridian-store') {
    // The provider's load, step by step, on the store alone: open, read, apply.
    const store = await openIdbClientStore()
    const opened = performance.now()
    const stored = await store.load(DOC[system])
    const read = performance.now()
    Y.transact(doc, () => {
      if (stored.snapshot !== null) Y.applyUpdate(doc, stored.snapshot)
      for (const u of stored.updates) Y.applyUpdate(doc, u.data)
    })
    const ms = performance.now() - t0
    await store.close()
    return { system, ms, ok: digest(doc.getText('text').toString()) === expected, openMs: opened - t0, readMs: read - opened, applyMs: t0 + ms - read }
  }
  if (system === 'y-indexeddb') {
    const persistence = new IndexeddbPersistence(DOC[system], doc)
    await persistence.whenSynced
    const ms = performance.now() - t0
    await persistence.destroy()
    return { system, ms, ok: digest(doc.getText('text').toString()) === expected }
  }
  const provider = new MeridianProvider({ doc, docName: DOC[system], store: indexedDbStore(), connect: false, crossTab: false })
  await provider.whenLoaded
  const ms = performance.now() - t0
  const pendingLoaded = provider.pendingCount
  await provider.destroy()
  return { system, ms, ok: digest(doc.getText('text').toString()) === expected, pendingLoaded }
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search)
  try {
    bench.result =
      params.get('phase') === 'write'
        ? await writePhase(Number(params.get('ops') ?? '100000'))
        : await loadPhase((params.get('system') ?? 'meridian') as System)
  } catch (error) {
    bench.error = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error)
  }
  bench.done = true
  const out = document.getElementById('out')
  if (out !== null) out.textContent = JSON.stringify(bench, null, 2)
}

void main()
