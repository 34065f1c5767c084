/**
 * The one place the benchmarks touch Meridian's multiplexed client
 * (`MeridianClient` from `@meridian/client/multiplex`): every document over one
 * socket. Kept to this file so an API change is fixed here only.
 */
import type * as Y from 'yjs'
import type { ClientStore, WebSocketConstructor } from '@meridian/client'
import { MeridianClient } from '@meridian/client/multiplex'

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

/** A `MeridianClient` with the SDK's defaults (no presence, policy engine or delete digest: each is opt-in). */
export function openMeridianMux(options: MeridianMuxOptions): MeridianMux {
  const client = new MeridianClient({ urls: [options.url], WebSocket: options.WebSocket, store: options.store })
  return {
    open: async (docName, doc, o) => {
      const provider = client.open(docName, o?.subdocsAutoLoad !== undefined ? { doc, subdocs: { autoLoad: o.subdocsAutoLoad } } : { doc })
      await provider.whenSynced()
    },
    destroy: () => client.destroy()
  }
}
