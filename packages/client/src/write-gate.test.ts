import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { captureUpdate } from '@meridian/testing'
import { isMeridianError, type MeridianError } from './errors.js'
import { holdRefusedWrites } from './holding-write-gate.js'
import { Ledger } from './ledger.js'
import type { MeridianProviderOptions } from './options.js'
import { MeridianProvider } from './provider.js'
import { MemoryClientStore } from './store/memory-store.js'
import { manualClock } from './test-clock.test-helper.js'
import { fakeRelay, type FakeSocket } from './fake-relay.test-helper.js'
import { Waiters } from './waiters.js'
import { BasicWriteGate } from './write-gate.js'

const MAX_FRAME_BYTES = 1_000
const BIG = 'x'.repeat(2 * MAX_FRAME_BYTES)
/** Longer than any backoff and connect timeout: a provider that would reconnect has done so by then. */
const A_MINUTE_MS = 60_000

async function setup(options: Partial<MeridianProviderOptions> = {}) {
  const relay = fakeRelay()
  const clock = manualClock()
  const store = (options.store as MemoryClientStore | undefined) ?? new MemoryClientStore()
  const doc = new Y.Doc()
  const provider = new MeridianProvider({
    doc, docName: 'doc', url: 'ws://relay', WebSocket: relay.WebSocket, store, clock, random: () => 0.5,
    maxFrameBytes: MAX_FRAME_BYTES, syncProbeIntervalMs: 0, ...options
  })
  // The status each error was reported in: a stop reports once disconnected (the handler may connect() again).
  const errors: { error: MeridianError; status: string }[] = []
  provider.on('error', (error) => errors.push({ error, status: provider.status }))
  await provider.whenLoaded
  const socket = (i: number): FakeSocket => relay.sockets[i] as FakeSocket
  return { relay, clock, store, doc, provider, errors, socket }
}

/** The stop's message points to the way to keep syncing, and says nothing was lost. */
const tellsHow = (e: MeridianError): void => {
  expect(e.message).toContain('keeps every edit locally')
  expect(e.message).toContain('holdRefusedWrites from @meridian/client/refused-writes')
}

describe('BasicWriteGate: without holdRefusedWrites a write the relay cannot take stops syncing', () => {
  it('a live write too large for one frame: one error, the link closed before it is sent, no reconnecting, edits kept; connect() tries once more', async () => {
    const t = await setup()
    t.socket(0).open()
    expect(t.provider.status).toBe('connected')
    t.doc.getText('t').insert(0, BIG)
    expect(t.errors).toHaveLength(1)
    const [first] = t.errors
    expect(first?.error).toMatchObject({ code: 'ERR_WRITE_TOO_LARGE', seq: 1 })
    expect(first?.error.bytes).toBeGreaterThan(MAX_FRAME_BYTES)
    expect(first?.status).toBe('disconnected')
    tellsHow(first?.error as MeridianError)
    expect(t.socket(0).closedByClient).toBe(true)
    expect(t.socket(0).sent.every((frame) => frame.byteLength < MAX_FRAME_BYTES)).toBe(true)

    t.clock.advance(A_MINUTE_MS)
    expect(t.relay.sockets).toHaveLength(1)
    expect(t.provider.status).toBe('disconnected')

    // Nothing accepted is lost: the edits are in the local store's pending list and the ledger.
    t.doc.getMap('m').set('after', 1)
    await t.provider.whenPersisted()
    expect(t.provider.pendingCount).toBe(2)
    expect(t.provider.durabilityOf('all')).toBe('local')
    expect((await t.store.load('doc')).pending).toHaveLength(2)
    expect(t.provider.refusedWrites).toEqual([])

    // The app asks again: one attempt, whose step 2 carries the write again: stopped again, no loop.
    t.provider.connect()
    expect(t.relay.sockets).toHaveLength(2)
    t.socket(1).open()
    t.socket(1).step1()
    t.clock.advance(A_MINUTE_MS)
    expect(t.errors.map((e) => [e.error.code, e.status])).toEqual([['ERR_WRITE_TOO_LARGE', 'disconnected'], ['ERR_WRITE_TOO_LARGE', 'disconnected']])
    tellsHow(t.errors[1]?.error as MeridianError)
    expect(t.socket(1).closedByClient).toBe(true)
    expect(t.relay.sockets).toHaveLength(2)
    await t.provider.destroy()
  })

  it('once the app removes the data (Yjs keeps only its length), connect() syncs', async () => {
    const t = await setup()
    t.socket(0).open()
    const text = t.doc.getText('t')
    text.insert(0, BIG)
    text.delete(0, text.length)
    t.provider.connect()
    t.socket(1).open()
    t.socket(1).step1()
    t.clock.advance(A_MINUTE_MS)
    expect(t.errors).toHaveLength(1)
    expect(t.provider.status).toBe('connected')
    expect(t.socket(1).closedByClient).toBe(false)
    // hello, step 1, then our step 2 with everything the relay lacks.
    expect(t.socket(1).sent).toHaveLength(3)
    expect(t.relay.sockets).toHaveLength(2)
    await t.provider.destroy()
  })

  it.each([
    { code: 4413, reason: 'ERR_DOC_TOO_LARGE', error: 'ERR_WRITE_TOO_LARGE', relayCode: undefined, says: '4413: document too large' },
    { code: 1009, reason: '', error: 'ERR_WRITE_TOO_LARGE', relayCode: undefined, says: '1009: frame too large' },
    { code: 4400, reason: 'ERR_HISTORY_APPEND_ONLY', error: 'ERR_WRITE_REFUSED', relayCode: 'ERR_HISTORY_APPEND_ONLY', says: 'ERR_HISTORY_APPEND_ONLY' }
  ])('a relay close refusing a write ($code $reason): one $error, no reconnecting; connect() tries once more', async ({ code, reason, error, relayCode, says }) => {
    const t = await setup()
    t.socket(0).open()
    t.doc.getMap('m').set('k', 'v')
    t.socket(0).closeFromRelay(code, reason)
    expect(t.errors.map((e) => [e.error.code, e.error.relayCode, e.status])).toEqual([[error, relayCode, 'disconnected']])
    expect(t.errors[0]?.error.message).toContain(says)
    tellsHow(t.errors[0]?.error as MeridianError)
    t.clock.advance(A_MINUTE_MS)
    expect(t.relay.sockets).toHaveLength(1)
    expect(t.provider.status).toBe('disconnected')
    expect(t.provider.pendingCount).toBe(1)
    t.provider.connect()
    expect(t.relay.sockets).toHaveLength(2)
    expect(t.provider.status).toBe('connecting')
    await t.provider.destroy()
  })

  it.each([
    { code: 1006, reason: '' },
    { code: 4400, reason: 'ERR_UPDATE_INVALID' }
  ])('other closes ($code $reason) are no write refusal: the provider reconnects as usual', async ({ code, reason }) => {
    const t = await setup()
    t.socket(0).open()
    t.socket(0).closeFromRelay(code, reason)
    t.clock.advance(A_MINUTE_MS)
    expect(t.relay.sockets.length).toBeGreaterThan(1)
    expect(t.errors.filter((e) => isMeridianError(e.error, 'ERR_WRITE_TOO_LARGE', 'ERR_WRITE_REFUSED'))).toEqual([])
    await t.provider.destroy()
  })

  it('a write too large restored from the local store: one error on load, no connection attempt; the document has it; connect() tries once', async () => {
    const store = new MemoryClientStore()
    const earlier = new Y.Doc()
    const big = captureUpdate(earlier, () => earlier.getText('t').insert(0, BIG))
    await store.append('doc', [{ data: big, pending: true }])

    const t = await setup({ store })
    expect(t.errors.map((e) => [e.error.code, e.error.seq, e.status])).toEqual([['ERR_WRITE_TOO_LARGE', 1, 'disconnected']])
    tellsHow(t.errors[0]?.error as MeridianError)
    expect(t.doc.getText('t').toString()).toBe(BIG)
    t.clock.advance(A_MINUTE_MS)
    expect(t.relay.sockets).toHaveLength(0)
    expect(t.provider.status).toBe('disconnected')
    t.provider.connect()
    expect(t.relay.sockets).toHaveLength(1)
    await t.provider.destroy()
  })

  it('with holdRefusedWrites the same write is held back instead: one error, the link stays, the write listed', async () => {
    const t = await setup({ holdRefusedWrites })
    t.socket(0).open()
    t.doc.getText('t').insert(0, BIG)
    expect(t.errors.map((e) => [e.error.code, e.error.seq, e.status])).toEqual([['ERR_WRITE_TOO_LARGE', 1, 'connected']])
    expect(t.errors[0]?.error.message).toContain('provider.dropWrite(1)')
    expect(t.socket(0).closedByClient).toBe(false)
    expect(t.provider.refusedWrites.map((w) => [w.seq, w.reason])).toEqual([[1, 'frame-too-large']])
    await t.provider.destroy()
  })

  it('holds nothing back: refusedWrites is empty, dropWrite is an options error', async () => {
    const t = await setup({ connect: false })
    t.doc.getMap('m').set('k', 1)
    expect(t.provider.refusedWrites).toEqual([])
    expect(() => t.provider.dropWrite(1)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS', message: expect.stringContaining('write 1 is not a refused write') }) as Error)
    await t.provider.destroy()
  })

  it('sends what the relay lacks as Yjs encodes it, and every delete', () => {
    const doc = new Y.Doc()
    const stops: MeridianError[] = []
    const gate = new BasicWriteGate({
      doc, ledger: new Ledger(new Waiters(manualClock())), digest: null, maxFrameBytes: MAX_FRAME_BYTES,
      newClientId: () => 1, onError: (e) => stops.push(e), stop: (e) => stops.push(e)
    })
    doc.getMap('m').set('a', 1)
    doc.getMap('m').delete('a')
    const sv = Y.encodeStateVector(new Y.Doc())
    expect(gate.encodeDiff(sv, true)).toEqual(Y.encodeStateAsUpdate(doc, sv))
    const deletes = new Uint8Array([0, 1, 1, 1, 0, 1])
    expect(gate.sendableDeletes(deletes)).toBe(deletes)
    expect(gate.relayClosed(null, '')).toBeNull()
    expect(gate.relayClosed(1000, 'ERR_HISTORY_APPEND_ONLY')).toBeNull()
    expect(gate.relayClosed(4413, '')?.code).toBe('ERR_WRITE_TOO_LARGE')
    expect(stops).toEqual([])
  })
})
