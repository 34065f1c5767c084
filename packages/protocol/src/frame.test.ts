import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import { frame, type Field } from './frame.js'

describe('frame', () => {
  it('writes the bytes lib0 writes for the same varUints and varUint8Arrays', () => {
    const field = fc.oneof(fc.maxSafeNat(), fc.nat(300), fc.uint8Array({ maxLength: 200 }))
    fc.assert(fc.property(fc.array(field, { maxLength: 12 }), (fields: Field[]) => {
      const encoder = encoding.createEncoder()
      for (const f of fields) {
        if (typeof f === 'number') encoding.writeVarUint(encoder, f)
        else encoding.writeVarUint8Array(encoder, f)
      }
      expect(frame(fields)).toEqual(encoding.toUint8Array(encoder))
    }))
  })
})
