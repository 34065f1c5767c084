import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { pino } from 'pino'
import { MemoryStorageAdapter } from '@meridian/storage'
import { CLOSE_CODES } from '@meridian/relay'
import { Room } from '@meridian/relay/internal'
import { updateIsKnown } from './hostile.js'
import { RawClient } from '@meridian/testing'
import { metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

/** Two updates where the second depends on the first (it inserts after the first's text). */
function dependentUpdates(): { first: Uint8Array; second: Uint8Array } {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'base')
  const first = Y.encodeStateAsUpdate(doc)
  const sv = Y.encodeStateVector(doc)
  const other = new Y.Doc()
  Y.applyUpdate(other, first)
  other.getText('t').insert(4, ' more')
  return { first, second: Y.encodeStateAsUpdate(other, sv) }
}

describe('updates with missing dependencies', () => {
  it('are refused (4400), leave nothing pending, and are never persisted', async () => {
    const storage = new MemoryStorageAdapter()
    const { url, relay } = await pool.start({ storage })
    const { first, second } = dependentUpdates()
    const bystander = await RawClient.connect(url, 'deps')
    await bystander.next('sync-step1')

    const c = await RawClient.connect(url, 'deps')
    c.send({ type: 'sync-update', update: second })
    expect(await c.closed()).toEqual({ code: CLOSE_CODES.INVALID_UPDATE, reason: 'ERR_UPDATE_MISSING_DEPS' })
    const room = relay.rooms.getLoaded('deps')
    expect((room?.doc.store as unknown as { pendingStructs: unknown }).pendingStructs).toBeNull()
    expect((await storage.load('deps'))?.updates ?? []).toHaveLength(0)

    // With its dependency first, the same update is fine.
    const d = await RawClient.connect(url, 'deps')
    d.send({ type: 'sync-update', update: first })
    d.send({ type: 'sync-update', update: second })
    await d.next('ack', (m) => m.upTo >= 2)
    await bystander.next('sync-update', () => bystander.doc.getText('t').toString() === 'base more')
    expect(metric(await scrape(relay), 'meridian_relay_rejected_messages_total', { reason: 'missing_deps' })).toBe(1)
  })

  it('includes deletions of items the relay never saw', async () => {
    const { url } = await pool.start()
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'abc')
    const sv = Y.encodeStateVector(doc)
    doc.getText('t').delete(0, 2)
    const deleteOnly = Y.encodeStateAsUpdate(doc, sv)
    const c = await RawClient.connect(url, 'ghost-delete')
    c.send({ type: 'sync-update', update: deleteOnly })
    expect((await c.closed()).reason).toBe('ERR_UPDATE_MISSING_DEPS')
  })

  it('are never folded into a snapshot if storage somehow holds some', async () => {
    const storage = new MemoryStorageAdapter()
    const { first, second } = dependentUpdates()
    await storage.append('legacy', second)
    const room = await Room.load('legacy', { storage, logger: pino({ level: 'silent' }), compactAfterUpdates: 1 })
    await room.compact()
    const stored = await storage.load('legacy')
    expect(stored?.snapshot ?? null).toBeNull()
    expect(stored?.updates).toHaveLength(1)
    // Once the dependency arrives, everything integrates and compaction may proceed.
    await room.applyUpdate(first, { kind: 'server', actor: 'test' })
    expect(room.doc.getText('t').toString()).toBe('base more')
    room.destroy()
  })
})

describe('updateIsKnown', () => {
  it('is true only when the document already has every struct and deletion', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'hello')
    const full = Y.encodeStateAsUpdate(doc)
    const relayDoc = new Y.Doc()
    Y.applyUpdate(relayDoc, full)
    expect(updateIsKnown(relayDoc, full)).toBe(true)
    expect(updateIsKnown(relayDoc, Y.encodeStateAsUpdate(new Y.Doc()))).toBe(true)
    const sv = Y.encodeStateVector(doc)
    doc.getText('t').insert(5, '!')
    expect(updateIsKnown(relayDoc, Y.encodeStateAsUpdate(doc, sv))).toBe(false)
    const sv2 = Y.encodeStateVector(doc)
    doc.getText('t').delete(0, 1)
    const deletion = Y.encodeStateAsUpdate(doc, sv2)
    expect(updateIsKnown(relayDoc, deletion)).toBe(false)
    relayDoc.getText('t').delete(0, 1)
    expect(updateIsKnown(relayDoc, deletion)).toBe(true)
    expect(() => updateIsKnown(relayDoc, new Uint8Array([1, 200, 3]))).toThrow()
  })
})
