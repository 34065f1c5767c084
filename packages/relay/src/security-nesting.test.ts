import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorageAdapter } from '@meridian/storage'
import { CLOSE_CODES } from '@meridian/relay'
import { RawClient, relayView } from '@meridian/testing'
import { deepNesting, deleteSetUpdate } from './test-support/attacks.js'
import { metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

/** An honest writer's replica: `write` sends its change and resolves once the relay acknowledged it. */
function honestWriter(docName: string): { doc: Y.Doc; write: (url: string, text: string) => Promise<void> } {
  const doc = new Y.Doc()
  return {
    doc,
    async write(url, text) {
      const c = await RawClient.connect(url, docName)
      const sv = Y.encodeStateVector(doc)
      doc.getText('t').insert(doc.getText('t').length, text)
      c.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc, sv) })
      await c.next('ack', (m) => m.upTo >= 1)
      await c.close()
    }
  }
}

describe('deep nesting (security #15, finding 2)', () => {
  it('refuses an update nesting deeper than the limit before applying it; the document stays healthy', async () => {
    const storage = new MemoryStorageAdapter()
    const { url, relay } = await pool.start({ storage })
    const bystander = await RawClient.connect(url, 'deep')
    await bystander.next('sync-step1')

    const attacker = await RawClient.connect(url, 'deep')
    const { update, outer } = deepNesting(3_000)
    attacker.send({ type: 'sync-update', update })
    expect(await attacker.closed()).toEqual({ code: CLOSE_CODES.INVALID_UPDATE, reason: 'ERR_UPDATE_TOO_DEEP' })
    // The follow-up delete of the outermost map refers to nothing the relay has.
    const second = await RawClient.connect(url, 'deep')
    second.send({ type: 'sync-update', update: deleteSetUpdate(outer.client, [[outer.clock, 1]]) })
    expect((await second.closed()).code).toBe(CLOSE_CODES.INVALID_UPDATE)
    expect(await storage.load('deep')).toBeNull()

    await honestWriter('deep').write(url, 'still fine')
    await bystander.next('sync-update', () => bystander.doc.getText('t').toString() === 'still fine')
    expect(metric(await scrape(relay), 'meridian_relay_rejected_messages_total', { reason: 'too_deep' })).toBe(1)
  })

  it('counts depth across updates: nesting built up in steps is refused at the limit', async () => {
    const { url } = await pool.start({ maxNestingDepth: 64 })
    const doc = new Y.Doc()
    let m = new Y.Map<unknown>()
    doc.getMap('root').set('a', m)
    for (let i = 0; i < 50; i++) {
      const child = new Y.Map<unknown>()
      m.set('c', child)
      m = child
    }
    const c = await RawClient.connect(url, 'steps')
    c.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) })
    await c.next('ack', (a) => a.upTo >= 1)
    const sv = Y.encodeStateVector(doc)
    for (let i = 0; i < 20; i++) {
      const child = new Y.Map<unknown>()
      m.set('c', child)
      m = child
    }
    c.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc, sv) })
    expect(await c.closed()).toEqual({ code: CLOSE_CODES.INVALID_UPDATE, reason: 'ERR_UPDATE_TOO_DEEP' })
    // Arrays and text nest the same way: the first 50 levels are there, the rest is not.
    const view = await relayView(url, 'steps')
    let depth = 0
    let at: unknown = view.getMap('root').get('a')
    while (at instanceof Y.Map && depth < 1_000) {
      depth++
      at = at.get('c')
    }
    expect(depth).toBe(51)
  })

  it('an update that fails inside Yjs breaks the room: peers are failed, nothing unstored is acknowledged, nothing is compacted, it reloads from storage', async () => {
    const storage = new MemoryStorageAdapter()
    // The nesting check off, to reach the failure it guards against (Yjs' cleanup overflowing the stack).
    const options = { storage, maxNestingDepth: 1_000_000 }
    const { url, relay } = await pool.start(options)
    const writer = honestWriter('brick')
    await writer.write(url, 'before ')
    const bystander = await RawClient.connect(url, 'brick')
    bystander.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    await bystander.next('sync-step2')

    const attacker = await RawClient.connect(url, 'brick')
    const { update, outer } = deepNesting(6_000)
    attacker.send({ type: 'sync-update', update })
    await attacker.next('ack', (a) => a.upTo >= 1, 20_000)
    attacker.send({ type: 'sync-update', update: deleteSetUpdate(outer.client, [[outer.clock, 1]]) })
    expect((await attacker.closed(20_000)).code).toBe(CLOSE_CODES.INTERNAL_ERROR)
    expect(await bystander.closed()).toEqual({ code: CLOSE_CODES.INTERNAL_ERROR, reason: 'ERR_DOC_BROKEN' })
    // What storage holds still loads, and the failed delete is not in it (nothing was stored, nor compacted, after it).
    const stored = await storage.load('brick')
    const check = new Y.Doc()
    if (stored?.snapshot != null) Y.applyUpdate(check, stored.snapshot)
    for (const u of stored?.updates ?? []) Y.applyUpdate(check, u.data)
    expect(check.getMap('root').has('a')).toBe(true)

    // The room reloads from storage; a write now is acknowledged only once stored, and survives a restart.
    await writer.write(url, 'after')
    await relay.close()
    const restarted = await pool.start({ storage })
    const view = await relayView(restarted.url, 'brick')
    expect(view.getText('t').toString()).toBe('before after')
    expect(metric(await scrape(restarted.relay), 'meridian_relay_document_loads_total', { result: 'error' })).toBe(0)
  }, 60_000)
})
