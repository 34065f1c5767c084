/**
 * Each system's own client SDK behind one small interface, for the scenarios
 * that measure a client opening many documents (workspace, subdocs):
 *  - Meridian: `MeridianClient` (one multiplexed socket) with its memory or IndexedDB store;
 *  - y-websocket: a `WebsocketProvider` per document (a socket each), with y-indexeddb or nothing;
 *  - Hocuspocus: a `HocuspocusProvider` per document, all attached to one shared
 *    `HocuspocusProviderWebsocket` (its multiplexing), with y-indexeddb or nothing.
 * IndexedDB is fake-indexeddb in this process (imported by `useFakeIndexedDb`).
 */
import * as Y from 'yjs'
import type { WebSocketConstructor } from '@meridian/client'
import { withTimeout } from '../scenario.js'
import { openMeridianMux } from './meridian-mux.js'
import type { WebSocketClass } from './counting-socket.js'

export type SdkSubject = 'meridian' | 'y-websocket' | 'hocuspocus'

export interface SyncClientOptions {
  url: string
  /** The counting WebSocket class (see counting-socket.ts). */
  WebSocket: WebSocketClass
  /**
   * Where the client keeps documents: `memory` (Meridian's memory store, no
   * y-indexeddb for the peers) or `indexeddb` (Meridian's IndexedDB store,
   * y-indexeddb), in database `dbName`.
   */
  local: 'memory' | 'indexeddb'
  dbName: string
  /** Per document: give up after this long. */
  timeoutMs: number
}

export interface SyncClient {
  /** Opens `docName` into `doc`: loads what the local store holds, then resolves once synced with the server. */
  open(docName: string, doc: Y.Doc, options?: { subdocsAutoLoad?: boolean }): Promise<void>
  destroy(): Promise<void>
}

/** fake-indexeddb's globals (indexedDB, IDBRequest, …), in this process only. */
export async function useFakeIndexedDb(): Promise<void> {
  await import('fake-indexeddb/auto')
}

export async function createSyncClient(subject: SdkSubject, options: SyncClientOptions): Promise<SyncClient> {
  switch (subject) {
    case 'meridian':
      return meridianClient(options)
    case 'y-websocket':
      return yWebsocketClient(options)
    case 'hocuspocus':
      return hocuspocusClient(options)
  }
}

/**
 * Puts documents in the client's local store as that SDK would have stored them
 * after an earlier session (never timed). Meridian: its store's update records
 * (received from a relay, nothing pending); y-indexeddb: its own write path.
 */
export async function prefillLocal(subject: SdkSubject, dbName: string, docs: readonly { docName: string; state: Uint8Array }[]): Promise<void> {
  switch (subject) {
    case 'meridian': {
      const { openIdbClientStore } = await import('@meridian/client/store')
      const store = await openIdbClientStore({ dbName })
      for (const { docName, state } of docs) await store.append(docName, [{ data: state, pending: false }])
      await store.close()
      return
    }
    case 'y-websocket':
    case 'hocuspocus': {
      const { IndexeddbPersistence } = await import('y-indexeddb')
      for (const { docName, state } of docs) {
        const doc = new Y.Doc()
        Y.applyUpdate(doc, state)
        // On load y-indexeddb writes the document's whole state as a record; wait until that has committed.
        const persistence = new IndexeddbPersistence(yIndexeddbName(dbName, docName), doc)
        await persistence.whenSynced
        await committed(persistence.db)
        await persistence.destroy()
        doc.destroy()
      }
      return
    }
  }
}

/** y-indexeddb keeps one database per document, named after it. */
const yIndexeddbName = (dbName: string, docName: string): string => `${dbName}/${docName}`

function committed(db: IDBDatabase | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (db === null) return resolve()
    const tx = db.transaction(['updates'], 'readonly')
    tx.oncomplete = () => resolve()
    tx.onerror = () => reject(tx.error ?? new Error('transaction failed'))
  })
}

async function meridianClient(o: SyncClientOptions): Promise<SyncClient> {
  const { MemoryClientStore, openIdbClientStore } = await import('@meridian/client/store')
  const store = o.local === 'indexeddb' ? await openIdbClientStore({ dbName: o.dbName }) : new MemoryClientStore()
  // `ws` as the SDK's WebSocket, as @meridian/testing's NodeWebSocket does (its handler types are DOM-shaped).
  const mux = openMeridianMux({ url: o.url, WebSocket: o.WebSocket as unknown as WebSocketConstructor, store })
  return {
    open: (docName, doc, options) => withTimeout(mux.open(docName, doc, options), o.timeoutMs, `meridian: ${docName} not synced`),
    destroy: async () => {
      await mux.destroy()
      await store.close()
    }
  }
}

/**
 * With `indexeddb`, y-indexeddb for `doc`, loaded: the peers' apps load the
 * local copy before connecting, as Meridian's client does. Nothing with `memory`.
 */
async function loadYIndexeddb(o: SyncClientOptions, docName: string, doc: Y.Doc): Promise<{ destroy(): Promise<void> }> {
  if (o.local === 'memory') return { destroy: async () => {} }
  const { IndexeddbPersistence } = await import('y-indexeddb')
  const persistence = new IndexeddbPersistence(yIndexeddbName(o.dbName, docName), doc)
  await persistence.whenSynced
  return { destroy: () => persistence.destroy() }
}

async function yWebsocketClient(o: SyncClientOptions): Promise<SyncClient> {
  const { WebsocketProvider } = await import('y-websocket')
  const open: { destroy(): unknown }[] = []
  // Each provider adds a process 'exit' listener in Node; hundreds are expected here.
  process.setMaxListeners(0)
  return {
    open: async (docName, doc) => {
      open.push(await loadYIndexeddb(o, docName, doc))
      // The ws class stands in for the browser's WebSocket (its constructor and event API are what the provider uses).
      const provider = new WebsocketProvider(o.url, docName, doc, {
        WebSocketPolyfill: o.WebSocket as unknown as typeof globalThis.WebSocket,
        disableBc: true
      })
      open.push(provider)
      await withTimeout(
        new Promise<void>((resolve) => provider.on('sync', (synced: boolean) => synced && resolve())),
        o.timeoutMs,
        `y-websocket: ${docName} not synced`
      )
    },
    destroy: async () => {
      for (const p of open.splice(0).reverse()) await p.destroy()
    }
  }
}

async function hocuspocusClient(o: SyncClientOptions): Promise<SyncClient> {
  const { HocuspocusProvider, HocuspocusProviderWebsocket } = await import('@hocuspocus/provider')
  const socket = new HocuspocusProviderWebsocket({ url: o.url, WebSocketPolyfill: o.WebSocket })
  const open: { destroy(): unknown }[] = []
  return {
    open: async (docName, doc) => {
      open.push(await loadYIndexeddb(o, docName, doc))
      const provider = new HocuspocusProvider({ websocketProvider: socket, name: docName, document: doc })
      open.push(provider)
      const synced = new Promise<void>((resolve) => provider.on('synced', () => resolve()))
      // With a shared socket the provider is attached by hand (it connects the socket if needed).
      provider.attach()
      await withTimeout(synced, o.timeoutMs, `hocuspocus: ${docName} not synced`)
    },
    destroy: async () => {
      for (const p of open.splice(0).reverse()) await p.destroy()
      socket.destroy()
    }
  }
}
