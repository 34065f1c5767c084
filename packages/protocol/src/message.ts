import type { DsDigestMessage, DsRangesMessage, DsReplyMessage } from './ds-digest.js'
import type { ReplicatedMessage, StatusMessage } from './status.js'
import type { MuxMessage } from './mux.js'
/**
 * Decoded messages as one discriminated union, so handlers can `switch` on
 * `type` and the compiler checks that every kind is handled.
 */

/** y-protocols sync step 1: "here is my state vector, send me what I lack". */
export interface SyncStep1Message { type: 'sync-step1', stateVector: Uint8Array }
/** y-protocols sync step 2: the update answering a step 1. */
export interface SyncStep2Message { type: 'sync-step2', update: Uint8Array }
/** y-protocols incremental update. */
export interface SyncUpdateMessage { type: 'sync-update', update: Uint8Array }
/** y-protocols awareness update (opaque here). */
export interface AwarenessMessage { type: 'awareness', update: Uint8Array }
/** y-protocols auth: permission denied. */
export interface AuthDeniedMessage { type: 'auth-denied', reason: string }
/** y-websocket: "send me everyone's awareness state". */
export interface QueryAwarenessMessage { type: 'query-awareness' }

export type HelloRole = 'client' | 'relay'

/** Meridian HELLO: announces the extension and what the sender supports. */
export interface HelloMessage {
  type: 'hello'
  /** Highest PROTOCOL_VERSION the sender speaks. */
  version: number
  role: HelloRole
  /** Sender's stable identity (client id or relay node id). */
  nodeId: string
  /** Sender's region; a client may send ''. */
  region: string
  /** Bitwise OR of FEATURE_* flags. */
  features: number
}

/** Meridian ACK: the first `upTo` update-bearing messages on this connection are durable. */
export interface AckMessage { type: 'ack', upTo: number }

/** Meridian ERROR: a machine-readable code, human text, and whether the sender will close. */
export interface ErrorMessage { type: 'error', code: string, message: string, fatal: boolean }

/** Meridian AUTH: a bearer token (a JWT) sent instead of `?token=`, or later to refresh it. Client → relay only. */
export interface AuthTokenMessage { type: 'auth-token', token: string }

export type Message =
  | SyncStep1Message
  | SyncStep2Message
  | SyncUpdateMessage
  | AwarenessMessage
  | AuthDeniedMessage
  | QueryAwarenessMessage
  | HelloMessage
  | AckMessage
  | ErrorMessage
  | AuthTokenMessage
  | StatusMessage
  | ReplicatedMessage
  | DsDigestMessage
  | DsReplyMessage
  | DsRangesMessage
  | MuxMessage

export type MessageType = Message['type']

/** Fields of a HELLO, as passed to writeHello (a whole HelloMessage also fits). */
export type HelloFields = Omit<HelloMessage, 'type'>
/** Fields of an ERROR, as passed to writeError (a whole ErrorMessage also fits). */
export type ErrorFields = Omit<ErrorMessage, 'type'>
