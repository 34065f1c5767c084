/**
 * The browser side of bench/cold-load.mjs. `?phase=write&ops=N` builds an
 * N-operation document and stores it three ways; `?phase=load&system=…` is run
 * in a fresh browser process and measures loading one of them. Results go to
 * window.__bench.
 */
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { MeridianProvider, openIdbClientStore, type ClientAppendEntry } from '@meridian/client'

type System = 'meridian' | 'meridian-pending' | 'y-indexeddb'
const DOC: Record<System, string> = { meridian: 'bench-acknowledged', 'meridian-pending': 'bench-unacknowledged', 'y-indexeddb': 'bench-y-indexeddb' }
/** Like the provider: a batch per tick, compaction once this many update records pile up. */
const BATCH = 100
const COMPACT_AFTER = 200

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

/** N operations, each its own transaction (so its own update): inserts and deletes at random places in a Y.Text. */
function generate(ops: number): { updates: Uint8Array[]; text: string } {
  const random = seeded(42)
  const doc = new Y.Doc()
  doc.clientID = 1
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  const text = doc.getText('text')
  const words = ['sync ', 'relay ', 'offline ', 'tab ', 'a', 'b', 'c', 'd']
  for (let i = 0; i < ops; i++) {
    if (text.length > 20 && random() < 0.15) {
      const at = Math.floor(random() * (text.length - 3))
      text.delete(at, 1 + Math.floor(random() * 3))
    } else {
      text.insert(Math.floor(random() * (text.length + 1)), words[Math.floor(random() * words.length)] ?? 'x')
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

async function writeMeridian(docName: string, updates: Uint8Array[], pending: boolean): Promise<unknown> {
  const store = await openIdbClientStore()
  const started = performance.now()
  for (let i = 0; i < updates.length; i += BATCH) {
    const entries: ClientAppendEntry[] = updates.slice(i, i + BATCH).map((data) => ({ data, pending }))
    const { updateCount } = await store.append(docName, entries)
    if (updateCount >= COMPACT_AFTER) await store.compact(docName)
  }
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

async function writeYIndexeddb(docName: string, updates: Uint8Array[]): Promise<unknown> {
  const doc = new Y.Doc()
  const persistence = new IndexeddbPersistence(docName, doc)
  await persistence.whenSynced
  const started = performance.now()
  // y-indexeddb stores every update of the doc in its own transaction, and trims
  // (one merged state) 1 s after the last update once 500 have piled up.
  for (let i = 0; i < updates.length; i += BATCH) {
    for (const u of updates.slice(i, i + BATCH)) Y.applyUpdate(doc, u)
    await tick()
  }
  const internals = persistence as unknown as { _dbsize: number; _storeTimeoutId: unknown }
  while (internals._storeTimeoutId !== null || internals._dbsize >= 500) await new Promise((r) => setTimeout(r, 100))
  const writeMs = performance.now() - started
  const db = persistence.db as IDBDatabase
  const { records, bytes } = await new Promise<{ records: number; bytes: number }>((resolve, reject) => {
    const request = db.transaction('updates').objectStore('updates').getAll()
    request.onsuccess = () => resolve({ records: request.result.length, bytes: (request.result as Uint8Array[]).reduce((n, u) => n + u.byteLength, 0) })
    request.onerror = () => reject(request.error)
  })
  await persistence.destroy()
  return { writeMs: Math.round(writeMs - 1_000), records, bytes, note: 'writeMs excludes the 1 s trim debounce' }
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
    'y-indexeddb': await writeYIndexeddb(DOC['y-indexeddb'], updates)
  }
}

async function loadPhase(system: System): Promise<unknown> {
  const expected = localStorage.getItem('bench-digest')
  const doc = new Y.Doc()
  const t0 = performance.now()
  let extra: Record<string, unknown> = {}
  if (system === 'y-indexeddb') {
    const persistence = new IndexeddbPersistence(DOC[system], doc)
    await persistence.whenSynced
    extra = {}
    const ms = performance.now() - t0
    await persistence.destroy()
    return { system, ms, ok: digest(doc.getText('text').toString()) === expected, ...extra }
  }
  const provider = new MeridianProvider({ doc, docName: DOC[system], connect: false, crossTab: false })
  await provider.whenLoaded
  const ms = performance.now() - t0
  extra = { pendingLoaded: provider.pendingCount }
  await provider.destroy()
  return { system, ms, ok: digest(doc.getText('text').toString()) === expected, ...extra }
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
