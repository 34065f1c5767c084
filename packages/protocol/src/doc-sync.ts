/**
 * Helpers that build sync messages straight from a Y.Doc, for the two places
 * that need them (the relay on connect, and any peer answering a step 1).
 * A remote state vector is untrusted input: Yjs throws plain Errors on a
 * malformed one, which these turn into ProtocolError.
 */
import * as Y from 'yjs'
import { encodeMessage } from './codec.js'
import { ProtocolError } from './errors.js'

/** Throws ProtocolError ERR_PROTOCOL_MALFORMED unless Yjs can decode `sv` as a state vector. */
export const validateStateVector = (sv: Uint8Array): void => {
  try {
    Y.decodeStateVector(sv)
  } catch (cause) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'malformed state vector', { cause })
  }
}

/** Bytes of a sync-step1 message carrying the doc's state vector. */
export const encodeSyncStep1FromDoc = (doc: Y.Doc): Uint8Array =>
  encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(doc) })

/** Bytes of a sync-step2 message with everything `doc` has that `remoteStateVector` lacks. */
export const encodeSyncStep2FromDoc = (doc: Y.Doc, remoteStateVector: Uint8Array): Uint8Array => {
  let update: Uint8Array
  try {
    update = Y.encodeStateAsUpdate(doc, remoteStateVector)
  } catch (cause) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'malformed remote state vector', { cause })
  }
  return encodeMessage({ type: 'sync-step2', update })
}
