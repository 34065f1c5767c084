/**
 * MESSAGE_SYNC: the y-protocols/sync messages, byte-identical to what
 * y-websocket sends (`varUint(0)` then y-protocols' own encoding).
 *
 *   sync-step1  varUint(0) varUint(0) varUint8Array(stateVector)
 *   sync-step2  varUint(0) varUint(1) varUint8Array(update)
 *   sync-update varUint(0) varUint(2) varUint8Array(update)
 *
 * Writers write the whole message, type bytes included. Readers start after
 * the type and subtype, which the dispatcher has already consumed. Payloads
 * are not interpreted here: the relay validates updates by applying them.
 */
import * as encoding from 'lib0/encoding'
import type { Decoder } from 'lib0/decoding'
import { ProtocolError } from './errors.js'
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js'
import type { SyncStep1Message, SyncStep2Message, SyncUpdateMessage } from './message.js'
import { MESSAGE_SYNC, SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE } from './message-types.js'
import { readVarUint8ArraySafe, readVarUintSafe } from './safe-decoding.js'
import { checkBytes } from './write-checks.js'

const writeSync = (encoder: encoding.Encoder, subtype: number, payload: Uint8Array, field: string): void => {
  checkBytes(payload, field)
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  encoding.writeVarUint(encoder, subtype)
  encoding.writeVarUint8Array(encoder, payload)
}

export const writeSyncStep1 = (encoder: encoding.Encoder, stateVector: Uint8Array): void =>
  writeSync(encoder, SYNC_STEP1, stateVector, 'stateVector')

export const writeSyncStep2 = (encoder: encoding.Encoder, update: Uint8Array): void =>
  writeSync(encoder, SYNC_STEP2, update, 'update')

export const writeSyncUpdate = (encoder: encoding.Encoder, update: Uint8Array): void =>
  writeSync(encoder, SYNC_UPDATE, update, 'update')

export const readSyncStep1 = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): SyncStep1Message =>
  ({ type: 'sync-step1', stateVector: readVarUint8ArraySafe(decoder, limits.maxMessageBytes) })

export const readSyncStep2 = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): SyncStep2Message =>
  ({ type: 'sync-step2', update: readVarUint8ArraySafe(decoder, limits.maxMessageBytes) })

export const readSyncUpdate = (decoder: Decoder, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): SyncUpdateMessage =>
  ({ type: 'sync-update', update: readVarUint8ArraySafe(decoder, limits.maxMessageBytes) })

/** Reads the subtype (after the top-level type) and the body. */
export const readSyncMessage = (
  decoder: Decoder,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS
): SyncStep1Message | SyncStep2Message | SyncUpdateMessage => {
  const at = decoder.pos
  const subtype = readVarUintSafe(decoder)
  switch (subtype) {
    case SYNC_STEP1: return readSyncStep1(decoder, limits)
    case SYNC_STEP2: return readSyncStep2(decoder, limits)
    case SYNC_UPDATE: return readSyncUpdate(decoder, limits)
    default:
      throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `unknown sync subtype ${subtype} at byte ${at}`)
  }
}
