import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CLOSE_CODES } from '@meridian/relay'
import { RawClient, relayView } from '@meridian/testing'
import { deleteSetUpdate, splittingDeletes } from './test-support/attacks.js'
import { metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

const KiB = 1024

describe('delete sets splitting items (security #15, finding 5)', () => {
  it('cannot grow a document past maxDocumentBytes: the size it will have is checked, cuts included', async () => {
    const maxDocumentBytes = 400 * KiB
    const { url, relay } = await pool.start({ maxDocumentBytes })
    const { insert } = splittingDeletes(300 * KiB, 0)
    const attacker = await RawClient.connect(url, 'split')
    attacker.send({ type: 'sync-update', update: insert })
    await attacker.next('ack', (a) => a.upTo >= 1)
    // Messages of 4,000 cuts each (8,000 splits: under the per-message work bound), until refused.
    let refused: { code: number; reason: string } | null = null
    const closed = attacker.closed(30_000).then((c) => (refused = c))
    for (let batch = 0; batch < 40 && refused === null; batch++) {
      const ranges: [number, number][] = []
      for (let i = 0; i < 4_000; i++) ranges.push([2 * (batch * 4_000 + i) + 1, 1])
      attacker.send({ type: 'sync-update', update: deleteSetUpdate(88, ranges) })
      await Promise.race([attacker.next('ack', (a) => a.upTo >= batch + 2, 10_000).catch(() => null), closed])
    }
    expect(refused).toEqual({ code: CLOSE_CODES.DOC_TOO_LARGE, reason: 'ERR_DOC_TOO_LARGE' })
    const room = relay.rooms.getLoaded('split')
    expect(Y.encodeStateAsUpdate(room?.doc ?? new Y.Doc()).length).toBeLessThanOrEqual(maxDocumentBytes)
    // The document is whole and readable.
    const view = await relayView(url, 'split')
    expect(view.getText('t').length).toBeGreaterThan(100 * KiB)
  }, 60_000)

  it('refuses one message whose delete set would split more items than the per-message bound, before any work', async () => {
    const { url, relay } = await pool.start()
    const { insert, deletes } = splittingDeletes(300 * KiB, 150_000)
    const attacker = await RawClient.connect(url, 'costly')
    attacker.send({ type: 'sync-update', update: insert })
    await attacker.next('ack', (a) => a.upTo >= 1)
    attacker.send({ type: 'sync-update', update: deletes })
    expect(await attacker.closed()).toEqual({ code: CLOSE_CODES.INVALID_UPDATE, reason: 'ERR_UPDATE_TOO_COSTLY' })
    // Nothing of it was applied: the insert is still one item.
    const view = await relayView(url, 'costly')
    expect(view.getText('t').length).toBe(300 * KiB)
    expect(metric(await scrape(relay), 'meridian_relay_rejected_messages_total', { reason: 'too_costly' })).toBe(1)
    // An honest delete of a range is fine.
    const honest = await RawClient.connect(url, 'costly')
    honest.send({ type: 'sync-update', update: deleteSetUpdate(88, [[10, 1_000]]) })
    await honest.next('ack', (a) => a.upTo >= 1)
  }, 60_000)
})
