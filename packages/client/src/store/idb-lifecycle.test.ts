import * as fake from 'fake-indexeddb'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ClientStoreError } from './errors.js'
import { openIdbClientStore } from './idb-store.js'
import { sampleUpdates } from './store-conformance.js'

const IDB_CLASSES = ['IDBRequest', 'IDBOpenDBRequest', 'IDBTransaction', 'IDBDatabase', 'IDBObjectStore', 'IDBIndex', 'IDBCursor', 'IDBCursorWithValue', 'IDBKeyRange'] as const
const stubIdbClasses = (): void => {
  for (const name of IDB_CLASSES) vi.stubGlobal(name, fake[name])
}
stubIdbClasses()

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

/** A factory whose connections the test can reach, to force-close them like a browser would. */
function spiedFactory(): { factory: IDBFactory; connections: IDBDatabase[] } {
  const factory = new fake.IDBFactory()
  const connections: IDBDatabase[] = []
  const open = factory.open.bind(factory)
  factory.open = (name: string, version?: number) => {
    const req = open(name, version)
    req.addEventListener('success', () => connections.push(req.result))
    return req
  }
  return { factory, connections }
}

const entries = (count: number, pending = true) => sampleUpdates(count).map((data) => ({ data, pending }))
const closedCode = { code: 'ERR_STORE_CLOSED' }

describe('IdbClientStore lifecycle', () => {
  afterEach(() => {
    vi.restoreAllMocks()
    stubIdbClasses()
  })

  it('closes itself when another connection upgrades, after letting running work commit', async () => {
    const factory = new fake.IDBFactory()
    const onClose = vi.fn<(error: ClientStoreError) => void>()
    const store = await openIdbClientStore({ indexedDB: factory, dbName: 'app', onClose })
    const inflight = store.append('doc', entries(3))

    // Another tab with a newer schema: this must not be blocked by us.
    const upgraded = await request(factory.open('app', 2))
    expect(upgraded.version).toBe(2)
    await expect(inflight).resolves.toMatchObject({ updateCount: 3 })
    expect(await request(upgraded.transaction('updates').objectStore('updates').count())).toBe(3)
    upgraded.close()

    expect(onClose).toHaveBeenCalledTimes(1)
    expect(onClose.mock.calls[0]?.[0]).toMatchObject({ name: 'ClientStoreError', code: 'ERR_STORE_CLOSED' })
    expect(store.closed).toBe(true)
    await expect(store.load('doc')).rejects.toMatchObject(closedCode)
    await expect(store.append('doc', entries(1))).rejects.toMatchObject(closedCode)
    await store.close()
    expect(onClose).toHaveBeenCalledTimes(1)
  })

  it('closes itself when another connection deletes the database', async () => {
    const factory = new fake.IDBFactory()
    const onClose = vi.fn()
    const store = await openIdbClientStore({ indexedDB: factory, dbName: 'app', onClose })
    await request(factory.deleteDatabase('app'))
    expect(onClose).toHaveBeenCalledTimes(1)
    await expect(store.compact('doc')).rejects.toMatchObject(closedCode)
  })

  it('reports a close forced by the browser', async () => {
    const { factory, connections } = spiedFactory()
    const onClose = vi.fn<(error: ClientStoreError) => void>()
    const store = await openIdbClientStore({ indexedDB: factory, dbName: 'app', onClose })
    const connection = connections[0]
    if (connection === undefined) throw new Error('no connection captured')
    // fake-indexeddb declares the parameter as the class, but it takes a connection.
    fake.forceCloseDatabase(connection as unknown as Parameters<typeof fake.forceCloseDatabase>[0])
    await vi.waitFor(() => expect(onClose).toHaveBeenCalledTimes(1))
    expect(onClose.mock.calls[0]?.[0].code).toBe('ERR_STORE_CLOSED')
    await expect(store.load('doc')).rejects.toMatchObject(closedCode)
  })

  it('does not call onClose for close()', async () => {
    const onClose = vi.fn()
    const store = await openIdbClientStore({ indexedDB: new fake.IDBFactory(), onClose })
    expect(store.dbName).toBe('meridian')
    await store.close()
    expect(onClose).not.toHaveBeenCalled()
  })

  it('rejects with ERR_STORE_BLOCKED instead of hanging when the open cannot proceed', async () => {
    const factory = new fake.IDBFactory()
    await (await openIdbClientStore({ indexedDB: factory, dbName: 'app' })).close()
    // An old tab that ignores versionchange, and a new tab's upgrade stuck behind it.
    const stubborn = await request(factory.open('app', 1))
    const upgrade = factory.open('app', 2)
    const upgraded = request(upgrade)
    const started = Date.now()
    await expect(openIdbClientStore({ indexedDB: factory, dbName: 'app', openTimeoutMs: 100 })).rejects.toMatchObject({
      code: 'ERR_STORE_BLOCKED'
    })
    expect(Date.now() - started).toBeLessThan(5_000)
    // Unblocking later: the late request settles quietly (here with a VersionError nobody waits for).
    stubborn.close()
    ;(await upgraded).close()
  })

  it('rejects with ERR_STORE_UNAVAILABLE without IndexedDB', async () => {
    expect('indexedDB' in globalThis).toBe(false)
    await expect(openIdbClientStore()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })

    const throwing = new fake.IDBFactory()
    throwing.open = () => {
      throw new DOMException('storage disabled', 'SecurityError')
    }
    await expect(openIdbClientStore({ indexedDB: throwing })).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })

    vi.stubGlobal('IDBRequest', undefined)
    await expect(openIdbClientStore({ indexedDB: new fake.IDBFactory() })).rejects.toThrow(/IDBRequest/)
  })

  it('maps a quota failure while committing to ERR_STORE_QUOTA and stores nothing of the batch', async () => {
    const store = await openIdbClientStore({ indexedDB: new fake.IDBFactory() })
    await store.append('doc', entries(2))
    const before = await store.load('doc')

    // Test-only: the third `updates` add of the batch fails the way a full disk does, as a
    // failed request that aborts the transaction. Uses fake-indexeddb's internal request queue.
    let adds = 0
    const add = fake.IDBObjectStore.prototype.add
    vi.spyOn(fake.IDBObjectStore.prototype, 'add').mockImplementation(function (this: IDBObjectStore, ...args) {
      if (this.name === 'updates' && ++adds === 3) {
        const tx = this.transaction as unknown as { _execRequestAsync(request: { operation: () => never; source: unknown }): IDBRequest }
        return tx._execRequestAsync({ operation: () => { throw new DOMException('quota exceeded', 'QuotaExceededError') }, source: this })
      }
      return add.apply(this, args)
    })
    await expect(store.append('doc', entries(5))).rejects.toMatchObject({ code: 'ERR_STORE_QUOTA' })
    vi.mocked(fake.IDBObjectStore.prototype.add).mockRestore()
    expect(await store.load('doc')).toEqual(before)
    await store.close()
  })

  it('a request that throws synchronously mid-batch aborts the whole batch', async () => {
    const store = await openIdbClientStore({ indexedDB: new fake.IDBFactory() })
    let adds = 0
    const add = fake.IDBObjectStore.prototype.add
    vi.spyOn(fake.IDBObjectStore.prototype, 'add').mockImplementation(function (this: IDBObjectStore, ...args) {
      if (this.name === 'pending' && ++adds === 2) throw new DOMException('quota exceeded', 'QuotaExceededError')
      return add.apply(this, args)
    })
    await expect(store.append('doc', entries(4))).rejects.toMatchObject({ code: 'ERR_STORE_QUOTA' })
    vi.mocked(fake.IDBObjectStore.prototype.add).mockRestore()
    expect(await store.load('doc')).toEqual({ snapshot: null, updates: [], pending: [] })
    await store.close()
  })
})
