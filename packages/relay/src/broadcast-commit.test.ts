import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { MemoryStorageAdapter, type StorageAdapter } from '@meridian/storage'
import { CLOSE_CODES } from '@meridian/relay'
import { RawClient } from '@meridian/testing'
import { frameBinaryMessages } from './broadcast.js'
import { metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

/** Memory storage whose commits can be held (to see what waits for them) and that records every commit. */
function gatedStorage(): StorageAdapter & { commits: number[][]; hold: () => void; release: () => void; failNext: () => void } {
  const inner = new MemoryStorageAdapter()
  let gate: Promise<void> | null = null
  let open: (() => void) | null = null
  let fail = false
  const commit = async <T>(updates: readonly Uint8Array[], run: () => Promise<T>): Promise<T> => {
    wrapper.commits.push(updates.map((u) => u.length))
    if (gate !== null) await gate
    if (fail) {
      fail = false
      throw new Error('disk full')
    }
    return run()
  }
  const wrapper = {
    commits: [] as number[][],
    hold: () => {
      gate = new Promise<void>((resolve) => (open = resolve))
    },
    release: () => {
      gate = null
      open?.()
    },
    failNext: () => {
      fail = true
    },
    load: (n: string) => inner.load(n),
    append: (n: string, u: Uint8Array) => commit([u], () => inner.append(n, u)),
    appendMany: (n: string, us: readonly Uint8Array[]) => commit(us, () => inner.appendMany(n, us)),
    compact: (n: string, s: Uint8Array, t: number) => inner.compact(n, s, t),
    remove: (n: string) => inner.remove(n),
    list: () => inner.list(),
    close: () => inner.close()
  }
  return wrapper
}

async function storedDoc(storage: StorageAdapter, docName: string): Promise<Y.Doc> {
  const stored = await storage.load(docName)
  const doc = new Y.Doc()
  Y.transact(doc, () => {
    if (stored?.snapshot) Y.applyUpdate(doc, stored.snapshot)
    for (const u of stored?.updates ?? []) Y.applyUpdate(doc, u.data)
  })
  return doc
}

describe('broadcast framing', () => {
  it('frames messages exactly as ws does (7-bit, 16-bit and 64-bit lengths), back to back', () => {
    const sizes = [0, 1, 125, 126, 65_535, 65_536, 70_000]
    const messages = sizes.map((n, i) => new Uint8Array(n).fill(i + 1))
    const expected = Buffer.concat(messages.flatMap((m) =>
      WebSocket.Sender.frame(Buffer.from(m), { fin: true, opcode: 2, mask: false, readOnly: false, rsv1: false })
    ))
    expect(frameBinaryMessages(messages).equals(expected)).toBe(true)
  })

  it('a burst from one writer reaches every receiver whole and in order, never echoed, counted once per socket', async () => {
    const { url, relay } = await pool.start()
    const writer = await RawClient.connect(url, 'burst')
    const receivers = await Promise.all([0, 1].map(() => RawClient.connect(url, 'burst')))
    const plain = await RawClient.connect(url, 'burst', { hello: false })
    for (const c of [writer, ...receivers, plain]) await c.next('sync-step1')
    // Sent in one go: the relay reads them in one or a few turns and broadcasts each turn at once.
    const big = 'x'.repeat(100_000)
    for (let i = 0; i < 20; i++) writer.edit((d) => d.getArray('log').push([i === 10 ? big : i]))
    const expected = writer.doc.getArray('log').toJSON()
    for (const r of [...receivers, plain]) {
      await r.next('sync-update', () => r.doc.getArray('log').length === 20)
      expect(r.doc.getArray('log').toJSON()).toEqual(expected)
      // Each update arrives as its own message, in the writer's order.
      const got = r.received.filter((m) => m.type === 'sync-update')
      expect(got).toHaveLength(20)
    }
    expect(writer.received.filter((m) => m.type === 'sync-update')).toHaveLength(0)
    await writer.next('ack', (m) => m.upTo >= 21)
    expect(metric(await scrape(relay), 'meridian_relay_messages_sent_total', { type: 'sync_update' })).toBe(60)
  })
})

describe('group commit', () => {
  it('acknowledges only after the commit that covers an update; updates arriving meanwhile share the next commit', async () => {
    const storage = gatedStorage()
    const { url } = await pool.start({ storage })
    const writer = await RawClient.connect(url, 'gc')
    const watcher = await RawClient.connect(url, 'gc')
    await writer.next('sync-step1')
    await watcher.next('sync-step1')
    storage.hold()
    writer.edit((d) => d.getMap('m').set('a', 1))
    // The relay broadcasts before it commits: once the watcher has it, the commit has started and waits.
    await watcher.next('sync-update', () => watcher.doc.getMap('m').get('a') === 1)
    for (const k of ['b', 'c', 'd']) writer.edit((d) => d.getMap('m').set(k, 1))
    await watcher.next('sync-update', () => watcher.doc.getMap('m').size === 4)
    expect(storage.commits).toHaveLength(1)
    expect(writer.received.some((m) => m.type === 'ack' && m.upTo >= 2)).toBe(false)
    storage.release()
    // Cumulative: the first commit covers message 2, the next one (all three queued meanwhile) 3 to 5.
    await writer.next('ack', (m) => m.upTo >= 5)
    expect(storage.commits.map((c) => c.length)).toEqual([1, 3])
    expect((await storedDoc(storage, 'gc')).getMap('m').toJSON()).toEqual({ a: 1, b: 1, c: 1, d: 1 })
  })

  it('a failed group commit acknowledges none of its updates, and their resend is stored', async () => {
    const storage = gatedStorage()
    const { url } = await pool.start({ storage })
    const writer = await RawClient.connect(url, 'gc-fail')
    const watcher = await RawClient.connect(url, 'gc-fail')
    await writer.next('sync-step1')
    await watcher.next('sync-step1')
    storage.hold()
    writer.edit((d) => d.getMap('m').set('first', 1))
    await watcher.next('sync-update', () => watcher.doc.getMap('m').has('first'))
    for (const k of ['x', 'y']) writer.edit((d) => d.getMap('m').set(k, 1))
    await watcher.next('sync-update', () => watcher.doc.getMap('m').size === 3)
    storage.failNext()
    storage.release()
    expect((await writer.closed()).code).toBe(CLOSE_CODES.INTERNAL_ERROR)
    expect(writer.received.some((m) => m.type === 'ack' && m.upTo >= 2)).toBe(false)
    // Reconnected, the client's step 2 carries everything the relay lacks (the room reloaded from storage).
    const again = await RawClient.connect(url, 'gc-fail')
    again.edit((d) => Y.applyUpdate(d, Y.encodeStateAsUpdate(writer.doc)))
    await again.next('sync-step1')
    await again.next('ack', (m) => m.upTo >= 2)
    expect((await storedDoc(storage, 'gc-fail')).getMap('m').toJSON()).toEqual({ first: 1, x: 1, y: 1 })
  })
})

describe('compaction', () => {
  it('folds what this relay stored from memory, keeping the document whole', async () => {
    const storage = new MemoryStorageAdapter()
    const { url, relay } = await pool.start({ storage, compactAfterUpdates: 5 })
    const a = await RawClient.connect(url, 'fold')
    await a.next('sync-step1')
    for (let i = 0; i < 12; i++) {
      a.edit((d) => d.getText('t').insert(d.getText('t').length, `${i},`))
      await a.next('ack', (m) => m.upTo >= i + 2)
    }
    await relay.rooms.getLoaded('fold')?.flush()
    const stored = await storage.load('fold')
    expect(stored?.snapshot).not.toBeNull()
    expect(stored?.updates.length).toBeLessThan(5)
    expect((await storedDoc(storage, 'fold')).getText('t').toString()).toBe(a.doc.getText('t').toString())
  })

  it('rebuilds from storage when another writer appended in between (shared storage), losing nothing of it', async () => {
    const storage = new MemoryStorageAdapter()
    const { url, relay } = await pool.start({ storage, compactAfterUpdates: 4 })
    const a = await RawClient.connect(url, 'shared')
    await a.next('sync-step1')
    a.edit((d) => d.getMap('m').set('a1', 1))
    await a.next('ack', (m) => m.upTo >= 2)
    // Another relay on the same storage stores an update this relay never sees.
    const other = new Y.Doc()
    other.getMap('m').set('elsewhere', true)
    await storage.append('shared', Y.encodeStateAsUpdate(other))
    for (let i = 2; i <= 5; i++) {
      a.edit((d) => d.getMap('m').set(`a${i}`, i))
      await a.next('ack', (m) => m.upTo >= i + 1)
    }
    // Compaction ran (four updates of its own); the foreign one must have been folded in, not dropped.
    await relay.rooms.getLoaded('shared')?.flush()
    expect((await storage.load('shared'))?.snapshot).not.toBeNull()
    const doc = await storedDoc(storage, 'shared')
    expect(doc.getMap('m').toJSON()).toEqual({ a1: 1, a2: 2, a3: 3, a4: 4, a5: 5, elsewhere: true })
  })
})
