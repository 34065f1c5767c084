/**
 * MESSAGE_MESH (101): relay-to-relay messages, spoken only on the mesh
 * endpoint (`/_meridian/mesh`), never on a document socket. Every message is
 *
 *   varUint(101) varUint(subtype) body
 *
 * and PROTOCOL.md ("Relay mesh") documents each body byte by byte. Decoding
 * is total, like the client protocol: a ProtocolError or a message.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { ProtocolError } from './errors.js'
import { resolveDecodeLimits, type DecodeLimits } from './limits.js'
import { readVarStringSafe, readVarUint8ArraySafe, readVarUintSafe, expectEnd } from './safe-decoding.js'
import { checkBytes, checkString, checkVarUint } from './write-checks.js'

export const MESSAGE_MESH = 101

export const MESH_HELLO = 0
export const MESH_MEMBERS = 1
export const MESH_PING = 2
export const MESH_PONG = 3
export const MESH_UPDATE = 4
export const MESH_UPDATE_ACK = 5
export const MESH_AE_ROOT = 6
export const MESH_AE_BUCKETS = 7
export const MESH_AE_DOCS_REQUEST = 8
export const MESH_AE_DOCS = 9
export const MESH_DOC_SYNC = 10
export const MESH_DOC_DIFF = 11
export const MESH_AE_DONE = 12
export const MESH_DOC_APPLIED = 13
export const MESH_CHALLENGE = 14
export const MESH_DOC_UNAVAILABLE = 15

/** Version of the link handshake; a relay refuses a challenge of another version with a clear reason. */
export const MESH_HANDSHAKE_VERSION = 2
/** Bytes of a handshake nonce. */
export const MESH_NONCE_BYTES = 32

/** Largest member list one MEMBERS message may carry. */
export const MAX_MESH_MEMBERS = 1024
/** Largest number of entries in one AE_DOCS or AE_DOCS_REQUEST message. */
export const MAX_MESH_LIST = 65_536

export interface MeshMember {
  nodeId: string
  region: string
  url: string
  /** Increases on every restart of that relay: the newer record wins. */
  incarnation: number
}

export type MeshMessage =
  /** First message each way: a fresh random nonce the peer must sign (and the handshake version). */
  | { type: 'mesh-challenge'; version: number; nonce: Uint8Array }
  /** Second message each way: the sender's identity and `proof`, an HMAC with the cluster secret over both nonces, its role and this identity. */
  | ({ type: 'mesh-hello'; proof: Uint8Array } & MeshMember)
  | { type: 'mesh-members'; members: MeshMember[] }
  | { type: 'mesh-ping'; nonce: number }
  | { type: 'mesh-pong'; nonce: number }
  /** A pushed update; `id` is the sender's, echoed in the ack. */
  | { type: 'mesh-update'; id: number; docName: string; update: Uint8Array }
  /** The update is committed to the receiver's storage; `stateVector` is the receiver's document state after it. */
  | { type: 'mesh-update-ack'; id: number; docName: string; stateVector: Uint8Array }
  /** Anti-entropy: the initiator's summary root. */
  | { type: 'mesh-ae-root'; round: number; root: Uint8Array }
  /** The responder's roots differ: its per-bucket hashes (concatenated). */
  | { type: 'mesh-ae-buckets'; round: number; hashes: Uint8Array }
  | { type: 'mesh-ae-docs-request'; round: number; buckets: number[] }
  /** Documents (name and digest) of the requested buckets; `last` closes the listing. */
  | { type: 'mesh-ae-docs'; round: number; entries: { docName: string; digest: Uint8Array }[]; last: boolean }
  /** Asks for what the sender lacks of a document, given its state vector. */
  | { type: 'mesh-doc-sync'; round: number; docName: string; stateVector: Uint8Array }
  /** One chunk of the answer; chunks are sent in order, `index` from 0 to `count - 1`. */
  | { type: 'mesh-doc-diff'; round: number; docName: string; index: number; count: number; data: Uint8Array }
  /** The responder's side of a round is over (`ok` false: it gave up). */
  | { type: 'mesh-ae-done'; round: number; ok: boolean }
  /** After a pull: the puller committed the diff; its state vector now. */
  | { type: 'mesh-doc-applied'; docName: string; stateVector: Uint8Array }
  /** The responder cannot serve this document in this round (load failed): the puller skips it and carries on. */
  | { type: 'mesh-doc-unavailable'; round: number; docName: string }

const SUBTYPES: Record<MeshMessage['type'], number> = {
  'mesh-challenge': MESH_CHALLENGE,
  'mesh-hello': MESH_HELLO,
  'mesh-members': MESH_MEMBERS,
  'mesh-ping': MESH_PING,
  'mesh-pong': MESH_PONG,
  'mesh-update': MESH_UPDATE,
  'mesh-update-ack': MESH_UPDATE_ACK,
  'mesh-ae-root': MESH_AE_ROOT,
  'mesh-ae-buckets': MESH_AE_BUCKETS,
  'mesh-ae-docs-request': MESH_AE_DOCS_REQUEST,
  'mesh-ae-docs': MESH_AE_DOCS,
  'mesh-doc-sync': MESH_DOC_SYNC,
  'mesh-doc-diff': MESH_DOC_DIFF,
  'mesh-ae-done': MESH_AE_DONE,
  'mesh-doc-applied': MESH_DOC_APPLIED,
  'mesh-doc-unavailable': MESH_DOC_UNAVAILABLE
}

const writeMember = (e: encoding.Encoder, m: MeshMember): void => {
  checkString(m.nodeId, 'nodeId')
  checkString(m.region, 'region')
  checkString(m.url, 'url')
  checkVarUint(m.incarnation, 'incarnation')
  encoding.writeVarString(e, m.nodeId)
  encoding.writeVarString(e, m.region)
  encoding.writeVarString(e, m.url)
  encoding.writeVarUint(e, m.incarnation)
}

const readMember = (d: decoding.Decoder, l: DecodeLimits): MeshMember => ({
  nodeId: readVarStringSafe(d, l.maxStringBytes),
  region: readVarStringSafe(d, l.maxStringBytes),
  url: readVarStringSafe(d, l.maxStringBytes),
  incarnation: readVarUintSafe(d)
})

const writeBytes = (e: encoding.Encoder, b: Uint8Array, field: string): void => {
  checkBytes(b, field)
  encoding.writeVarUint8Array(e, b)
}

export function writeMeshMessage(e: encoding.Encoder, m: MeshMessage): void {
  encoding.writeVarUint(e, MESSAGE_MESH)
  encoding.writeVarUint(e, SUBTYPES[m.type])
  switch (m.type) {
    case 'mesh-challenge':
      checkVarUint(m.version, 'version')
      encoding.writeVarUint(e, m.version)
      return writeBytes(e, m.nonce, 'nonce')
    case 'mesh-hello':
      writeMember(e, m)
      return writeBytes(e, m.proof, 'proof')
    case 'mesh-members':
      if (m.members.length > MAX_MESH_MEMBERS) throw new RangeError(`at most ${MAX_MESH_MEMBERS} members per message`)
      encoding.writeVarUint(e, m.members.length)
      for (const member of m.members) writeMember(e, member)
      return
    case 'mesh-ping':
    case 'mesh-pong':
      checkVarUint(m.nonce, 'nonce')
      return encoding.writeVarUint(e, m.nonce)
    case 'mesh-update':
      checkVarUint(m.id, 'id')
      checkString(m.docName, 'docName')
      encoding.writeVarUint(e, m.id)
      encoding.writeVarString(e, m.docName)
      return writeBytes(e, m.update, 'update')
    case 'mesh-update-ack':
      checkVarUint(m.id, 'id')
      checkString(m.docName, 'docName')
      encoding.writeVarUint(e, m.id)
      encoding.writeVarString(e, m.docName)
      return writeBytes(e, m.stateVector, 'stateVector')
    case 'mesh-ae-root':
      checkVarUint(m.round, 'round')
      encoding.writeVarUint(e, m.round)
      return writeBytes(e, m.root, 'root')
    case 'mesh-ae-buckets':
      checkVarUint(m.round, 'round')
      encoding.writeVarUint(e, m.round)
      return writeBytes(e, m.hashes, 'hashes')
    case 'mesh-ae-docs-request':
      checkVarUint(m.round, 'round')
      if (m.buckets.length > MAX_MESH_LIST) throw new RangeError(`at most ${MAX_MESH_LIST} buckets per message`)
      encoding.writeVarUint(e, m.round)
      encoding.writeVarUint(e, m.buckets.length)
      for (const b of m.buckets) {
        checkVarUint(b, 'bucket')
        encoding.writeVarUint(e, b)
      }
      return
    case 'mesh-ae-docs':
      checkVarUint(m.round, 'round')
      if (m.entries.length > MAX_MESH_LIST) throw new RangeError(`at most ${MAX_MESH_LIST} entries per message`)
      encoding.writeVarUint(e, m.round)
      encoding.writeVarUint(e, m.entries.length)
      for (const entry of m.entries) {
        checkString(entry.docName, 'docName')
        encoding.writeVarString(e, entry.docName)
        writeBytes(e, entry.digest, 'digest')
      }
      return encoding.writeVarUint(e, m.last ? 1 : 0)
    case 'mesh-doc-sync':
      checkVarUint(m.round, 'round')
      checkString(m.docName, 'docName')
      encoding.writeVarUint(e, m.round)
      encoding.writeVarString(e, m.docName)
      return writeBytes(e, m.stateVector, 'stateVector')
    case 'mesh-doc-diff':
      checkVarUint(m.round, 'round')
      checkString(m.docName, 'docName')
      checkVarUint(m.index, 'index')
      checkVarUint(m.count, 'count')
      encoding.writeVarUint(e, m.round)
      encoding.writeVarString(e, m.docName)
      encoding.writeVarUint(e, m.index)
      encoding.writeVarUint(e, m.count)
      return writeBytes(e, m.data, 'data')
    case 'mesh-ae-done':
      checkVarUint(m.round, 'round')
      encoding.writeVarUint(e, m.round)
      return encoding.writeVarUint(e, m.ok ? 1 : 0)
    case 'mesh-doc-applied':
      checkString(m.docName, 'docName')
      encoding.writeVarString(e, m.docName)
      return writeBytes(e, m.stateVector, 'stateVector')
    case 'mesh-doc-unavailable':
      checkVarUint(m.round, 'round')
      checkString(m.docName, 'docName')
      encoding.writeVarUint(e, m.round)
      return encoding.writeVarString(e, m.docName)
  }
}

export function encodeMeshMessage(m: MeshMessage): Uint8Array {
  const e = encoding.createEncoder()
  writeMeshMessage(e, m)
  return encoding.toUint8Array(e)
}

const readFlag = (d: decoding.Decoder, field: string): boolean => {
  const at = d.pos
  const v = readVarUintSafe(d)
  if (v > 1) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `${field} at byte ${at} must be 0 or 1`)
  return v === 1
}

const readCount = (d: decoding.Decoder, max: number, field: string): number => {
  const n = readVarUintSafe(d)
  if (n > max) throw new ProtocolError('ERR_PROTOCOL_OVERSIZED', `${field}: ${n} entries, at most ${max}`)
  // Every entry takes at least one byte: a count larger than what remains is a lie, refuse before looping.
  if (n > d.arr.length - d.pos) throw new ProtocolError('ERR_PROTOCOL_TRUNCATED', `${field}: ${n} entries in ${d.arr.length - d.pos} bytes`)
  return n
}

/** Decodes one mesh frame. Total: a MeshMessage or a ProtocolError. */
export function decodeMeshMessage(bytes: Uint8Array, limits?: Partial<DecodeLimits>): MeshMessage {
  const l = resolveDecodeLimits(limits)
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'input must be a Uint8Array')
  if (bytes.length > l.maxMessageBytes) throw new ProtocolError('ERR_PROTOCOL_OVERSIZED', `${bytes.length} bytes, at most ${l.maxMessageBytes}`)
  const d = decoding.createDecoder(bytes)
  const type = readVarUintSafe(d)
  if (type !== MESSAGE_MESH) throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `not a mesh message: type ${type}`)
  const subtype = readVarUintSafe(d)
  const max = l.maxMessageBytes
  let m: MeshMessage
  switch (subtype) {
    case MESH_CHALLENGE:
      m = { type: 'mesh-challenge', version: readVarUintSafe(d), nonce: readVarUint8ArraySafe(d, max) }
      break
    case MESH_HELLO:
      m = { type: 'mesh-hello', ...readMember(d, l), proof: readVarUint8ArraySafe(d, max) }
      break
    case MESH_MEMBERS: {
      const n = readCount(d, MAX_MESH_MEMBERS, 'members')
      const members: MeshMember[] = []
      for (let i = 0; i < n; i++) members.push(readMember(d, l))
      m = { type: 'mesh-members', members }
      break
    }
    case MESH_PING:
      m = { type: 'mesh-ping', nonce: readVarUintSafe(d) }
      break
    case MESH_PONG:
      m = { type: 'mesh-pong', nonce: readVarUintSafe(d) }
      break
    case MESH_UPDATE:
      m = { type: 'mesh-update', id: readVarUintSafe(d), docName: readVarStringSafe(d, l.maxStringBytes), update: readVarUint8ArraySafe(d, max) }
      break
    case MESH_UPDATE_ACK:
      m = { type: 'mesh-update-ack', id: readVarUintSafe(d), docName: readVarStringSafe(d, l.maxStringBytes), stateVector: readVarUint8ArraySafe(d, max) }
      break
    case MESH_AE_ROOT:
      m = { type: 'mesh-ae-root', round: readVarUintSafe(d), root: readVarUint8ArraySafe(d, max) }
      break
    case MESH_AE_BUCKETS:
      m = { type: 'mesh-ae-buckets', round: readVarUintSafe(d), hashes: readVarUint8ArraySafe(d, max) }
      break
    case MESH_AE_DOCS_REQUEST: {
      const round = readVarUintSafe(d)
      const n = readCount(d, MAX_MESH_LIST, 'buckets')
      const buckets: number[] = []
      for (let i = 0; i < n; i++) buckets.push(readVarUintSafe(d))
      m = { type: 'mesh-ae-docs-request', round, buckets }
      break
    }
    case MESH_AE_DOCS: {
      const round = readVarUintSafe(d)
      const n = readCount(d, MAX_MESH_LIST, 'entries')
      const entries: { docName: string; digest: Uint8Array }[] = []
      for (let i = 0; i < n; i++) entries.push({ docName: readVarStringSafe(d, l.maxStringBytes), digest: readVarUint8ArraySafe(d, max) })
      m = { type: 'mesh-ae-docs', round, entries, last: readFlag(d, 'last') }
      break
    }
    case MESH_DOC_SYNC:
      m = { type: 'mesh-doc-sync', round: readVarUintSafe(d), docName: readVarStringSafe(d, l.maxStringBytes), stateVector: readVarUint8ArraySafe(d, max) }
      break
    case MESH_DOC_DIFF:
      m = {
        type: 'mesh-doc-diff',
        round: readVarUintSafe(d),
        docName: readVarStringSafe(d, l.maxStringBytes),
        index: readVarUintSafe(d),
        count: readVarUintSafe(d),
        data: readVarUint8ArraySafe(d, max)
      }
      if (m.index >= m.count) throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `doc-diff chunk ${m.index} of ${m.count}`)
      break
    case MESH_AE_DONE:
      m = { type: 'mesh-ae-done', round: readVarUintSafe(d), ok: readFlag(d, 'ok') }
      break
    case MESH_DOC_APPLIED:
      m = { type: 'mesh-doc-applied', docName: readVarStringSafe(d, l.maxStringBytes), stateVector: readVarUint8ArraySafe(d, max) }
      break
    case MESH_DOC_UNAVAILABLE:
      m = { type: 'mesh-doc-unavailable', round: readVarUintSafe(d), docName: readVarStringSafe(d, l.maxStringBytes) }
      break
    default:
      throw new ProtocolError('ERR_PROTOCOL_UNKNOWN_TYPE', `unknown mesh subtype ${subtype}`)
  }
  expectEnd(d)
  return m
}
