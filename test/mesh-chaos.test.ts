import { afterEach, describe, expect, it } from 'vitest'
import { createPrng, deriveSeed, parseSeed, sleep, startProcessCluster, type ClientSpec, type ProcessCluster } from '@meridian/testing'

const REGIONS = ['eu', 'us', 'ap']
const DOCS = ['board-1', 'board-2', 'board-3']

let cluster: ProcessCluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

interface ClusterStatus {
  members: { nodeId: string; linked: boolean; state: string }[]
  regions: Record<string, { stalenessMs: number | null; pendingUpdates: number }>
}

describe('multi-region chaos', () => {
  it('3 regions × 2 relays converge after partitions, latency, resets and a kill -9, losing nothing acknowledged', async () => {
    const seed = parseSeed(process.env.MERIDIAN_SEED)
    const rand = createPrng(deriveSeed(seed, 'chaos'))
    const replay = `replay: MERIDIAN_SEED=${seed} npm test -- test/mesh-chaos.test.ts`
    // One writer per relay and document; its failover list is both relays of its region.
    const relayIds = REGIONS.flatMap((r) => [`${r}-1`, `${r}-2`])
    const writers: ClientSpec[] = relayIds.flatMap((relay) => DOCS.map((docName) => ({ id: `${relay}/${docName}`, relay, docName })))
    // The cluster waits until every relay has linked to the other five (gossip from one seed) and every writer synced.
    const c = await startProcessCluster({ seed, regions: REGIONS, relaysPerRegion: 2, clients: writers })
    cluster = c

    const editBurst = async (rounds: number): Promise<void> => {
      for (let i = 0; i < rounds; i++) {
        for (const w of c.clients) if (rand() >= 0.5) c.randomEdits(w, { ops: 1 })
        // Interleave edits with network traffic (jitter, not a wait for a condition).
        await sleep(10 + Math.floor(rand() * 20))
      }
    }

    try {
      await editBurst(10)
      // Region ap is cut off entirely; us-1 → eu-1 is cut one way only; latency on the links into eu-2.
      c.partition('ap', 'eu')
      c.partition('ap', 'us')
      c.partition('eu-1', 'us-1', { oneWay: true })
      c.setLatency('eu-2', 40)
      await editBurst(15)
      // A relay dies mid-traffic and comes back on its data dir; links into us-1 are reset meanwhile.
      const victim = rand() < 0.5 ? 'us-2' : 'eu-1'
      await c.crash(victim)
      await editBurst(10)
      c.resetConnections('us-1')
      await c.restart(victim)
      await editBurst(10)

      c.heal()
      c.setLatency('eu-2', 0)
      // Every writer's writes acknowledged, every relay and client of each document identical (anti-entropy repairs what pushes missed).
      await c.settle({ timeoutMs: 60_000 })
      await c.expectConverged()
      await c.expectNoLostWrites()
      for (const w of c.clients) expect(w.errors, `${w.id} (${replay})`).toEqual([])

      // Staleness is bounded again towards every region on every relay.
      for (const r of c.relays) {
        const status = await c.relayJson<ClusterStatus>(r, '/v1/cluster')
        for (const [region, s] of Object.entries(status.regions)) expect(s.stalenessMs, `${r.id} → ${region} (${replay})`).not.toBeNull()
      }
    } catch (err) {
      // Say what each relay sees, so a failure can be read without a replay.
      const views = await Promise.all(c.relays.map(async (r) => {
        if (!r.running) return `${r.id}: not running`
        const st = await c.relayJson<ClusterStatus>(r, '/v1/cluster').catch(() => null)
        if (st === null) return `${r.id}: no status`
        return `${r.id}: links=${st.members.filter((m) => m.linked).map((m) => m.nodeId).join(',')} states=${st.members.map((m) => `${m.nodeId}:${m.state}`).join(',')} regions=${JSON.stringify(st.regions)}`
      }))
      throw new Error(`mesh chaos failed with seed ${seed} (${replay}): ${(err as Error).message}\n${views.join('\n')}`, { cause: err })
    }
  }, 180_000)
})
