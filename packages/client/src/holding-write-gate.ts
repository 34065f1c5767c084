import * as Y from 'yjs'
import { CLOSE_INVALID_UPDATE } from '@meridian/protocol'
import { MeridianError } from './errors.js'
import type { LedgerEntry } from './ledger.js'
import { RefusedWrites } from './withheld-writes.js'
import { BasicWriteGate, FRAME_OVERHEAD_BYTES, SIZE_REFUSALS, WRITE_REFUSALS, type HoldRefusedWrites, type RefusalReason, type RefusedWrite } from './write-gate.js'

/**
 * Decides which local writes go to the relay, holding back what it cannot take
 * (`holdRefusedWrites` from `@meridian/client/refused-writes`). A write too large
 * for one frame (or refused by the relay for its size) is held back with one
 * ERR_WRITE_TOO_LARGE error naming it (`seq`, `bytes`); the document keeps it and
 * stays usable, later writes still sync, and nothing resends it until the app
 * drops it (`drop`). It never stops syncing (unlike BasicWriteGate).
 */
export class HoldingWriteGate extends BasicWriteGate {
  readonly refused = new RefusedWrites()
  /** While `drop` deletes a refused write's content: that deletion goes out in a catch-up diff, not live. */
  private dropping = false

  /** An update the relay lacks that is too large for one frame (not one write's fault): reported, the link stays. */
  override frameTooLarge(bytes: number): void {
    this.o.onError(new MeridianError('ERR_WRITE_TOO_LARGE', `the update the relay lacks is ${bytes} bytes, over maxFrameBytes ${this.o.maxFrameBytes}: not sent (no single write is to blame; see provider.refusedWrites)`, { bytes }))
  }

  /**
   * A local write entered the ledger; `client` is the Yjs client id it was made
   * with. Returns whether to send it live.
   */
  override admit(entry: LedgerEntry, client: number): boolean {
    if (this.dropping) return false
    if (entry.data.byteLength + FRAME_OVERHEAD_BYTES > this.o.maxFrameBytes) {
      return !this.hold(entry, client, 'frame-too-large', null)
    }
    const dependsOn = this.refused.dependencyOf(entry.data)
    return dependsOn === null || !this.hold(entry, client, 'depends-on-refused', dependsOn)
  }

  /** A write restored from the local store (already local; an earlier session's client id): held back if too large. */
  override admitRestored(entry: LedgerEntry): void {
    if (entry.data.byteLength + FRAME_OVERHEAD_BYTES <= this.o.maxFrameBytes) return
    const client = ownClientOf(entry.data, this.o.doc.clientID)
    if (client !== null) this.hold(entry, client, 'frame-too-large', null)
  }

  /** The relay closed the connection: a refusal for size or for what a write does holds the culprit back; syncing goes on. */
  override relayClosed(code: number | null, reason: string): null {
    if (code === null) return null
    if (SIZE_REFUSALS[code] !== undefined) this.relayRefused(code)
    else if (code === CLOSE_INVALID_UPDATE && WRITE_REFUSALS.has(reason)) this.writeRefused(reason)
    return null
  }

  /**
   * The relay refused a write for what it does (`relayCode`): every unacknowledged
   * write that deletes something is held back (its structs and its deletes), with
   * one ERR_WRITE_REFUSED each. With none (the refused deletes are only in the
   * local copy, e.g. a dropped write after a reload), every delete the document
   * holds now is withheld, with one ERR_WRITE_REFUSED: either way the reconnection
   * does not send them again.
   */
  writeRefused(relayCode: string): void {
    const candidates = this.o.ledger.unacknowledged().filter((e) => !this.refused.has(e.seq) && Y.decodeUpdate(e.data).ds.clients.size > 0)
    let held = false
    for (const e of candidates) {
      if (this.hold(e, ownClientOf(e.data, this.o.doc.clientID) ?? this.o.doc.clientID, 'write-refused', null, undefined, relayCode)) held = true
    }
    if (held) return
    this.refused.withholdAllDeletes(this.o.doc)
    this.o.onError(new MeridianError('ERR_WRITE_REFUSED', `deletes held back: the relay refuses them (${relayCode})`, { relayCode }))
  }

  /**
   * The relay closed the connection refusing something we sent for its size
   * (`code` 1009 or 4413): the largest write it had not acknowledged is the
   * culprit. Returns false when there is none to blame.
   */
  relayRefused(code: number): boolean {
    const candidates = this.o.ledger.unacknowledged().filter((e) => !this.refused.has(e.seq))
    const culprit = candidates.reduce<LedgerEntry | null>((a, e) => (a === null || e.data.byteLength > a.data.byteLength ? e : a), null)
    if (culprit === null) return false
    const client = ownClientOf(culprit.data, this.o.doc.clientID)
    if (client === null || !this.hold(culprit, client, 'relay-refused', null, code)) return false
    // Later writes of the same client sit behind the withheld clocks: hold them as well.
    for (const e of candidates) {
      if (e.seq > culprit.seq && Y.parseUpdateMeta(e.data).to.has(client)) this.hold(e, client, 'depends-on-refused', culprit.seq)
    }
    return true
  }

  /**
   * What a relay at `stateVector` lacks of ours, without the withheld writes.
   * `digest`: the relay checks older deletes by digest (FEATURE_DS_DIGEST): only our
   * pending writes' deletes of structs it holds go with it.
   */
  override encodeDiff(stateVector: Uint8Array, digest: boolean): Uint8Array {
    const exchange = digest ? this.o.digest : null
    return this.refused.encodeDiff(this.o.doc, stateVector, exchange, () => this.pendingDeletes(exchange), () => this.o.ledger.unacknowledged())
  }

  /** `update` (deletes only) without the withheld deletes; null if nothing is left. */
  override sendableDeletes(update: Uint8Array): Uint8Array | null {
    return this.refused.sendableDeletes(update)
  }

  override list(): RefusedWrite[] {
    return this.refused.list()
  }

  /**
   * Removes a refused write's content from the document (a local deletion; Yjs
   * keeps only the length of deleted content, so it then fits any frame) and
   * releases it and the writes held because of it. Returns their seqs; the caller
   * sends what the relay lacks. Throws ERR_OPTIONS for a seq that is not refused.
   */
  override drop(seq: number, coveredBySeq: () => number): number[] {
    const range = this.refused.rangeOf(seq)
    if (range === null) return super.drop(seq)
    const doc = this.o.doc
    const released = this.refused.release(seq)
    this.dropping = true
    try {
      Y.transact(doc, (tr) => {
        // Split at the write's bounds first: Yjs may have merged its items with a neighbour's.
        let clock = range.from
        while (clock < range.to) {
          const item = Y.getItemCleanStart(tr, Y.createID(range.client, clock))
          if (item.id.clock + item.length > range.to) Y.getItemCleanEnd(tr, doc.store, Y.createID(range.client, range.to - 1))
          if (!item.deleted) item.delete(tr)
          clock = item.id.clock + item.length
        }
      })
    } finally {
      this.dropping = false
    }
    // The deletion is a new ledger entry, newer than every released write: the diff that carries it covers them.
    for (const s of released) this.o.ledger.release(s, coveredBySeq())
    return released
  }

  private hold(entry: LedgerEntry, client: number, reason: RefusalReason, dependsOn: number | null, code?: number, relayCode?: string): boolean {
    const write = this.refused.refuse(entry.seq, entry.data, client, reason, dependsOn)
    if (write === null) return false
    this.o.ledger.hold(entry.seq)
    // Later writes must not sit behind the withheld clocks: give the document a fresh client id.
    if (this.o.doc.clientID === client) this.o.doc.clientID = this.o.newClientId()
    switch (reason) {
      case 'frame-too-large':
      case 'relay-refused':
        this.o.onError(tooLarge(write, this.o.maxFrameBytes, code))
        break
      case 'write-refused':
        this.o.onError(new MeridianError('ERR_WRITE_REFUSED',
          `write ${write.seq} held back: the relay refuses it (${relayCode ?? ''})`,
          { seq: write.seq, bytes: write.bytes, ...(relayCode !== undefined ? { relayCode } : {}) }))
        break
      case 'depends-on-refused':
        break
    }
    return true
  }
}

/** The write gate that holds refused writes back: pass it as the provider's `holdRefusedWrites` option. */
export const holdRefusedWrites: HoldRefusedWrites = (options) => new HoldingWriteGate(options)

function tooLarge(w: RefusedWrite, limit: number, code: number | undefined): MeridianError {
  const why = code !== undefined
    ? `the relay refused it (${code}: ${SIZE_REFUSALS[code] ?? 'size'})`
    : `it is larger than one frame may be (maxFrameBytes ${limit})`
  return new MeridianError('ERR_WRITE_TOO_LARGE',
    `write ${w.seq} (${w.bytes} bytes) is not sent: ${why}. The document keeps it locally and other writes still sync; remove it with provider.dropWrite(${w.seq}) and write the data in smaller parts`,
    { seq: w.seq, bytes: w.bytes })
}

/** The Yjs client id whose structs `update` carries, preferring `current`; null if it has none. */
function ownClientOf(update: Uint8Array, current: number): number | null {
  const to = Y.parseUpdateMeta(update).to
  if (to.has(current)) return current
  const first = to.keys().next()
  return first.done === true ? null : first.value
}
