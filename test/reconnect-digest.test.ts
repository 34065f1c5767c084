import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createMemoryCluster, createPrng, parseSeed, type ClusterClient, type MemoryCluster } from '@meridian/testing'

// FEATURE_DS_DIGEST end to end: SDK providers and a relay on the simulated network.
const seed = parseSeed(process.env.MERIDIAN_SEED)

let cluster: MemoryCluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

/** A text with many deletions: its delete set alone is over 2 KB. */
const buildLargeText = (client: ClusterClient): void => {
  const random = createPrng(seed)
  const text = client.doc.getText('t')
  for (let i = 0; i < 1500; i++) {
    client.doc.transact(() => {
      text.insert(Math.floor(random() * (text.length + 1)), 'abc')
      if (text.length > 20) text.delete(Math.floor(random() * (text.length - 3)), 1)
    })
  }
}

/** Payload bytes each way between `client` and its relay on the reconnect (from the network's frame trace). */
const reconnect = async (c: MemoryCluster, client: ClusterClient): Promise<{ up: number; down: number }> => {
  const from = c.network.trace.length
  client.provider.connect()
  await c.drive(client.provider.whenSynced({ timeoutMs: 5_000 }))
  await c.settle()
  let up = 0
  let down = 0
  for (const line of c.network.trace.slice(from)) {
    // `<ms> <from>><to> data <bytes> <hash>`
    const [, route, what, bytes] = line.split(' ')
    if (what !== 'data' || route === undefined) continue
    if (route === `${client.id}>${client.relay.id}`) up += Number(bytes)
    if (route === `${client.relay.id}>${client.id}`) down += Number(bytes)
  }
  return { up, down }
}

describe('reconnect with the delete-set digest', () => {
  it('costs bytes for what changed, not for the whole delete set, and converges', async () => {
    const c = (cluster = await createMemoryCluster({
      seed,
      trace: true,
      regions: ['eu'],
      clients: [{ id: 'writer', docName: 'd' }, { id: 'reader', docName: 'd' }]
    }))
    const writer = c.client('writer')
    const reader = c.client('reader')
    buildLargeText(writer)
    await c.settle()
    const fullDeleteSet = Y.encodeStateAsUpdate(reader.doc, Y.encodeStateVector(reader.doc)).length
    expect(fullDeleteSet).toBeGreaterThan(2_000)

    // Unchanged: both sides' deletes match, so the delete set does not travel.
    reader.provider.disconnect()
    await c.run(100)
    const unchanged = await reconnect(c, reader)
    expect(unchanged.up).toBeLessThan(150)
    expect(unchanged.down).toBeLessThan(150)

    // Offline edits (deletes included): they travel once, with our step 2.
    reader.provider.disconnect()
    await c.run(100)
    const updates = c.randomEdits(reader, { ops: 30, seed: seed + 1 })
    const changed = Y.mergeUpdates(updates).length
    const offline = await reconnect(c, reader)
    // Besides the edits: hello, step 1, awareness, digest (~70 B). The step 2 encodes the edits from
    // the document, where later inserts split earlier ones: somewhat more than the merged updates.
    expect(offline.up).toBeLessThan(changed * 1.5 + 100)
    expect(offline.down).toBeLessThan(150)

    // Someone else deleted meanwhile: the digests differ, the relay sends its deletes, we converge.
    reader.provider.disconnect()
    await c.run(100)
    writer.doc.getText('t').delete(5, 40)
    c.randomEdits(writer, { ops: 20, seed: seed + 2 })
    c.randomEdits(reader, { ops: 20, seed: seed + 3 })
    await c.run(100)
    await reconnect(c, reader)
    await c.expectConverged()
    await c.expectNoLostWrites()
  })

  it('a client whose deletes are in no pending update (handed over by another tab) still converges', async () => {
    const c = (cluster = await createMemoryCluster({
      seed,
      trace: true,
      regions: ['eu'],
      clients: [{ id: 'a', docName: 'd' }, { id: 'b', docName: 'd' }]
    }))
    const a = c.client('a')
    const b = c.client('b')
    buildLargeText(a)
    await c.settle()
    b.provider.disconnect()
    await c.run(100)
    // A delete applied as if it came from a relay (so not in our outbox) that this relay never saw.
    const side = new Y.Doc()
    Y.applyUpdate(side, Y.encodeStateAsUpdate(b.doc))
    const captured: Uint8Array[] = []
    side.on('update', (u: Uint8Array) => captured.push(u))
    side.getText('t').delete(3, 10)
    for (const u of captured) Y.applyUpdate(b.doc, u, b.provider)
    expect(b.doc.getText('t').toString()).not.toBe(a.doc.getText('t').toString())
    await reconnect(c, b)
    await c.expectConverged()
    expect(a.doc.getText('t').toString()).toBe(b.doc.getText('t').toString())
  })

  it('a paragraph deleted by someone else while away costs about the deletion, not the delete set', async () => {
    const c = (cluster = await createMemoryCluster({
      seed,
      trace: true,
      regions: ['eu'],
      clients: [{ id: 'typist', docName: 'd' }, { id: 'reader', docName: 'd' }]
    }))
    const typist = c.client('typist')
    const reader = c.client('reader')
    // Typed as people type: paragraph after paragraph, typos fixed on the spot (many small delete ranges).
    const text = typist.doc.getText('t')
    for (let p = 0; p < 80; p++) {
      typist.doc.transact(() => {
        for (let k = 0; k < 60; k++) {
          text.insert(text.length, 'x')
          if (k % 8 === 7) text.delete(text.length - 1, 1)
        }
        text.insert(text.length, '\n')
      })
    }
    await c.settle()
    const fullDeleteSet = Y.encodeStateAsUpdate(reader.doc, Y.encodeStateVector(reader.doc)).length
    reader.provider.disconnect()
    await c.run(100)
    text.delete(20 * 54, 54)
    await c.until(() => typist.provider.pendingCount === 0, 'the relay has the deletion')
    const { up, down } = await reconnect(c, reader)
    await c.expectConverged()
    // The relay saw this provider leave (its HELLO id) and logged the deletion since: exactly that comes down.
    expect(down).toBeLessThan(200)
    expect(down).toBeLessThan(fullDeleteSet / 8)
    expect(up).toBeLessThan(200)
  })
})
