import * as Y from 'yjs'
import { loadLargeDoc } from '../fixtures.js'
import { median, sleep, withTimeout, type Metrics, type Params, type RunContext, type Scenario } from '../scenario.js'

/**
 * Opening a 100k-operation document from IndexedDB (fake-indexeddb in Node).
 * Each store first receives the document the way an open app would: as the
 * 1,000 updates its editing produced, through the store's own write path,
 * with the event loop turning between them. Then the document is opened
 * `loads` times in a fresh Y.Doc, timed from opening the store until the
 * document is in memory, in two states:
 *  - `busy`: the app closed right after the last write had committed (what
 *    each store had done by then: Meridian compacts after 200 records;
 *    y-indexeddb trims only after 500 records *and* one second without updates);
 *  - `settled`: each store's own compaction ran first (Meridian `compact`,
 *    y-indexeddb `storeState`), its best case.
 */
export async function runColdLoad(ctx: RunContext, params: Params): Promise<Metrics> {
  const loads = params.loads ?? 3
  const { updates, state } = loadLargeDoc(ctx.largeDocFile)
  const expected = new Y.Doc()
  Y.applyUpdate(expected, state)
  const expectedLength = expected.getText('text').length
  expected.destroy()
  // fake-indexeddb's globals (indexedDB, IDBRequest, …) for both stores, in this process only.
  await import('fake-indexeddb/auto')
  const store = ctx.subject === 'meridian-store' ? await meridianStore() : ctx.subject === 'y-indexeddb' ? await yIndexeddb() : null
  if (store === null) throw new Error(`cold-load: unknown subject ${ctx.subject}`)

  const writeStarted = performance.now()
  await withTimeout(store.write(updates), 100_000, 'writing the document')
  const writeMs = performance.now() - writeStarted
  const busyRecords = await store.records()
  const timeLoads = async (): Promise<number> => {
    const times: number[] = []
    for (let i = 0; i < loads; i++) {
      const doc = new Y.Doc()
      const started = performance.now()
      await withTimeout(store.open(doc), 60_000, 'loading the document')
      times.push(performance.now() - started)
      const length = doc.getText('text').length
      await store.close()
      doc.destroy()
      if (length !== expectedLength) throw new Error(`${ctx.subject}: loaded ${length} characters, expected ${expectedLength}`)
      await sleep(50)
    }
    return median(times)
  }
  const busyMs = await timeLoads()
  await store.compact()
  const settledRecords = await store.records()
  const settledMs = await timeLoads()
  return { busyMs, settledMs, busyRecords, settledRecords, writeMs }
}

interface StoreUnderTest {
  /** Feeds the document's updates through the store's normal write path; resolves once they are committed and the store is closed. */
  write(updates: Uint8Array[]): Promise<void>
  /** Opens the store for `doc` and resolves once the stored document is in it. */
  open(doc: Y.Doc): Promise<void>
  close(): Promise<void>
  /** Runs the store's own compaction. */
  compact(): Promise<void>
  /** Records stored for the document (snapshot and updates). */
  records(): Promise<number>
}

const DOC_NAME = 'cold-load'
/** Updates fed between two turns of the event loop. */
const UPDATES_PER_TURN = 10
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function meridianStore(): Promise<StoreUnderTest> {
  const { MeridianProvider } = await import('@meridian/client')
  const { openIdbClientStore } = await import('@meridian/client/store')
  const dbName = 'meridian-bench'
  let open: { provider: InstanceType<typeof MeridianProvider>; store: Awaited<ReturnType<typeof openIdbClientStore>> } | null = null
  const close = async (): Promise<void> => {
    if (open === null) return
    await open.provider.destroy()
    await open.store.close()
    open = null
  }
  const load = async (doc: Y.Doc): Promise<InstanceType<typeof MeridianProvider>> => {
    const store = await openIdbClientStore({ dbName })
    // No relay URL: local only. The store instance is ours, so the provider leaves it open.
    const provider = new MeridianProvider({ doc, docName: DOC_NAME, store })
    open = { provider, store }
    await provider.whenLoaded
    return provider
  }
  return {
    async write(updates) {
      const doc = new Y.Doc()
      const provider = await load(doc)
      // Origin = the provider: the provider stores these as updates that came from a relay (no outbox copies).
      for (let i = 0; i < updates.length; i++) {
        Y.applyUpdate(doc, updates[i]!, provider)
        if (i % UPDATES_PER_TURN === UPDATES_PER_TURN - 1) await turn()
      }
      await provider.whenPersisted()
      await close()
      doc.destroy()
    },
    async open(doc) {
      await load(doc)
    },
    close,
    async compact() {
      const store = await openIdbClientStore({ dbName })
      await store.compact(DOC_NAME)
      await store.close()
    },
    async records() {
      const store = await openIdbClientStore({ dbName })
      const stored = await store.load(DOC_NAME)
      await store.close()
      return stored.updates.length + (stored.snapshot !== null ? 1 : 0)
    }
  }
}

async function yIndexeddb(): Promise<StoreUnderTest> {
  const { IndexeddbPersistence, storeState } = await import('y-indexeddb')
  let open: InstanceType<typeof IndexeddbPersistence> | null = null
  const close = async (): Promise<void> => {
    if (open === null) return
    await open.destroy()
    open = null
  }
  const load = async (doc: Y.Doc): Promise<InstanceType<typeof IndexeddbPersistence>> => {
    const persistence = new IndexeddbPersistence(DOC_NAME, doc)
    open = persistence
    await persistence.whenSynced
    return persistence
  }
  /** Resolves once every write issued so far on the updates store has committed. */
  const committed = (persistence: InstanceType<typeof IndexeddbPersistence>): Promise<void> =>
    new Promise((resolve, reject) => {
      const db = persistence.db
      if (db === null) return resolve()
      const tx = db.transaction(['updates'], 'readonly')
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error ?? new Error('transaction failed'))
    })
  const count = (persistence: InstanceType<typeof IndexeddbPersistence>): Promise<number> =>
    new Promise((resolve, reject) => {
      const db = persistence.db
      if (db === null) return resolve(0)
      const request = db.transaction(['updates'], 'readonly').objectStore('updates').count()
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error ?? new Error('count failed'))
    })
  return {
    async write(updates) {
      const doc = new Y.Doc()
      const persistence = await load(doc)
      for (let i = 0; i < updates.length; i++) {
        Y.applyUpdate(doc, updates[i]!)
        if (i % UPDATES_PER_TURN === UPDATES_PER_TURN - 1) await turn()
      }
      await committed(persistence)
      // Closing now cancels the trim y-indexeddb schedules one second after the last update.
      await close()
      doc.destroy()
    },
    async open(doc) {
      await load(doc)
    },
    close,
    async compact() {
      const doc = new Y.Doc()
      const persistence = await load(doc)
      // What y-indexeddb's own debounced trim runs: merge everything into one record, delete the rest.
      await storeState(persistence, true)
      for (let i = 0; i < 500 && (await count(persistence)) > 1; i++) await sleep(10)
      await close()
      doc.destroy()
    },
    async records() {
      const doc = new Y.Doc()
      const persistence = new IndexeddbPersistence(DOC_NAME, doc)
      // Counting before the load adds its own (empty) record.
      const db = await persistence._db
      const n = await new Promise<number>((resolve, reject) => {
        const request = db.transaction(['updates'], 'readonly').objectStore('updates').count()
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error ?? new Error('count failed'))
      })
      await persistence.whenSynced
      await persistence.destroy()
      doc.destroy()
      return n
    }
  }
}

export const coldLoad: Scenario = {
  name: 'cold-load',
  title: 'Cold load (client)',
  method:
    'The 100k-operation document is written into each store through its own write path as the 1,000 updates its editing produced (10 per event-loop turn, as an open app would receive them), ' +
    'then opened 3 times in a fresh Y.Doc: time from opening the store until the document is in memory (median), on fake-indexeddb in Node. ' +
    '"Closed right after editing": each store as it was once its last write committed (Meridian compacts every 200 records; y-indexeddb trims only after 500 records and one second without updates, so it had not). ' +
    '"After compaction": each store\'s own compaction ran first (its best case).',
  subjects: ['meridian-store', 'y-indexeddb'],
  configs: [{ id: '100k', label: '100k-op document, 1,000 stored updates', params: { loads: 3 }, quick: { loads: 1 } }],
  metrics: [
    { key: 'busyMs', label: 'load, closed right after editing', unit: 'ms', better: 'lower', digits: 0, shown: true },
    { key: 'settledMs', label: 'load, after compaction', unit: 'ms', better: 'lower', digits: 0, shown: true },
    { key: 'busyRecords', label: 'records, closed right after editing', unit: '', better: 'lower', digits: 0, shown: true, noRatio: true },
    { key: 'settledRecords', label: 'records, after compaction', unit: '', better: 'lower', digits: 0 },
    { key: 'writeMs', label: 'writing the 1,000 updates', unit: 'ms', better: 'lower', digits: 0 }
  ],
  usesLargeDoc: true,
  run: runColdLoad
}
