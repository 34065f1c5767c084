import * as Y from 'yjs'
import { RawClient } from './raw-client.js'
import { pool } from './scenario.js'
import type { ServerTarget } from './servers.js'

export interface SeedDoc {
  docName: string
  /** The document as one update. */
  state: Uint8Array
  /** Checks a copy read back from the server; returns what is wrong, or null. */
  check: (doc: Y.Doc) => string | null
}

/** Documents seeded at a time. */
const SEED_CONCURRENCY = 50

/**
 * Puts documents on a server before a measurement (never counted): a raw
 * client holding each document syncs it up and disconnects; then a second
 * pass reads every document back into an empty Y.Doc and checks it, so a
 * measurement never starts against a server that lost or has not yet
 * applied a document.
 */
export async function seedServer(server: ServerTarget, docs: readonly SeedDoc[]): Promise<void> {
  await pool(docs.length, SEED_CONCURRENCY, async (i) => {
    const { docName, state } = docs[i]!
    const doc = new Y.Doc()
    Y.applyUpdate(doc, state)
    const client = new RawClient({ url: server.url, docName, flavor: server.flavor, doc, nodeId: 'bench-seed' })
    try {
      await client.connect()
      await client.whenSynced(60_000)
    } finally {
      await client.close()
      doc.destroy()
    }
  })
  await pool(docs.length, SEED_CONCURRENCY, async (i) => {
    const { docName, check } = docs[i]!
    const doc = new Y.Doc()
    const client = new RawClient({ url: server.url, docName, flavor: server.flavor, doc, nodeId: 'bench-check' })
    try {
      await client.connect()
      await client.whenSynced(60_000)
      const wrong = check(doc)
      if (wrong !== null) throw new Error(`seeding ${server.name}: ${docName} read back wrong: ${wrong}`)
    } finally {
      await client.close()
      doc.destroy()
    }
  })
}

/** A check that the document's Y.Text `text` reads `expected`. */
export const textIs =
  (expected: string) =>
  (doc: Y.Doc): string | null => {
    const got = doc.getText('text').toString()
    return got === expected ? null : `${got.length} characters, expected ${expected.length}`
  }
