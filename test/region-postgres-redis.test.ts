/**
 * One region, three relay processes behind "a load balancer" (clients get all
 * three URLs, their own relay first), one PostgreSQL schema, one Redis bus.
 * Needs PostgreSQL and Redis (see helpers/services.ts for the skip rule).
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  createPrng, deriveSeed, expectConverged, levelRank, parseSeed, sleep, startProcessCluster, storedDoc, waitUntil,
  type ClientSpec, type ProcessCluster, type ProcessClusterClient
} from '@meridian/testing'
import { checkPostgres, checkRedis, provisionRegion, requireServices, type RegionServices } from './helpers/services.js'

const services = await requireServices('region tests (PostgreSQL + Redis)', { postgres: checkPostgres(), redis: checkRedis() })

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Region {
  cluster: ProcessCluster
  svc: RegionServices
}

/** Region `eu`: relays eu-1..eu-3 on one schema and bus; each writer's failover list starts at its own relay. */
async function region(seed: number, writers: ClientSpec[]): Promise<Region> {
  if (services === null) throw new Error('unreachable: suite skipped')
  const svc = await provisionRegion(services.postgres as string, services.redis as string)
  cleanups.push(() => svc.cleanup())
  const cluster = await startProcessCluster({ seed, regions: ['eu'], relaysPerRegion: 3, relayArgs: svc.relayArgs, clients: writers })
  cleanups.push(() => cluster.close())
  return { cluster, svc }
}

/** Two writers per relay of the region (on each document). */
function writers(docs: readonly string[], prefix: (doc: string) => string): ClientSpec[] {
  return docs.flatMap((docName) => [0, 1, 2].flatMap((home) => [0, 1].map((k) => ({ id: `${prefix(docName)}r${home}c${k}`, relay: `eu-${home + 1}`, docName }))))
}

/** Every step, every writer edits with probability 0.7 (one recorded write each); runs until `until()` says so. */
async function traffic(c: ProcessCluster, rand: () => number, until: () => boolean): Promise<void> {
  while (!until()) {
    for (const w of c.clients) if (rand() < 0.7) c.randomEdits(w, { ops: 1 })
    await sleep(5 + Math.floor(rand() * 10))
  }
}

/** Settled (every write acknowledged, every client and running relay identical) and PostgreSQL holds the same documents. */
async function expectRegionConverged({ cluster, svc }: Region): Promise<void> {
  await cluster.settle({ timeoutMs: 30_000 })
  await cluster.expectConverged()
  await cluster.expectNoLostWrites()
  const storage = await svc.storage()
  for (const docName of new Set(cluster.clients.map((w) => w.docName))) {
    const client = cluster.clients.find((w) => w.docName === docName) as ProcessClusterClient
    expectConverged([{ name: `client ${client.id}`, doc: client.doc }, { name: 'PostgreSQL', doc: await storedDoc(storage, docName) }], { seed: cluster.seed, label: docName })
  }
}

describe.skipIf(services === null)('a region of three relays on PostgreSQL + Redis', () => {
  it('clients spread over the relays see each other’s edits within milliseconds and converge under seeded random edits', async () => {
    const seed = parseSeed(process.env.MERIDIAN_SEED)
    const rand = createPrng(deriveSeed(seed, 'traffic'))
    const r = await region(seed, writers(['board', 'notes'], (doc) => `${doc}-`))
    const c = r.cluster

    // A client on relay 1 sees an edit made through relay 2 (there is no other path than the bus).
    const a = c.client('board-r0c0')
    const b = c.client('board-r1c0')
    const latencies: number[] = []
    for (let i = 0; i < 10; i++) {
      const started = performance.now()
      a.doc.getMap('probe').set('i', i)
      await waitUntil(() => b.doc.getMap('probe').get('i') === i, `probe ${i} through the bus`, 5_000, 1)
      latencies.push(performance.now() - started)
    }
    latencies.sort((x, y) => x - y)
    console.log(`cross-relay edit → client on another relay: median ${latencies[5]?.toFixed(1)} ms, max ${latencies[9]?.toFixed(1)} ms (includes the PostgreSQL commit)`)

    const until = Date.now() + 2_500
    await traffic(c, rand, () => Date.now() > until)
    await expectRegionConverged(r)
    for (const w of c.clients) expect(w.errors, w.id).toEqual([])
  })

  it('a relay SIGKILLed mid-traffic: its clients fail over to the others, nothing acknowledged is lost, all converge', async () => {
    const seed = parseSeed(process.env.MERIDIAN_SEED)
    const rand = createPrng(deriveSeed(seed, 'traffic'))
    const r = await region(seed, writers(['ledger'], () => ''))
    const c = r.cluster
    const victim = c.relay('eu-2')
    const victims = c.clients.filter((w) => w.relay === victim)
    const written = new Map<string, Uint8Array[]>()
    const acked = (w: ProcessClusterClient): number => (written.get(w.id) ?? []).filter((u) => levelRank(w.provider.durabilityOf(u)) >= levelRank('relay')).length

    const start = Date.now()
    const running = (async () => {
      while (Date.now() - start <= 3_500) {
        for (const w of c.clients) if (rand() < 0.7) written.set(w.id, [...(written.get(w.id) ?? []), ...c.randomEdits(w, { ops: 1 })])
        await sleep(5 + Math.floor(rand() * 10))
      }
    })()
    // Kill once the victim's clients have had updates acknowledged (committed by it), while they keep writing.
    await waitUntil(() => victims.every((w) => acked(w) >= 10) && Date.now() - start > 1_000, 'acknowledged writes through the victim', 10_000)
    await c.crash(victim)
    expect(victim.running).toBe(false)
    await running

    // Settling proves every write (before and after the kill) acknowledged, and every acknowledged write on the survivors and in PostgreSQL.
    await expectRegionConverged(r)
    for (const w of victims) expect(w.provider.url, `${w.id} failed over`).not.toBe(w.links.get(victim.id)?.url)
    expect(c.clients.reduce((n, w) => n + acked(w), 0)).toBe([...written.values()].reduce((n, u) => n + u.length, 0))
  })

  it('Redis restarted mid-traffic (connections dropped, streams lost): the relays recover without restarting and converge', async () => {
    const seed = parseSeed(process.env.MERIDIAN_SEED)
    const rand = createPrng(deriveSeed(seed, 'traffic'))
    const r = await region(seed, writers(['through-outage'], () => ''))
    const c = r.cluster
    const pids = c.relays.map((x) => x.process?.child.pid)

    const start = Date.now()
    const running = traffic(c, rand, () => Date.now() - start > 3_500)
    await sleep(800)
    // Down for 1.2 s: relays keep accepting and committing edits, but cannot fan them out.
    await r.svc.restartRedis(1_200)
    await running

    await expectRegionConverged(r)
    // Same processes, still running, bus back up and caught up after the outage.
    for (const [i, relay] of c.relays.entries()) {
      expect(relay.process?.child.pid).toBe(pids[i])
      expect(relay.running).toBe(true)
      const status = await c.relayJson<{ bus?: { status: string; resyncs: number } }>(relay, '/v1/status')
      expect(status.bus?.status, relay.id).toBe('ready')
      expect(status.bus?.resyncs, relay.id).toBeGreaterThan(0)
    }
  })
})

if (services === null) {
  describe('a region of three relays on PostgreSQL + Redis', () => {
    it.skip('needs PostgreSQL and Redis (reason printed above)', () => undefined)
  })
}
