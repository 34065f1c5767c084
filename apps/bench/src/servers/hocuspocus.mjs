// @hocuspocus/server v3 with its defaults (no extensions: documents live in memory).
// `--memory-store`: documents outlive their last connection in an in-memory store (a Map
// behind onStoreDocument/onLoadDocument, what @hocuspocus/extension-database does with a
// database). Without a store Hocuspocus drops a document once its last client leaves, so
// scenarios that seed documents before a client opens them need it.
import { Server } from '@hocuspocus/server'
import * as Y from 'yjs'

const extensions = []
if (process.argv.includes('--memory-store')) {
  /** @type {Map<string, Uint8Array>} */
  const stored = new Map()
  extensions.push({
    async onLoadDocument({ documentName, document }) {
      const state = stored.get(documentName)
      if (state !== undefined) Y.applyUpdate(document, state)
    },
    async onStoreDocument({ documentName, document }) {
      stored.set(documentName, Y.encodeStateAsUpdate(document))
    }
  })
}

const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false, extensions })
await server.listen()
process.stdout.write(`@hocuspocus/server listening on ws://127.0.0.1:${server.address.port}\n`)
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
