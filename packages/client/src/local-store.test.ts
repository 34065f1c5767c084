// `indexedDbStore()` uses IndexedDB on the global factory: fake-indexeddb's here.
import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MeridianProvider, type ClientAppendEntry, type ClientAppendResult, type ClientStore, type MeridianError, type PersistenceState } from './index.js'
import { ClientStoreError, MemoryClientStore, indexedDbStore, isClientStoreError } from './store.js'

/** A memory store whose operations can be made to fail like IndexedDB does. */
class FlakyStore extends MemoryClientStore {
  failAppend: ClientStoreError | null = null
  failAcknowledge: ClientStoreError | null = null
  failLoad: ClientStoreError | null = null
  appendCalls = 0

  override async load(docName: string): ReturnType<ClientStore['load']> {
    if (this.failLoad !== null) throw this.failLoad
    return super.load(docName)
  }

  override async append(docName: string, entries: readonly ClientAppendEntry[]): Promise<ClientAppendResult> {
    this.appendCalls++
    if (this.failAppend !== null) throw this.failAppend
    return super.append(docName, entries)
  }

  override async acknowledge(docName: string, keys: readonly number[]): Promise<void> {
    if (this.failAcknowledge !== null) throw this.failAcknowledge
    return super.acknowledge(docName, keys)
  }
}

interface Observed {
  provider: MeridianProvider
  doc: Y.Doc
  errors: MeridianError[]
  states: PersistenceState[]
}

const providers: MeridianProvider[] = []
afterEach(async () => {
  for (const p of providers.splice(0)) await p.destroy()
})

function observe(options: { docName: string; store?: ClientStore | (() => Promise<ClientStore>) }): Observed {
  const doc = new Y.Doc()
  const provider = new MeridianProvider({ doc, docName: options.docName, store: options.store ?? indexedDbStore(), crossTab: false })
  providers.push(provider)
  const errors: MeridianError[] = []
  const states: PersistenceState[] = []
  provider.on('error', (e) => errors.push(e))
  provider.on('persistence', ({ state }) => states.push(state))
  return { provider, doc, errors, states }
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

describe('persistence state: the document keeps working in memory and says so', () => {
  it('is ok while the store works', async () => {
    const { provider, doc, errors, states } = observe({ docName: 'fine', store: new FlakyStore() })
    await provider.whenLoaded
    doc.getText('t').insert(0, 'x')
    await provider.whenPersisted()
    expect(provider.persistence).toBe('ok')
    expect(provider.persistenceError).toBeNull()
    expect([errors, states]).toEqual([[], []])
  })

  it('a quota error on write: ERR_PERSISTENCE with the store error as cause, then memory-only for good', async () => {
    const store = new FlakyStore()
    const { provider, doc, errors, states } = observe({ docName: 'quota', store })
    await provider.whenLoaded
    doc.getText('t').insert(0, 'saved ')
    await provider.whenPersisted()

    store.failAppend = new ClientStoreError('ERR_STORE_QUOTA', 'QuotaExceededError: disk full')
    doc.getText('t').insert(6, 'lost-locally ')
    await provider.whenPersisted()
    expect(errors).toHaveLength(1)
    expect(errors[0]?.code).toBe('ERR_PERSISTENCE')
    expect(isClientStoreError(errors[0]?.cause, 'ERR_STORE_QUOTA')).toBe(true)
    expect(states).toEqual(['memory-only'])
    expect(provider.persistence).toBe('memory-only')
    expect(provider.persistenceError).toBe(errors[0])

    // Later edits: applied, queued for the relay, no longer attempted locally, no error storm.
    const callsBefore = store.appendCalls
    for (let i = 0; i < 5; i++) doc.getText('t').insert(0, 'y')
    await provider.whenPersisted()
    expect(store.appendCalls).toBe(callsBefore)
    expect(doc.getText('t').toString()).toBe('yyyyysaved lost-locally ')
    expect(provider.pendingCount).toBe(7)
    expect(errors).toHaveLength(1)
    expect(states).toEqual(['memory-only'])
  })

  it('the database closed under us (another tab upgrades it): memory-only at once, edits keep working', async () => {
    const { provider, doc, errors, states } = observe({ docName: 'upgraded' }) // indexedDbStore()
    await provider.whenLoaded
    doc.getMap('m').set('before', 1)
    await provider.whenPersisted()
    expect(provider.persistence).toBe('ok')

    // A newer version of the app in another tab opens the database with a higher version.
    const other = await request(indexedDB.open('meridian', 2))
    expect(states).toEqual(['memory-only'])
    expect(errors.map((e) => e.code)).toEqual(['ERR_PERSISTENCE'])
    expect(isClientStoreError(errors[0]?.cause, 'ERR_STORE_CLOSED')).toBe(true)

    doc.getMap('m').set('after', 2)
    await provider.whenPersisted()
    expect(doc.getMap('m').toJSON()).toEqual({ before: 1, after: 2 })
    expect(provider.pendingCount).toBe(2)
    expect(errors).toHaveLength(1)
    // What was committed before the close is in the database.
    const count = await request(other.transaction('updates').objectStore('updates').count())
    expect(count).toBe(1)
    other.close()
    await request(indexedDB.deleteDatabase('meridian'))
  })

  it('a store that cannot be opened (blocked): memory-only from the start, the document loads and works', async () => {
    const { provider, doc, errors, states } = observe({
      docName: 'blocked',
      store: () => Promise.reject(new ClientStoreError('ERR_STORE_BLOCKED', 'blocked by another connection'))
    })
    await provider.whenLoaded
    expect(provider.loaded).toBe(true)
    expect(provider.persistence).toBe('memory-only')
    expect(states).toEqual(['memory-only'])
    expect(isClientStoreError(errors[0]?.cause, 'ERR_STORE_BLOCKED')).toBe(true)
    doc.getText('t').insert(0, 'still editable')
    await provider.whenPersisted()
    expect(provider.pendingCount).toBe(1)
  })

  it('a failed load: memory-only, nothing written over the unreadable store', async () => {
    const store = new FlakyStore()
    store.failLoad = new ClientStoreError('ERR_STORE_IO', 'record 7 is corrupt')
    const { provider, doc, states, errors } = observe({ docName: 'corrupt', store })
    await provider.whenLoaded
    expect(states).toEqual(['memory-only'])
    expect(isClientStoreError(errors[0]?.cause, 'ERR_STORE_IO')).toBe(true)
    doc.getText('t').insert(0, 'x')
    await provider.whenPersisted()
    expect(store.appendCalls).toBe(0)
  })

  it('a failed acknowledgement loses nothing: reported, but the store stays in use', async () => {
    const store = new FlakyStore()
    store.failAcknowledge = new ClientStoreError('ERR_STORE_IO', 'transient')
    const { provider, errors, states } = observe({ docName: 'ack', store })
    await provider.whenLoaded
    // Reach the private persistence the way an acknowledged round does.
    ;(provider as unknown as { store: { local: { acknowledge(keys: number[]): void } } }).store.local.acknowledge([1])
    await provider.whenPersisted()
    expect(errors.map((e) => e.code)).toEqual(['ERR_PERSISTENCE'])
    expect(states).toEqual([])
    expect(provider.persistence).toBe('ok')
  })
})
