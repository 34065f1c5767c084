import type * as Y from 'yjs'
import type { DeleteRanges, DeleteSync, DsDigestMessage, DsRangesMessage, DsReplyReader } from '@meridian/protocol'

/**
 * The delete-set digest exchange as the provider uses it; the implementation is
 * `deleteDigest` from `@meridian/client/digest` (optional: it keeps the digest
 * code out of the default bundle).
 */
export interface DeleteDigest {
  /** The client's side of one exchange (one per connection). */
  session(): DeleteSync
  /** Writes the exchange's client messages. */
  encode(message: DsDigestMessage | DsRangesMessage): Uint8Array
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
