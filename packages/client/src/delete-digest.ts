import type * as Y from 'yjs'
import type { DeleteRanges, DsReplyMessage, DsReplyReader } from '@meridian/protocol'

/** What one exchange needs of its connection. */
export interface DigestExchangeHost {
  readonly doc: Y.Doc
  /** Sends one of the exchange's own messages (ds-digest, ds-ranges). */
  send(message: Uint8Array): void
  /** The relay's deletes we lacked: apply them. */
  apply(update: Uint8Array): void
  /** Our deletes the relay lacks: send them as an update (an acknowledged write). */
  sendDeletes(update: Uint8Array): void
  /** False: none of our deletes are sent (the relay would refuse them). */
  writable(): boolean
}

/** The client's side of one exchange (one per connection). */
export interface DigestExchange {
  /** After our step 2: the digest of the deletes both sides can hold. */
  begin(relayStateVector: Uint8Array): void
  /** The relay's ds-reply; true once the exchange is over (the sync round then completes). */
  reply(message: DsReplyMessage): boolean
}

/**
 * The delete-set digest exchange as the provider uses it; the implementation is
 * `deleteDigest` from `@meridian/client/digest` (optional: it keeps the digest
 * code out of the default bundle).
 */
export interface DeleteDigest {
  /** The client's side of one exchange on a connection (the link keeps one per connection). */
  exchange(host: DigestExchangeHost): DigestExchange
  /** Reads the relay's ds-reply (without it a ds-reply is ignored). */
  readReply: DsReplyReader
  /** The deletes a local write carries (its deletes go with our step 2). */
  deletesOf(update: Uint8Array): DeleteRanges
  /**
   * What a relay at `stateVector` lacks of `doc`: the structs, with only the deletes
   * of those structs plus `pending` (our unacknowledged writes' deletes) minus `withheld`.
   */
  encodeDiff(doc: Y.Doc, stateVector: Uint8Array, pending: readonly DeleteRanges[], withheld: DeleteRanges | null): Uint8Array
}
