import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { DEFAULT_MAX_FRAME_BYTES, type WebSocketConstructor } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { holdRefusedWrites } from '@meridian/client/refused-writes'
import { createTestClient, NodeWebSocket, startTestRelay, storedDoc, waitUntil, type TestRelay } from '@meridian/testing'

// A write larger than a frame may be (the relay's maxMessageBytes, 16 MiB by default) must not send the SDK
// into a reconnect loop resending it (y-websocket#189). With holdRefusedWrites: one clear error names it, the
// document keeps it, other writes still sync, and the app can drop it (without it, syncing stops: write-gate.test.ts).
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** `ws`, counting the connections the SDK opens. */
function countingWebSocket(): { WebSocket: WebSocketConstructor; count: () => number } {
  let n = 0
  const Counting = function (url: string) {
    n++
    return new NodeWebSocket(url)
  } as unknown as WebSocketConstructor
  return { WebSocket: Counting, count: () => n }
}

async function relay(options: Parameters<typeof startTestRelay>[0] = {}): Promise<TestRelay> {
  const r = await startTestRelay(options)
  cleanups.push(() => r.relay.close())
  return r
}

describe('a write too large for one frame', () => {
  it('20 MiB pending against a 16 MiB frame limit: one error naming the write, one connection, other writes sync, drop releases it', async () => {
    expect(DEFAULT_MAX_FRAME_BYTES).toBe(16 * 1024 * 1024)
    const { url, storage } = await relay()
    const ws = countingWebSocket()
    const a = createTestClient('big', { url, WebSocket: ws.WebSocket, connect: false, holdRefusedWrites })
    const b = createTestClient('big', { url })
    cleanups.push(() => a.provider.destroy(), () => b.provider.destroy())
    const errors: { code: string; seq: number | undefined; bytes: number | undefined }[] = []
    a.provider.on('error', (e) => errors.push({ code: e.code, seq: e.seq, bytes: e.bytes }))
    await a.provider.whenLoaded

    // Offline: a small write, the 20 MiB one, another small one.
    a.doc.getMap('m').set('before', 1)
    a.doc.getMap('m').set('blob', 'x'.repeat(20 * 1024 * 1024))
    a.doc.getMap('m').set('after', 2)
    expect(a.provider.pendingCount).toBe(3)
    expect(errors).toEqual([{ code: 'ERR_WRITE_TOO_LARGE', seq: 2, bytes: expect.any(Number) }])
    expect(errors[0]?.bytes).toBeGreaterThan(20 * 1024 * 1024)
    expect(a.provider.refusedWrites.map((w) => [w.seq, w.reason])).toEqual([[2, 'frame-too-large']])

    a.provider.connect()
    await a.provider.whenSynced({ timeoutMs: 10_000 })
    // The other writes reach the relay and another client; the big one stays local only.
    await waitUntil(() => b.doc.getMap('m').get('after') === 2 && b.doc.getMap('m').get('before') === 1, { timeoutMs: 10_000 })
    expect(b.doc.getMap('m').has('blob')).toBe(false)
    expect(a.doc.getMap('m').get('blob')).toHaveLength(20 * 1024 * 1024)
    // Writes after it sync too, and are acknowledged while it is held back.
    a.doc.getMap('m').set('later', 3)
    await waitUntil(() => b.doc.getMap('m').get('later') === 3, { timeoutMs: 10_000 })
    await waitUntil(() => a.provider.pendingCount === 1, { timeoutMs: 10_000 })
    expect(a.provider.durabilityOf('all')).not.toBe('relay')

    // No reconnect loop: still the one connection, and still one error.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(ws.count()).toBe(1)
    expect(a.provider.status).toBe('connected')
    expect(errors.map((e) => e.code)).toEqual(['ERR_WRITE_TOO_LARGE'])

    // The app drops it: the key goes away everywhere and nothing is pending any more.
    a.provider.dropWrite(2)
    expect(a.doc.getMap('m').has('blob')).toBe(false)
    await a.provider.whenAcknowledged({ timeoutMs: 10_000 })
    expect(a.provider.refusedWrites).toEqual([])
    expect(a.provider.durabilityOf('all')).toBe('relay')
    const stored = await storedDoc(storage, 'big')
    expect(stored.getMap('m').toJSON()).toEqual({ before: 1, after: 2, later: 3 })
    expect(ws.count()).toBe(1)
    expect(() => a.provider.dropWrite(2)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS' }))
  }, 60_000)

  it('a live write that builds on the refused one is held with it; independent live writes still sync', async () => {
    const { url } = await relay({ maxMessageBytes: 1024 * 1024 })
    const a = createTestClient('live', { url, maxFrameBytes: 1024 * 1024, holdRefusedWrites })
    const b = createTestClient('live', { url })
    cleanups.push(() => a.provider.destroy(), () => b.provider.destroy())
    await Promise.all([a.provider.whenSynced(), b.provider.whenSynced()])
    const text = a.doc.getText('t')
    text.insert(0, 'y'.repeat(2 * 1024 * 1024))
    // Typing right after the refused text depends on it: held, not sent into a refusal.
    text.insert(text.length, '!')
    a.doc.getMap('m').set('independent', true)
    await waitUntil(() => b.doc.getMap('m').get('independent') === true, { timeoutMs: 10_000 })
    expect(a.provider.refusedWrites.map((w) => [w.seq, w.reason, w.dependsOn])).toEqual([[1, 'frame-too-large', null], [2, 'depends-on-refused', 1]])
    expect(b.doc.getText('t').length).toBe(0)
    expect(a.errors.filter((e) => e.startsWith('ERR_WRITE_TOO_LARGE'))).toHaveLength(1)
    a.provider.dropWrite(1)
    await a.provider.whenAcknowledged({ timeoutMs: 10_000 })
    await waitUntil(() => b.doc.getText('t').toString() === '!', { timeoutMs: 10_000 })
    expect(Y.encodeStateVector(a.doc)).toEqual(Y.encodeStateVector(b.doc))
  }, 60_000)

  it('refused by the relay (4413: the document would grow too large): held back after one refusal, one reconnection, no loop', async () => {
    const { url, storage } = await relay({ maxDocumentBytes: 64 * 1024 })
    const ws = countingWebSocket()
    const a = createTestClient('grow', { url, WebSocket: ws.WebSocket, holdRefusedWrites })
    cleanups.push(() => a.provider.destroy())
    await a.provider.whenSynced()
    a.doc.getMap('m').set('small', 1)
    await a.provider.whenAcknowledged({ timeoutMs: 10_000 })
    a.doc.getMap('m').set('big', 'z'.repeat(100 * 1024))
    await waitUntil(() => a.provider.refusedWrites.length === 1, { timeoutMs: 10_000 })
    expect(a.provider.refusedWrites.map((w) => [w.seq, w.reason])).toEqual([[2, 'relay-refused']])
    expect(a.errors.filter((e) => e.startsWith('ERR_WRITE_TOO_LARGE'))).toEqual([expect.stringContaining('4413')])
    await a.provider.whenSynced({ timeoutMs: 10_000 })
    a.doc.getMap('m').set('after', 2)
    await waitUntil(async () => (await storedDoc(storage, 'grow')).getMap('m').get('after') === 2, { timeoutMs: 10_000 })
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(ws.count()).toBe(2)
    expect(a.doc.getMap('m').get('big')).toHaveLength(100 * 1024)
  }, 60_000)

  it('restored from the local store after a reload: held back too, the rest syncs, one connection', async () => {
    const { url, storage } = await relay()
    const store = new MemoryClientStore()
    const first = createTestClient('reload', { url, store, connect: false, holdRefusedWrites })
    await first.provider.whenLoaded
    first.doc.getMap('m').set('small', 1)
    first.doc.getMap('m').set('blob', 'b'.repeat(17 * 1024 * 1024))
    await first.provider.whenPersisted()
    await first.provider.destroy()

    const ws = countingWebSocket()
    const again = createTestClient('reload', { url, store, WebSocket: ws.WebSocket, holdRefusedWrites })
    cleanups.push(() => again.provider.destroy())
    await again.provider.whenSynced({ timeoutMs: 10_000 })
    expect(again.provider.refusedWrites.map((w) => [w.seq, w.reason])).toEqual([[2, 'frame-too-large']])
    await waitUntil(async () => (await storedDoc(storage, 'reload')).getMap('m').get('small') === 1, { timeoutMs: 10_000 })
    expect((await storedDoc(storage, 'reload')).getMap('m').has('blob')).toBe(false)
    expect(again.errors.filter((e) => e.startsWith('ERR_WRITE_TOO_LARGE'))).toHaveLength(1)
    expect(ws.count()).toBe(1)
  }, 60_000)
})
