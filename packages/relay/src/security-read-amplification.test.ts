import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CLOSE_CODES, mintToken } from '@meridian/relay'
import { RawClient } from '@meridian/testing'
import { SECRET, relayPool } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

describe('read amplification (security #15, finding 8)', () => {
  it('a reader repeating sync-step1 gets cached encodings and is cut off past its answer budget', async () => {
    const maxDocumentBytes = 2 * 1024 * 1024
    const { url, relay } = await pool.start({ auth: { mode: 'jwt', secret: SECRET }, maxDocumentBytes })
    const write = await mintToken({ secret: SECRET, docs: [{ pattern: '*', access: 'write' }], ttlSeconds: 300 })
    const read = await mintToken({ secret: SECRET, docs: [{ pattern: '*', access: 'read' }], ttlSeconds: 300 })
    const writer = await RawClient.connect(url, 'big', { query: { token: write } })
    const doc = new Y.Doc()
    for (let i = 0; i < 200; i++) doc.getText('t').insert(0, `${i}:${'y'.repeat(5_000)}`)
    writer.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) })
    await writer.next('ack', (a) => a.upTo >= 1)
    const docBytes = Y.encodeStateAsUpdate(doc).length

    const reader = await RawClient.connect(url, 'big', { query: { token: read } })
    // A non-empty state vector naming a client the relay has never seen: the answer is the whole document.
    const bogus = new Uint8Array([1, 5, 1])
    for (let i = 0; i < 40; i++) reader.send({ type: 'sync-step1', stateVector: bogus })
    expect(await reader.closed()).toEqual({ code: CLOSE_CODES.RATE_LIMITED, reason: 'ERR_RATE_LIMITED' })
    const answers = reader.received.filter((m) => m.type === 'sync-step2')
    // The burst: two whole documents of maxDocumentBytes (plus slack), whatever the state vector asked.
    const budget = 2 * maxDocumentBytes + 64 * 1024
    expect(answers.reduce((n, m) => n + (m.type === 'sync-step2' ? m.update.length : 0), 0)).toBeLessThanOrEqual(budget)
    expect(answers.length).toBeLessThan(40)
    expect(docBytes).toBeGreaterThan(500_000)

    // Same version, same state vector: the same encoding, made once.
    const room = relay.rooms.getLoaded('big')
    expect(room).toBeDefined()
    if (room === undefined) return
    expect(room.diffFor(bogus)).toBe(room.diffFor(bogus))
    expect(room.diffFor(bogus, 'new-deletes')).toBe(room.diffFor(bogus, 'new-deletes'))
  })
})
