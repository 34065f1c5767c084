import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MeridianProvider, isMeridianError, type ClientStore, type MeridianError, type MeridianProviderOptions } from './index.js'
import { MemoryClientStore, indexedDbStore, isClientStoreError } from './store.js'

// No fake-indexeddb here: this file checks what happens where IndexedDB is missing.

describe('the store option (required; stores from @meridian/client/store)', () => {
  it('is required: a missing or null store is an options error naming the entry, before anything starts', () => {
    const doc = new Y.Doc()
    for (const store of [undefined, null, 42]) {
      const options = { doc, docName: 'd', store } as unknown as MeridianProviderOptions
      let thrown: unknown = null
      try {
        new MeridianProvider(options)
      } catch (e) {
        thrown = e
      }
      expect(isMeridianError(thrown) && thrown.code).toBe('ERR_OPTIONS')
      expect((thrown as Error).message).toContain('@meridian/client/store')
    }
  })

  it('indexedDbStore() where there is no IndexedDB: the document works in memory and says why', async () => {
    const doc = new Y.Doc()
    const provider = new MeridianProvider({ doc, docName: 'no-idb', store: indexedDbStore(), connect: false })
    const errors: MeridianError[] = []
    provider.on('error', (e) => errors.push(e))
    await provider.whenLoaded
    expect(provider.persistence).toBe('memory-only')
    expect(provider.persistenceError?.code).toBe('ERR_PERSISTENCE')
    expect(isClientStoreError(provider.persistenceError?.cause, 'ERR_STORE_UNAVAILABLE')).toBe(true)
    doc.getText('t').insert(0, 'still editable')
    await provider.whenPersisted()
    expect(provider.durabilityOf('all')).toBe('pending')
    expect(provider.pendingCount).toBe(1)
    await provider.destroy()
  })

  it('a factory is opened with hooks and closed by the provider; a store instance is the app\'s to close', async () => {
    const opened: MemoryClientStore[] = []
    let hooks: unknown = null
    const factory = async (h: unknown): Promise<ClientStore> => {
      hooks = h
      const store = new MemoryClientStore()
      opened.push(store)
      return store
    }
    const a = new MeridianProvider({ doc: new Y.Doc(), docName: 'f', store: factory, connect: false })
    await a.whenLoaded
    expect(typeof (hooks as { onClose?: unknown }).onClose).toBe('function')
    await a.destroy()
    await expect((opened[0] as MemoryClientStore).load('f')).rejects.toMatchObject({ code: 'ERR_STORE_CLOSED' })

    const own = new MemoryClientStore()
    const b = new MeridianProvider({ doc: new Y.Doc(), docName: 'g', store: own, connect: false })
    b.doc.getText('t').insert(0, 'kept')
    await b.whenPersisted()
    await b.destroy()
    expect((await own.load('g')).pending).toHaveLength(1)
    await own.close()
  })
})
