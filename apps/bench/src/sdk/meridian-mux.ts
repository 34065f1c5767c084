/**
 * The one place the benchmarks touch Meridian's multiplexed client
 * (`MeridianClient` from `@meridian/client/multiplex`): every document over one
 * socket. Kept to this file so an API change is fixed here only.
 */
import type * as Y from 'yjs'
import type { ClientStore, WebSocketConstructor } from '@meridian/client'

/** The part of `@meridian/client/multiplex` the benchmarks use. */
interface MultiplexModule {
  MeridianClient: new (options: {
    urls: string[]
    WebSocket: WebSocketConstructor
    store?: (docName: string) => ClientStore | Promise<ClientStore>
  }) => {
    open(docName: string, options?: { doc?: Y.Doc; subdocs?: { autoLoad?: boolean } }): { whenSynced(): Promise<void> }
    destroy(): Promise<void>
  }
}

/** The entry's specifier, held in a variable: until the entry is built, this file must compile without it. */
const MULTIPLEX_ENTRY: string = '@meridian/client/multiplex'

export interface MeridianMuxOptions {
  url: string
  WebSocket: WebSocketConstructor
  /** One store for every document (documents are keyed inside it); the caller closes it. */
  store: ClientStore
}

export interface MeridianMux {
  /** Opens `docName` into `doc` and resolves once it is synced with the relay. */
  open(docName: string, doc: Y.Doc, options?: { subdocsAutoLoad?: boolean }): Promise<void>
  destroy(): Promise<void>
}

export async function openMeridianMux(options: MeridianMuxOptions): Promise<MeridianMux> {
  const { MeridianClient } = (await import(MULTIPLEX_ENTRY)) as MultiplexModule
  // The client may treat what the factory returns as its own and close it with the document: the shared store stays open.
  const shared = keepOpen(options.store)
  const client = new MeridianClient({ urls: [options.url], WebSocket: options.WebSocket, store: () => shared })
  return {
    open: async (docName, doc, o) => {
      const provider = client.open(docName, o?.subdocsAutoLoad !== undefined ? { doc, subdocs: { autoLoad: o.subdocsAutoLoad } } : { doc })
      await provider.whenSynced()
    },
    destroy: () => client.destroy()
  }
}

/** `store` with a `close` that does nothing. */
function keepOpen(store: ClientStore): ClientStore {
  return {
    load: (docName) => store.load(docName),
    append: (docName, entries) => store.append(docName, entries),
    acknowledge: (docName, keys) => store.acknowledge(docName, keys),
    compact: (docName) => store.compact(docName),
    remove: (docName) => store.remove(docName),
    close: async () => {}
  }
}
