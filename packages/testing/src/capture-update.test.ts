import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { captureUpdate } from './capture-update.js'

describe('captureUpdate', () => {
  it('returns the one update the function made the doc emit, and stops listening', () => {
    const doc = new Y.Doc()
    const update = captureUpdate(doc, () => doc.getMap('m').set('k', 1))
    const peer = new Y.Doc()
    Y.applyUpdate(peer, update)
    expect(peer.getMap('m').toJSON()).toEqual({ k: 1 })
    expect(captureUpdate(doc, () => doc.transact(() => {
      doc.getMap('m').set('a', 1)
      doc.getMap('m').set('b', 2)
    })).byteLength).toBeGreaterThan(0)
  })

  it('refuses no update and several updates with ERR_NOT_ONE_UPDATE, and a throwing function leaves no listener', () => {
    const doc = new Y.Doc()
    expect(() => captureUpdate(doc, () => undefined)).toThrow(expect.objectContaining({ code: 'ERR_NOT_ONE_UPDATE' }))
    expect(() => captureUpdate(doc, () => {
      doc.getMap('m').set('a', 1)
      doc.getMap('m').set('b', 2)
    })).toThrow(expect.objectContaining({ code: 'ERR_NOT_ONE_UPDATE' }))
    expect(() => captureUpdate(doc, () => {
      throw new Error('boom')
    })).toThrow('boom')
    let emitted = 0
    doc.on('update', () => emitted++)
    doc.getMap('m').set('c', 3)
    expect(emitted).toBe(1)
    expect(doc._observers.get('update')?.size).toBe(1)
  })
})
