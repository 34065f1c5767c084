import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeMeshMessage, decodeMessage, encodeMeshMessage, encodeMessage, isProtocolError, type MeshMessage } from './index.js'

const str = fc.string({ maxLength: 40 })
const bytes = fc.uint8Array({ maxLength: 200 })
const uint = fc.nat({ max: Number.MAX_SAFE_INTEGER })
const member = fc.record({ nodeId: str, region: str, url: str, incarnation: uint })

const meshMessage: fc.Arbitrary<MeshMessage> = fc.oneof(
  fc.record({ version: uint, nonce: bytes }).map((m) => ({ type: 'mesh-challenge' as const, ...m })),
  fc.tuple(member, bytes).map(([m, proof]) => ({ type: 'mesh-hello' as const, ...m, proof })),
  fc.record({ round: uint, docName: str }).map((m) => ({ type: 'mesh-doc-unavailable' as const, ...m })),
  fc.array(member, { maxLength: 5 }).map((members) => ({ type: 'mesh-members' as const, members })),
  uint.map((nonce) => ({ type: 'mesh-ping' as const, nonce })),
  uint.map((nonce) => ({ type: 'mesh-pong' as const, nonce })),
  fc.record({ id: uint, docName: str, update: bytes }).map((m) => ({ type: 'mesh-update' as const, ...m })),
  fc.record({ id: uint, docName: str, stateVector: bytes }).map((m) => ({ type: 'mesh-update-ack' as const, ...m })),
  fc.record({ round: uint, root: bytes }).map((m) => ({ type: 'mesh-ae-root' as const, ...m })),
  fc.record({ round: uint, hashes: bytes }).map((m) => ({ type: 'mesh-ae-buckets' as const, ...m })),
  fc.record({ round: uint, buckets: fc.array(fc.nat({ max: 255 }), { maxLength: 20 }) }).map((m) => ({ type: 'mesh-ae-docs-request' as const, ...m })),
  fc.record({ round: uint, entries: fc.array(fc.record({ docName: str, digest: bytes }), { maxLength: 5 }), last: fc.boolean() }).map((m) => ({ type: 'mesh-ae-docs' as const, ...m })),
  fc.record({ round: uint, docName: str, stateVector: bytes }).map((m) => ({ type: 'mesh-doc-sync' as const, ...m })),
  fc.record({ round: uint, docName: str, count: fc.integer({ min: 1, max: 1000 }), data: bytes })
    .chain((m) => fc.nat({ max: m.count - 1 }).map((index) => ({ type: 'mesh-doc-diff' as const, ...m, index }))),
  fc.record({ round: uint, ok: fc.boolean() }).map((m) => ({ type: 'mesh-ae-done' as const, ...m })),
  fc.record({ docName: str, stateVector: bytes }).map((m) => ({ type: 'mesh-doc-applied' as const, ...m }))
)

describe('mesh messages', () => {
  it('round-trip every message type', () => {
    fc.assert(fc.property(meshMessage, (m) => {
      expect(decodeMeshMessage(encodeMeshMessage(m))).toEqual(m)
    }), { numRuns: 1_000 })
  })

  it('decode random and mutated frames to a message or a ProtocolError, nothing else', () => {
    const mutated = fc.tuple(meshMessage, fc.nat(), fc.nat({ max: 255 }), fc.nat()).map(([m, at, value, cut]) => {
      const b = encodeMeshMessage(m)
      const copy = b.slice(0, Math.max(1, b.length - (cut % 4)))
      copy[at % copy.length] = value
      return copy
    })
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), (input) => {
      try {
        decodeMeshMessage(input)
      } catch (err) {
        if (!isProtocolError(err)) throw err
      }
    }), { numRuns: 3_000 })
  })

  it('refuses a count that claims more entries than the bytes could hold, before looping', () => {
    // members message claiming 1000 members in 2 bytes
    expect(() => decodeMeshMessage(new Uint8Array([101, 1, 0xe8, 0x07]))).toThrow(expect.objectContaining({ code: 'ERR_PROTOCOL_TRUNCATED' }))
    expect(() => decodeMeshMessage(new Uint8Array([101, 11, 0, 0, 5, 5, 0]))).toThrow(expect.objectContaining({ code: 'ERR_PROTOCOL_MALFORMED' }))
    expect(() => decodeMeshMessage(new Uint8Array([0, 0, 0]))).toThrow(expect.objectContaining({ code: 'ERR_PROTOCOL_UNKNOWN_TYPE' }))
  })
})

describe('status and replicated messages', () => {
  it('round-trip', () => {
    const region = fc.string({ minLength: 1, maxLength: 10 })
    const status = fc.record({
      readOnly: fc.boolean(),
      homeRegion: fc.option(fc.string({ minLength: 1, maxLength: 10 }), { nil: null }),
      homeRegionReachable: fc.option(fc.boolean(), { nil: null }),
      regions: fc.dictionary(region, fc.option(fc.nat({ max: 2 ** 40 }), { nil: null }), { maxKeys: 5 }),
      meshConfigured: fc.boolean()
    })
    fc.assert(fc.property(status, (s) => {
      const m = { type: 'status' as const, ...s }
      expect(decodeMessage(encodeMessage(m))).toEqual(m)
    }))
    fc.assert(fc.property(fc.nat(), fc.nat(), (regions, upTo) => {
      expect(decodeMessage(encodeMessage({ type: 'replicated', regions, upTo }))).toEqual({ type: 'replicated', regions, upTo })
    }))
  })
})
