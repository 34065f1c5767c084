// Tabs keep their documents in (fake) IndexedDB, as in a browser: its classes must be globals.
import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { IDBFactory } from 'fake-indexeddb'
import { type ClientAppendEntry, type ClientAppendResult, type ClientStore } from '@meridian/client'
import { ClientStoreError, openIdbClientStore } from '@meridian/client/store'
import { createTestClient as createClient, startTestRelay as startRelay, storedDoc, waitUntil } from '@meridian/testing'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('the SDK’s browser-side behaviour against a relay (Node, fake-indexeddb)', () => {
  it('cross-tab: an edit from a tab without a relay connection reaches the relay through a connected tab', async () => {
    const { relay, url, storage } = await startRelay()
    cleanups.push(() => relay.close())
    const indexedDB = new IDBFactory()
    // Two tabs of one origin: one stays offline (no relay URL), the other is connected.
    const offline = createClient('forwarded', { urls: [], indexedDB, crossTab: true })
    const online = createClient('forwarded', { url, indexedDB, crossTab: true })
    cleanups.push(() => offline.provider.destroy(), () => online.provider.destroy())
    await Promise.all([offline.provider.whenLoaded, online.provider.whenSynced({ timeoutMs: 5_000 })])

    offline.doc.getText('t').insert(0, 'typed in the offline tab')
    await waitUntil(async () => (await storedDoc(storage, 'forwarded')).getText('t').toString() === 'typed in the offline tab', 'the relay to store the forwarded edit')
    // The connected tab forwarded it without taking it into its own outbox; the offline tab still waits for its ack.
    expect(online.provider.pendingCount).toBe(0)
    expect(offline.provider.pendingCount).toBe(1)
    expect([...offline.errors, ...online.errors]).toEqual([])
  })

  it('memory-only after a quota error: edits still reach the relay and are acknowledged', async () => {
    const { relay, url, storage } = await startRelay()
    cleanups.push(() => relay.close())
    let full = false
    const idb = await openIdbClientStore({ indexedDB: new IDBFactory() })
    // The store fills up after the first write.
    const store: ClientStore = {
      load: (docName) => idb.load(docName),
      append: (docName: string, entries: readonly ClientAppendEntry[]): Promise<ClientAppendResult> =>
        full ? Promise.reject(new ClientStoreError('ERR_STORE_QUOTA', 'QuotaExceededError')) : idb.append(docName, entries),
      acknowledge: (docName, keys) => idb.acknowledge(docName, keys),
      compact: (docName) => idb.compact(docName),
      remove: (docName) => idb.remove(docName),
      close: () => idb.close()
    }
    const tab = createClient('quota', { url, store })
    cleanups.push(() => tab.provider.destroy().then(() => idb.close()))
    await tab.provider.whenSynced({ timeoutMs: 5_000 })
    tab.doc.getArray('a').push(['stored'])
    await tab.provider.whenPersisted()
    full = true
    tab.doc.getArray('a').push(['memory only'])
    await Promise.all([tab.provider.whenAcknowledged({ timeoutMs: 5_000 }), tab.provider.whenPersisted()])
    expect(tab.provider.persistence).toBe('memory-only')
    expect(tab.errors).toEqual([expect.stringMatching(/^ERR_PERSISTENCE: local storage failed: write failed/)])
    expect((await storedDoc(storage, 'quota')).getArray('a').toJSON()).toEqual(['stored', 'memory only'])
  })

  it('a deliberate disconnect() is not a relay failure: connect() returns to the same relay', async () => {
    const first = await startRelay()
    const second = await startRelay()
    cleanups.push(() => first.relay.close(), () => second.relay.close())
    const tab = createClient('sticky', { urls: [first.url, second.url] })
    cleanups.push(() => tab.provider.destroy())
    await tab.provider.whenSynced({ timeoutMs: 5_000 })
    expect(tab.provider.url).toBe(first.url)
    tab.provider.disconnect()
    expect(tab.provider.status).toBe('disconnected')
    tab.provider.connect()
    await tab.provider.whenSynced({ timeoutMs: 5_000 })
    expect(tab.provider.url).toBe(first.url)
  })

  it('follows the browser: drops the connection on `offline`, reconnects at once on `online`', async () => {
    const browserWindow = new EventTarget()
    vi.stubGlobal('addEventListener', browserWindow.addEventListener.bind(browserWindow))
    vi.stubGlobal('removeEventListener', browserWindow.removeEventListener.bind(browserWindow))
    cleanups.push(async () => {
      vi.unstubAllGlobals()
    })
    const { relay, url } = await startRelay()
    cleanups.push(() => relay.close())
    // A long backoff: without the `online` hint the next attempt would be seconds away.
    const tab = createClient('browser-events', { url, backoff: { initialDelayMs: 20_000, maxDelayMs: 20_000, stableAfterMs: 60_000 } })
    cleanups.push(() => tab.provider.destroy())
    await tab.provider.whenSynced({ timeoutMs: 5_000 })
    browserWindow.dispatchEvent(new Event('offline'))
    expect(tab.provider.status).toBe('disconnected')
    browserWindow.dispatchEvent(new Event('online'))
    await tab.provider.whenSynced({ timeoutMs: 2_000 })
    expect(tab.provider.status).toBe('connected')
  })
})
