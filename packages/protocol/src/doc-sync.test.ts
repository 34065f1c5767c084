import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { decodeMessage } from './codec.js'
import { encodeSyncStep1FromDoc, encodeSyncStep2FromDoc, validateStateVector } from './doc-sync.js'
import { isProtocolError } from './errors.js'

const doc = (): Y.Doc => {
  const d = new Y.Doc()
  d.getArray<number>('a').insert(0, [1, 2, 3])
  return d
}

const outcome = (f: () => unknown): string => {
  try {
    f()
    return 'ok'
  } catch (e) {
    if (isProtocolError(e)) return e.code
    throw e
  }
}

describe('doc helpers', () => {
  it('step 1 and step 2 carry what Yjs produces', () => {
    const d = doc()
    expect(decodeMessage(encodeSyncStep1FromDoc(d))).toStrictEqual({ type: 'sync-step1', stateVector: Y.encodeStateVector(d) })
    const empty = Y.encodeStateVector(new Y.Doc())
    expect(decodeMessage(encodeSyncStep2FromDoc(d, empty))).toStrictEqual({ type: 'sync-step2', update: Y.encodeStateAsUpdate(d, empty) })
  })

  it('validateStateVector accepts real state vectors and rejects garbage', () => {
    expect(() => validateStateVector(Y.encodeStateVector(doc()))).not.toThrow()
    expect(() => validateStateVector(new Uint8Array([0]))).not.toThrow()
    expect(outcome(() => validateStateVector(new Uint8Array([])))).toBe('ERR_PROTOCOL_MALFORMED')
    expect(outcome(() => validateStateVector(new Uint8Array([2, 1, 1])))).toBe('ERR_PROTOCOL_MALFORMED')
    expect(outcome(() => validateStateVector(new Uint8Array([0xff])))).toBe('ERR_PROTOCOL_MALFORMED')
  })

  it('a malformed remote state vector becomes ERR_PROTOCOL_MALFORMED', () => {
    expect(outcome(() => encodeSyncStep2FromDoc(doc(), new Uint8Array([5, 1])))).toBe('ERR_PROTOCOL_MALFORMED')
  })

  it('never throw anything but ProtocolError on arbitrary state vectors', () => {
    const d = doc()
    fc.assert(fc.property(fc.uint8Array({ maxLength: 24 }), (sv) => {
      const valid = outcome(() => validateStateVector(sv))
      expect(['ok', 'ERR_PROTOCOL_MALFORMED']).toContain(valid)
      expect(['ok', 'ERR_PROTOCOL_MALFORMED']).toContain(outcome(() => encodeSyncStep2FromDoc(d, sv)))
    }), { numRuns: 1000 })
  })
})
