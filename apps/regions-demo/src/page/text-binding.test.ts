import { describe, expect, it } from 'vitest'
import { mapThroughDelta } from './text-binding.js'

describe('mapThroughDelta (keeping the caret next to the same characters under a remote edit)', () => {
  it('moves the caret right by text inserted before it, not by text inserted after it', () => {
    expect(mapThroughDelta(5, 5, [{ retain: 2 }, { insert: 'abc' }])).toEqual([8, 8])
    expect(mapThroughDelta(5, 5, [{ retain: 7 }, { insert: 'abc' }])).toEqual([5, 5])
    expect(mapThroughDelta(0, 0, [{ insert: 'xy' }])).toEqual([2, 2])
  })

  it('moves it left by text deleted before it, and onto the start of a deletion that spans it', () => {
    expect(mapThroughDelta(6, 6, [{ retain: 1 }, { delete: 2 }])).toEqual([4, 4])
    expect(mapThroughDelta(3, 3, [{ retain: 1 }, { delete: 5 }])).toEqual([1, 1])
    expect(mapThroughDelta(2, 9, [{ retain: 4 }, { delete: 2 }, { insert: 'Q' }])).toEqual([2, 8])
  })
})
