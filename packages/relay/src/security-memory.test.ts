import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CLOSE_CODES } from '@meridian/relay'
import { RawClient, waitUntil } from '@meridian/testing'
import { metric, relayPool, scrape } from './test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

/** Opens `docName`, writes ~`bytes` of text and keeps the connection (the document stays loaded). */
async function holdDoc(url: string, docName: string, bytes: number): Promise<RawClient | { code: number; reason: string }> {
  const c = await RawClient.connect(url, docName)
  const first = await Promise.race([c.next('sync-step1').then(() => 'in' as const), c.closed()])
  if (first !== 'in') return first
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'z'.repeat(bytes))
  c.send({ type: 'sync-update', update: Y.encodeStateAsUpdate(doc) })
  await c.next('ack', (a) => a.upTo >= 1)
  return c
}

describe('memory budget for loaded documents (security #15, finding 6)', () => {
  it('refuses new loads with a retryable close when over budget, and evicts idle documents first', async () => {
    const budget = 4 * 1024 * 1024
    const { url, relay } = await pool.start({ maxDocumentMemoryBytes: budget, evictIdleAfterMs: 600_000, maxConnectionsPerIp: 1_000 })
    const held: RawClient[] = []
    let refused: { code: number; reason: string } | null = null
    // 20 KB each, about 800 KB estimated: the budget holds a handful. Bounded loop.
    for (let i = 0; i < 100 && refused === null; i++) {
      const r = await holdDoc(url, `doc-${i}`, 20_000)
      if (r instanceof RawClient) held.push(r)
      else refused = r
    }
    expect(refused).toEqual({ code: CLOSE_CODES.TRY_AGAIN_LATER, reason: 'ERR_MEMORY_BUDGET' })
    expect(held.length).toBeGreaterThan(1)
    expect(held.length).toBeLessThan(10)
    let m = await scrape(relay)
    expect(metric(m, 'meridian_relay_document_memory_budget_bytes')).toBe(budget)
    expect(metric(m, 'meridian_relay_connections_refused_total', { reason: 'memory_budget' })).toBe(1)

    // Once some documents are idle, a new load evicts them (their writes flushed first) and succeeds.
    for (const c of held.splice(0, 3)) await c.close()
    await waitUntil(() => relay.rooms.getLoaded('doc-0')?.isIdle === true, 'the relay saw the closes')
    const after = await holdDoc(url, 'doc-new', 1_000)
    expect(after).toBeInstanceOf(RawClient)
    m = await scrape(relay)
    expect(metric(m, 'meridian_relay_document_evictions_total')).toBeGreaterThanOrEqual(1)
    expect(metric(m, 'meridian_relay_document_memory_bytes')).toBeLessThanOrEqual(budget + 1_000 * 40 * 2)
    // An evicted document's content is intact.
    const again = await RawClient.connect(url, 'doc-0')
    again.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    await again.next('sync-step2')
    expect(again.doc.getText('t').length).toBe(20_000)
  })
})
