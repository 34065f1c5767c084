import * as Y from 'yjs'
import type { Clock } from '@meridian/base'
import type { Ledger } from './ledger.js'
import type { LocalStore } from './local-store.js'
import type { ClientStoredDocument } from './store/types.js'
import type { WriteGate } from './write-gate.js'

/** Origin of transactions replaying the local store (neither stored again nor sent as new writes). */
export const STORE_ORIGIN = Symbol('meridian-store')

export interface LocalWritesOptions {
  doc: Y.Doc
  ledger: Ledger
  gate: WriteGate
  store: LocalStore
  clock: Clock
  /** Resolves once the store is open (a write made while it loads waits for it). */
  loaded: () => Promise<void>
}

/**
 * The path of a local write and back: numbered in the ledger, through the write
 * gate (sent live, or held back for its size), into the local store's pending
 * list — sending never waits for the store; once the relay acknowledges it, out
 * of both.
 */
export class LocalWrites {
  constructor(private readonly o: LocalWritesOptions) {}

  /** A local edit the doc emitted, made with Yjs client id `client`. Returns whether to send it live. */
  record(update: Uint8Array, client: number): boolean {
    const { ledger, store } = this.o
    const entry = ledger.add(update, this.o.clock.now())
    const send = this.o.gate.admit(entry, client)
    const persisted = store.local !== null ? store.local.write(update, true) : this.o.loaded().then(() => store.local?.write(update, true) ?? null)
    void persisted.then((key) => {
      entry.key = key
      ledger.markLocal(entry.seq, key !== null)
      // Acknowledged before the local write committed: drop it from the store's pending list now.
      if (key !== null && entry.acked) store.local?.acknowledge([key])
    })
    return send
  }

  /** The stored document into the doc, and its pending list back in the ledger (already local; held back if too large). */
  restore(stored: ClientStoredDocument): void {
    Y.transact(this.o.doc, () => {
      if (stored.snapshot !== null) Y.applyUpdate(this.o.doc, stored.snapshot, STORE_ORIGIN)
      for (const u of stored.updates) Y.applyUpdate(this.o.doc, u.data, STORE_ORIGIN)
    }, STORE_ORIGIN)
    for (const p of stored.pending) this.o.gate.admitRestored(this.o.ledger.add(p.data, this.o.clock.now(), { key: p.key }))
  }

  /** The relay committed every write up to `seq`. Returns whether any left the pending list. */
  acknowledge(seq: number): boolean {
    const done = this.o.ledger.acknowledge(seq)
    if (done.length > 0) this.o.store.local?.acknowledge(done.flatMap((e) => (e.key !== null ? [e.key] : [])))
    return done.length > 0
  }
}
