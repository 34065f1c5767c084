import WebSocket from 'ws'
import * as Y from 'yjs'
import { MeridianProvider, type MeridianProviderOptions, type WebSocketConstructor } from '@meridian/client'
import { MemoryClientStore, openIdbClientStore } from '@meridian/client/store'
import { FULL_SDK } from '../full-sdk.js'

/** Node's `ws` as the SDK's WebSocket (Node 20 has no global one). */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor

/** Reconnect fast: tests wait for reconnects, and a partition heals in milliseconds. */
export const TEST_BACKOFF = { initialDelayMs: 20, maxDelayMs: 200, stableAfterMs: 500 } as const

export interface TestClientOptions extends Partial<MeridianProviderOptions> {
  /**
   * An IndexedDB factory (e.g. fake-indexeddb's `new IDBFactory()`: one
   * "browser profile"; share it to reopen the same store). Needs the IndexedDB
   * classes as globals (`import 'fake-indexeddb/auto'`). Default: a fresh
   * in-memory store, unless `store` is given.
   */
  indexedDB?: IDBFactory
}

export interface TestClient {
  provider: MeridianProvider
  doc: Y.Doc
  /** The factory passed in, if any. */
  indexedDB: IDBFactory | undefined
  /** Every `error` event as `CODE: message`. */
  errors: string[]
}

/**
 * A MeridianProvider for tests in Node: `ws`, fast backoff, an in-memory store unless told otherwise,
 * and the whole SDK (the policy engine and the delete-set digest).
 */
export function createTestClient(docName: string, options: TestClientOptions = {}): TestClient {
  const { indexedDB, ...rest } = options
  const doc = rest.doc ?? new Y.Doc()
  const store = indexedDB !== undefined ? () => openIdbClientStore({ indexedDB }) : rest.store ?? new MemoryClientStore()
  const provider = new MeridianProvider({ ...FULL_SDK, WebSocket: NodeWebSocket, backoff: TEST_BACKOFF, ...rest, store, doc, docName })
  const errors: string[] = []
  provider.on('error', (e) => errors.push(`${e.code}: ${e.message}`))
  return { provider, doc, indexedDB, errors }
}
