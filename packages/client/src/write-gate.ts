import * as Y from 'yjs'
import { CLOSE_DOC_TOO_LARGE, CLOSE_INVALID_UPDATE, CLOSE_MESSAGE_TOO_BIG, type DeleteRanges } from '@meridian/protocol'
import { MeridianError, type MeridianErrorCode, type MeridianErrorOptions } from './errors.js'
import type { DeleteDigest } from './delete-digest.js'
import type { Ledger, LedgerEntry } from './ledger.js'

/** Default `maxFrameBytes`: the relay's default frame limit (`maxMessageBytes`, 16 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
/** A sync message's bytes besides the update (message type, sync type, length prefix). */
export const FRAME_OVERHEAD_BYTES = 16

/** Close codes with which a relay refuses what we sent for its size. */
export const SIZE_REFUSALS: Readonly<Record<number, string>> = { [CLOSE_MESSAGE_TOO_BIG]: 'frame too large', [CLOSE_DOC_TOO_LARGE]: 'document too large' }

/**
 * Close reasons (with 4400) with which a relay refuses a write for what it does: resending it
 * cannot succeed (ERR_HISTORY_APPEND_ONLY: a client deleted from a history document, whose
 * versions are immutable).
 */
export const WRITE_REFUSALS: ReadonlySet<string> = new Set(['ERR_HISTORY_APPEND_ONLY'])

/** Why a write is held back (with `holdRefusedWrites` from `@meridian/client/refused-writes`). */
export type RefusalReason =
  /** Its update alone is larger than a frame may be (`maxFrameBytes`): checked before sending. */
  | 'frame-too-large'
  /** The relay closed the connection refusing it: 1009 (frame too big) or 4413 (document too large). */
  | 'relay-refused'
  /** It builds on a refused write (inserts next to it, deletes in it): the relay could not apply it alone. */
  | 'depends-on-refused'
  /**
   * The relay closed the connection refusing what it does (4400 with a write-specific code, e.g.
   * ERR_HISTORY_APPEND_ONLY: a deletion from a history document): its deletes are withheld too.
   */
  | 'write-refused'

export interface RefusedWrite {
  /** The write's number in the ledger (`error.seq`, `provider.dropWrite(seq)`). */
  readonly seq: number
  readonly bytes: number
  readonly reason: RefusalReason
  /** For `depends-on-refused`: the refused write it builds on. */
  readonly dependsOn: number | null
  /** The update the doc emitted for it. */
  readonly update: Uint8Array
}

export interface WriteGateOptions {
  doc: Y.Doc
  ledger: Ledger
  /** The delete-set digest exchange, when the provider has it (`@meridian/client/digest`). */
  digest: DeleteDigest | null
  maxFrameBytes: number
  /** A fresh Yjs client id (random from the provider's injected source). */
  newClientId: () => number
  /** Reports an error; syncing goes on. */
  onError: (error: MeridianError) => void
  /** Stops syncing the document until `connect()` (closing the current connection), reporting `error`. */
  stop: (error: MeridianError) => void
}

/**
 * What the provider asks of the gate its local writes pass on their way to the
 * relay: `BasicWriteGate` (the default) or the one `holdRefusedWrites` builds.
 */
export interface WriteGate {
  readonly maxFrameBytes: number
  /** A local write entered the ledger, made with Yjs client id `client`: whether to send it live. */
  admit(entry: LedgerEntry, client: number): boolean
  /** A write restored from the local store (already local; an earlier session's client id). */
  admitRestored(entry: LedgerEntry): void
  /**
   * The relay closed the connection. Non-null: it refused a write and syncing stops
   * (no reconnection until `connect()`); the provider reports the error once closed.
   */
  relayClosed(code: number | null, reason: string): MeridianError | null
  /** An update the relay lacks was not sent: it is larger than one frame (`bytes`). */
  frameTooLarge(bytes: number): void
  /** What a relay at `stateVector` lacks of ours; `digest`: the relay checks older deletes by digest. */
  encodeDiff(stateVector: Uint8Array, digest: boolean): Uint8Array
  /** Deletes the digest exchange would send, without withheld ones (null: none left). */
  sendableDeletes(update: Uint8Array): Uint8Array | null
  /** The writes held back, oldest first. */
  list(): RefusedWrite[]
  /** Gives up a held-back write (see `provider.dropWrite`); returns the seqs released. ERR_OPTIONS for any other seq. */
  drop(seq: number, coveredBySeq: () => number): number[]
}

/** Builds the write gate of one provider: `holdRefusedWrites` from `@meridian/client/refused-writes`. */
export type HoldRefusedWrites = (options: WriteGateOptions) => WriteGate

/**
 * The gate without holding (the default, kept small): fail-stop. A write too
 * large for one frame, or a relay's close refusing a write (1009, 4413, 4400
 * with a WRITE_REFUSALS code), stops syncing the document with one error: never
 * a reconnect loop resending it (y-websocket#189), and never a loss — edits
 * still go to the local store and the ledger, and `connect()` tries again.
 */
export class BasicWriteGate implements WriteGate {
  /** Each pending write's deletes, decoded once (on the first reconnect that needs them). */
  private readonly deletes = new WeakMap<LedgerEntry, DeleteRanges>()

  constructor(protected readonly o: WriteGateOptions) {}

  get maxFrameBytes(): number {
    return this.o.maxFrameBytes
  }

  admit(entry: LedgerEntry, _client?: number): boolean {
    const bytes = entry.data.byteLength
    if (bytes + FRAME_OVERHEAD_BYTES <= this.o.maxFrameBytes) return true
    this.o.stop(stopped('ERR_WRITE_TOO_LARGE', `write ${entry.seq} (${bytes} bytes) is larger than one frame may be (maxFrameBytes ${this.o.maxFrameBytes})`, { seq: entry.seq, bytes }))
    return false
  }

  admitRestored(entry: LedgerEntry): void {
    this.admit(entry)
  }

  relayClosed(code: number | null, reason: string): MeridianError | null {
    const size = code === null ? undefined : SIZE_REFUSALS[code]
    if (size !== undefined) return stopped('ERR_WRITE_TOO_LARGE', `the relay refused a write (${code}: ${size})`)
    return code === CLOSE_INVALID_UPDATE && WRITE_REFUSALS.has(reason)
      ? stopped('ERR_WRITE_REFUSED', `the relay refuses a write (${reason})`, { relayCode: reason })
      : null
  }

  /** E.g. the step 2 of a reconnection carrying a write too large (nothing is held back here): sending it cannot succeed. */
  frameTooLarge(bytes: number): void {
    this.o.stop(stopped('ERR_WRITE_TOO_LARGE', `the update the relay lacks is ${bytes} bytes, over maxFrameBytes ${this.o.maxFrameBytes}`, { bytes }))
  }

  encodeDiff(stateVector: Uint8Array, digest: boolean): Uint8Array {
    const exchange = digest ? this.o.digest : null
    return exchange !== null ? exchange.encodeDiff(this.o.doc, stateVector, this.pendingDeletes(exchange), null) : Y.encodeStateAsUpdate(this.o.doc, stateVector)
  }

  sendableDeletes(update: Uint8Array): Uint8Array | null {
    return update
  }

  list(): RefusedWrite[] {
    return []
  }

  drop(seq: number, _coveredBySeq?: () => number): number[] {
    throw new MeridianError('ERR_OPTIONS', `write ${seq} is not a refused write (see provider.refusedWrites)`)
  }

  /** With the digest exchange: our pending writes' deletes (only those travel with a diff). */
  protected pendingDeletes(digest: DeleteDigest | null): DeleteRanges[] {
    if (digest === null) return []
    return this.o.ledger.unacknowledged().map((entry) => {
      let ranges = this.deletes.get(entry)
      if (ranges === undefined) this.deletes.set(entry, (ranges = digest.deletesOf(entry.data)))
      return ranges
    })
  }
}

function stopped(code: MeridianErrorCode, why: string, options?: MeridianErrorOptions): MeridianError {
  return new MeridianError(code, `${why}: syncing this document stopped until connect(). It keeps every edit locally; to keep syncing around such writes, pass holdRefusedWrites from @meridian/client/refused-writes`, options)
}
