import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import {
  DS_DIGEST_BYTES,
  DeleteSync,
  FEATURE_ACKS,
  FEATURE_DS_DIGEST,
  deleteSummaryBelow,
  deleteRangesOfUpdate,
  encodeBounds,
  minBounds,
  countDeletedClocks,
  type Message
} from '@meridian/protocol'
import { CLOSE_CODES } from '@meridian/relay'
import { RawClient } from '@meridian/testing'
import { relayPool } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

/** A document with deletions, stored on the relay by a writer; returns the writer's copy. */
async function seed(url: string, name: string): Promise<Y.Doc> {
  const doc = new Y.Doc()
  const text = doc.getText('t')
  for (let i = 0; i < 50; i++) {
    text.insert((i * 7) % (text.length + 1), 'abcd')
    if (text.length > 10) text.delete((i * 5) % (text.length - 2), 1)
  }
  const writer = await RawClient.connect(url, name)
  writer.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) })
  await writer.next('ack', (m) => m.upTo >= 1)
  writer.close()
  return doc
}

const digestFor = (doc: Y.Doc, relaySv: Uint8Array): { bounds: Uint8Array; digest: Uint8Array; deletedClocks: number } => {
  const bounds = minBounds(Y.decodeStateVector(Y.encodeStateVector(doc)), Y.decodeStateVector(relaySv))
  return { bounds: encodeBounds(bounds), ...deleteSummaryBelow(doc, bounds) }
}

describe('ds-digest on the relay', () => {
  it('agreed: step 2 leaves out deletes of structs the client holds; a matching digest gets a 3-byte reply', async () => {
    const { url } = await pool.start()
    const doc = await seed(url, 'dig')
    const c = await RawClient.connect(url, 'dig', { features: FEATURE_ACKS | FEATURE_DS_DIGEST })
    const hello = await c.next('hello')
    expect(hello.features & FEATURE_DS_DIGEST).toBe(FEATURE_DS_DIGEST)
    const step1 = await c.next('sync-step1')
    c.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(doc) })
    const step2 = await c.next('sync-step2')
    expect(deleteRangesOfUpdate(step2.update).size).toBe(0)
    c.send({ type: 'ds-digest', ...digestFor(doc, step1.stateVector) })
    expect(await c.next('ds-reply')).toStrictEqual({ type: 'ds-reply', kind: 'match' })
  })

  it('a digest that differs gets the relay\'s deletes; a client that did not agree the feature gets the whole delete set in step 2', async () => {
    const { url } = await pool.start()
    const doc = await seed(url, 'dig2')
    const stale = new Y.Doc()
    Y.applyUpdate(stale, Y.encodeStateAsUpdate(doc))
    // The relay learns one more delete the stale copy lacks.
    const sv = Y.encodeStateVector(doc)
    doc.getText('t').delete(0, 3)
    const w = await RawClient.connect(url, 'dig2')
    w.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc, sv) })
    await w.next('ack', (m) => m.upTo >= 1)

    const c = await RawClient.connect(url, 'dig2', { features: FEATURE_ACKS | FEATURE_DS_DIGEST })
    const step1 = await c.next('sync-step1')
    c.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(stale) })
    await c.next('sync-step2')
    c.send({ type: 'ds-digest', ...digestFor(stale, step1.stateVector) })
    const reply = await c.next('ds-reply')
    if (reply.kind !== 'deletes') throw new Error(`expected the relay's deletes, got ${reply.kind}`)
    Y.applyUpdate(stale, reply.update)
    expect(stale.getText('t').toString()).toBe(doc.getText('t').toString())

    const plain = await RawClient.connect(url, 'dig2')
    await plain.next('hello')
    plain.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(stale) })
    const full = await plain.next('sync-step2')
    expect(deleteRangesOfUpdate(full.update).size).toBeGreaterThan(0)
    // Not agreed: a digest is ignored (no reply), the connection stays up.
    plain.send({ type: 'ds-digest', bounds: new Uint8Array([0]), digest: new Uint8Array(DS_DIGEST_BYTES), deletedClocks: 0 })
    plain.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(stale) })
    await plain.next('sync-step2', () => plain.received.filter((m) => m.type === 'sync-step2').length >= 2)
    expect(plain.received.some((m) => m.type === 'ds-reply')).toBe(false)
  })

  it('answers a bucket reply\'s ds-ranges once, with its deletes in those buckets', async () => {
    const { url } = await pool.start()
    // Enough deletes (over DS_DIRECT_RANGES) that a differing digest gets bucket hashes.
    const doc = new Y.Doc()
    const text = doc.getText('t')
    for (let i = 0; i < 600; i++) {
      text.insert(text.length, 'abcd')
      text.delete(text.length - 2, 1)
    }
    const writer = await RawClient.connect(url, 'dig4')
    writer.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) })
    await writer.next('ack', (m) => m.upTo >= 1)
    const stale = new Y.Doc()
    Y.applyUpdate(stale, Y.encodeStateAsUpdate(doc))
    const sv = Y.encodeStateVector(doc)
    doc.getText('t').delete(10, 20)
    writer.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc, sv) })
    await writer.next('ack', (m) => m.upTo >= 2)

    const c = await RawClient.connect(url, 'dig4', { features: FEATURE_ACKS | FEATURE_DS_DIGEST })
    const step1 = await c.next('sync-step1')
    c.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(stale) })
    await c.next('sync-step2')
    const sync = new DeleteSync()
    c.send(sync.begin(stale, step1.stateVector))
    const buckets = await c.next('ds-reply')
    expect(buckets.kind).toBe('buckets')
    const step = sync.onReply(stale, buckets, true)
    if (step.ranges === null) throw new Error('expected a ds-ranges')
    expect(step.ranges.buckets.length).toBeLessThanOrEqual(2)
    c.send(step.ranges)
    c.send(step.ranges)
    const deletes = await c.next('ds-reply', (m) => m.kind === 'deletes')
    const last = sync.onReply(stale, deletes, true)
    if (last.apply !== null) Y.applyUpdate(stale, last.apply)
    expect(last).toMatchObject({ done: true, update: null })
    expect(stale.getText('t').toString()).toBe(doc.getText('t').toString())
    // The second ds-ranges was not answered (one per bucket reply).
    c.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(stale) })
    await c.next('sync-step2', () => c.received.filter((m) => m.type === 'sync-step2').length >= 2)
    expect(c.received.filter((m) => m.type === 'ds-reply')).toHaveLength(2)
  })

  it('answers one digest per sync-step1, and closes on malformed bounds', async () => {
    const { url } = await pool.start()
    const doc = await seed(url, 'dig3')
    const c = await RawClient.connect(url, 'dig3', { features: FEATURE_ACKS | FEATURE_DS_DIGEST })
    const step1 = await c.next('sync-step1')
    c.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(doc) })
    const digest = digestFor(doc, step1.stateVector)
    c.send({ type: 'ds-digest', ...digest })
    c.send({ type: 'ds-digest', ...digest })
    await c.next('ds-reply')
    // A round trip later, still only the one reply.
    c.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(doc) })
    await c.next('sync-step2', () => c.received.filter((m) => m.type === 'sync-step2').length >= 2)
    expect(c.received.filter((m) => m.type === 'ds-reply')).toHaveLength(1)

    c.send({ type: 'ds-digest', bounds: new Uint8Array([7]), digest: new Uint8Array(DS_DIGEST_BYTES), deletedClocks: 0 })
    expect(await c.closed()).toMatchObject({ code: CLOSE_CODES.INVALID_MESSAGE })
  })

  it('a client that left and comes back (same HELLO node id) gets exactly the deletes made since (kind recent)', async () => {
    const { url } = await pool.start()
    const doc = await seed(url, 'dig5')
    const features = FEATURE_ACKS | FEATURE_DS_DIGEST
    const hello = (nodeId: string) => ({ type: 'hello' as const, version: 1, role: 'client' as const, nodeId, region: '', features })
    const sync = async (c: RawClient, copy: Y.Doc): Promise<Extract<Message, { type: 'ds-reply' }>> => {
      const step1 = await c.next('sync-step1')
      c.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(copy) })
      await c.next('sync-step2')
      c.send({ type: 'ds-digest', ...digestFor(copy, step1.stateVector) })
      return c.next('ds-reply')
    }
    const mine = new Y.Doc()
    Y.applyUpdate(mine, Y.encodeStateAsUpdate(doc))
    const first = await RawClient.connect(url, 'dig5', { hello: false })
    first.send(hello('tab-1'))
    expect(await sync(first, mine)).toMatchObject({ kind: 'match' })
    first.close()
    await first.closed()

    // Someone else deletes while tab-1 is away.
    const stale = new Y.Doc()
    Y.applyUpdate(stale, Y.encodeStateAsUpdate(mine))
    const sv = Y.encodeStateVector(doc)
    doc.getText('t').delete(2, 5)
    const w = await RawClient.connect(url, 'dig5')
    w.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc, sv) })
    await w.next('ack', (m) => m.upTo >= 1)

    const again = await RawClient.connect(url, 'dig5', { hello: false })
    again.send(hello('tab-1'))
    const reply = await sync(again, mine)
    if (reply.kind !== 'recent') throw new Error(`expected kind recent, got ${reply.kind}`)
    expect(countDeletedClocks(deleteRangesOfUpdate(reply.update))).toBe(5)
    Y.applyUpdate(mine, reply.update)
    expect(mine.getText('t').toString()).toBe(doc.getText('t').toString())

    // Another node id, as stale as tab-1 was: the relay has no departure for it, so no guess.
    const fresh = await RawClient.connect(url, 'dig5', { hello: false })
    fresh.send(hello('tab-2'))
    expect((await sync(fresh, stale)).kind).toBe('deletes')
  })
})
