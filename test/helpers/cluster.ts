// idb checks requests with instanceof: the IndexedDB classes must be globals in Node.
import 'fake-indexeddb/auto'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { IDBFactory } from 'fake-indexeddb'
import { MemoryStorageAdapter, type StorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay, type RelayOptions } from '@meridian/relay'
import { MeridianProvider, openIdbClientStore, type MeridianProviderOptions, type WebSocketConstructor } from '@meridian/client'

export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor

export interface TestRelay {
  relay: Relay
  url: string
  storage: StorageAdapter
}

export async function startRelay(options: Partial<RelayOptions> = {}, port = 0): Promise<TestRelay> {
  const storage = options.storage ?? new MemoryStorageAdapter()
  const relay = await buildRelay({ ...options, storage })
  const url = await relay.listen({ port, host: '127.0.0.1' })
  return { relay, url, storage }
}

/** A client with its own fake IndexedDB (one "browser profile"), unless one is passed to share. */
export function createClient(
  docName: string,
  options: Partial<MeridianProviderOptions> & { indexedDB?: IDBFactory } = {}
): { provider: MeridianProvider; doc: Y.Doc; indexedDB: IDBFactory; errors: string[] } {
  const indexedDB = options.indexedDB ?? new IDBFactory()
  const doc = options.doc ?? new Y.Doc()
  const provider = new MeridianProvider({
    WebSocket: NodeWebSocket,
    store: () => openIdbClientStore({ indexedDB }),
    backoff: { initialDelayMs: 20, maxDelayMs: 200, stableAfterMs: 500 },
    ...options,
    doc,
    docName
  })
  const errors: string[] = []
  provider.on('error', (e) => errors.push(`${e.code}: ${e.message}`))
  return { provider, doc, indexedDB, errors }
}

/** The document as the relay's storage holds it. */
export async function storedDoc(storage: StorageAdapter, docName: string): Promise<Y.Doc> {
  const stored = await storage.load(docName)
  const doc = new Y.Doc()
  if (stored?.snapshot) Y.applyUpdate(doc, stored.snapshot)
  for (const u of stored?.updates ?? []) Y.applyUpdate(doc, u.data)
  return doc
}
