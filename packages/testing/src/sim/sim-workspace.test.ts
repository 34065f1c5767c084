import { describe, expect, it } from 'vitest'
import { docFingerprint } from '../fingerprint.js'
import { createMemoryCluster } from './memory-cluster.js'

const DOCS = Array.from({ length: 20 }, (_, i) => `ws/page-${i}`)

/**
 * A workspace (one multiplexed connection, 20 documents) next to single-document
 * clients on some of the same documents, in two regions; its relay crashes
 * (failover to the other of its region), it is cut off and heals.
 */
async function scenario(seed: number): Promise<{ digest: string; docs: string[]; open: number; frames: number }> {
  const c = await createMemoryCluster({
    seed,
    regions: ['eu', 'us'],
    relaysPerRegion: 2,
    clients: [{ region: 'us', docName: DOCS[0] }, { region: 'eu', docName: DOCS[7] }],
    latencyMs: [1, 10]
  })
  try {
    const ws = await c.addWorkspace({ id: 'w1', region: 'eu', docNames: DOCS })
    await c.settle()
    for (const client of c.clients) c.randomEdits(client, { ops: 5 })
    await c.run(300)
    await c.crash('eu-1') // the workspace's relay: every document fails over to eu-2 on one new socket
    for (const client of c.clients) c.randomEdits(client, { ops: 5 })
    await c.run(2_000)
    // One shared socket, failed over as a whole.
    expect(ws.client.url).toBe(c.relay('eu-2').url)
    expect(ws.docs.every((d) => d.provider.status === 'connected')).toBe(true)
    c.partition('w1', 'eu-2')
    for (const client of ws.docs) c.randomEdits(client, { ops: 3 })
    await c.run(1_000)
    await c.restart('eu-1')
    c.heal()
    await c.settle()
    await c.expectConverged()
    await c.expectNoLostWrites()
    const traffic = c.report().byKind['client->relay']
    expect(ws.errors).toEqual([])
    return {
      digest: c.network.traceDigest,
      docs: c.clients.map((x) => JSON.stringify(docFingerprint(x.doc))),
      open: ws.client.documents.size,
      frames: traffic?.messages ?? 0
    }
  } finally {
    await c.close()
  }
}

describe('a multiplexed workspace in memory mode', () => {
  it('converges through a relay crash, failover and a partition, losing no acknowledged write, deterministically', async () => {
    const a = await scenario(4242)
    const b = await scenario(4242)
    expect(b.digest).toBe(a.digest)
    expect(b.docs).toEqual(a.docs)
    expect(a.open).toBe(DOCS.length)
  })

  it('cuts every document of the workspace with one partition of its connection', async () => {
    const c = await createMemoryCluster({ seed: 7, regions: ['eu'], clients: [{ docName: DOCS[1] }] })
    try {
      const ws = await c.addWorkspace({ docNames: DOCS.slice(0, 3) })
      await c.settle()
      c.partition(ws.id, 'eu-1')
      await c.run(5_000)
      for (const d of ws.docs) expect(d.provider.status).not.toBe('connected')
      expect(c.client('c1').provider.status).toBe('connected')
      c.heal()
      await c.until(() => ws.docs.every((d) => d.provider.status === 'connected'), 'every document connected again')
      expect(ws.client.status).toBe('connected')
    } finally {
      await c.close()
    }
  })
})
