import { describe, expect, it } from 'vitest'
import { docFingerprint } from '../fingerprint.js'
import { createMemoryCluster } from './memory-cluster.js'

/** A run with everything the simulator does: latency jitter, partitions both ways, a crash, an offline client. */
async function scenario(seed: number): Promise<{ trace: string[]; digest: string; docs: string[]; elapsedMs: number }> {
  const c = await createMemoryCluster({
    seed,
    trace: true,
    regions: ['eu', 'us', 'ap'],
    relaysPerRegion: 2,
    clients: Array.from({ length: 9 }, (_, i) => ({ region: ['eu', 'us', 'ap'][i % 3] as string, docName: i % 2 === 0 ? 'board' : 'notes' })),
    latencyMs: [1, 20]
  })
  try {
    await c.settle()
    for (const client of c.clients) c.randomEdits(client, { ops: 5 })
    await c.run(100)
    c.partition('eu', 'us')
    c.partition('ap', 'eu', { oneWay: true })
    for (const client of c.clients) c.randomEdits(client, { ops: 5 })
    await c.run(2_000)
    await c.crash('us-1')
    c.partition('c3', 'ap-1')
    for (const client of c.clients) c.randomEdits(client, { ops: 5 })
    await c.run(1_500)
    await c.restart('us-1')
    c.heal()
    await c.settle()
    await c.expectConverged()
    await c.expectNoLostWrites()
    const docs = c.clients.map((x) => JSON.stringify(docFingerprint(x.doc)))
    return { trace: [...c.network.trace], digest: c.network.traceDigest, docs, elapsedMs: c.scheduler.elapsedMs }
  } finally {
    await c.close()
  }
}

describe('memory mode determinism', () => {
  it('the same seed twice gives identical message traces and final states; another seed differs', async () => {
    const seed = 20261123
    const first = await scenario(seed)
    const second = await scenario(seed)
    expect(first.trace.length).toBeGreaterThan(1_000)
    // Compare in full (not only the digest): a failure shows the first frame that differs.
    expect(second.trace).toEqual(first.trace)
    expect(second.digest).toBe(first.digest)
    expect(second.docs).toEqual(first.docs)
    expect(second.elapsedMs).toBe(first.elapsedMs)
    const other = await scenario(seed + 1)
    expect(other.digest).not.toBe(first.digest)
  })
})
