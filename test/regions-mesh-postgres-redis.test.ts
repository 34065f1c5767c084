/**
 * Two regions, each three relay processes on its own PostgreSQL schema and
 * Redis bus, linked to each other by the mesh (every relay behind a fault
 * proxy): they converge after a partition with writes on both sides.
 * Needs PostgreSQL and Redis (see helpers/services.ts for the skip rule).
 */
import { afterEach, describe, it } from 'vitest'
import { createPrng, deriveSeed, expectConverged, parseSeed, sleep, startProcessCluster, storedDoc, type ProcessCluster } from '@meridian/testing'
import { checkPostgres, checkRedis, provisionRegion, requireServices, type RegionServices } from './helpers/services.js'

const services = await requireServices('two-region mesh tests (PostgreSQL + Redis)', { postgres: checkPostgres(), redis: checkRedis() })

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const REGIONS = ['eu', 'us']
const DOC = 'shared-board'

describe.skipIf(services === null)('two regions of three relays (PostgreSQL + Redis each), linked by gossip', () => {
  it('converge after a partition with writes on both sides', async () => {
    if (services === null) return
    const seed = parseSeed(process.env.MERIDIAN_SEED)
    const rand = createPrng(deriveSeed(seed, 'bursts'))
    const regionServices = new Map<string, RegionServices>()
    for (const name of REGIONS) {
      const svc = await provisionRegion(services.postgres as string, services.redis as string)
      cleanups.push(() => svc.cleanup())
      regionServices.set(name, svc)
    }
    // Each region's relays on its own schema and bus; the kit links them all by gossip and waits until each has linked to the other five.
    const cluster: ProcessCluster = await startProcessCluster({
      seed,
      regions: REGIONS,
      relaysPerRegion: 3,
      docName: DOC,
      relayArgs: (relay) => regionServices.get(relay.region)?.relayArgs ?? [],
      clients: REGIONS.flatMap((region) => [1, 2, 3].map((n) => ({ id: `w-${region}-${n}`, relay: `${region}-${n}` })))
    })
    cleanups.push(() => cluster.close())

    const burst = async (rounds: number): Promise<void> => {
      for (let i = 0; i < rounds; i++) {
        for (const w of cluster.clients) cluster.randomEdits(w, { ops: 1 })
        await sleep(10 + Math.floor(rand() * 20))
      }
    }
    await burst(5)
    cluster.partition('eu', 'us')
    await burst(15)
    cluster.heal()
    await burst(3)

    // All six relays and every writer agree, nothing written is missing, and each region's PostgreSQL holds the converged document too.
    await cluster.settle({ timeoutMs: 30_000 })
    await cluster.expectConverged()
    await cluster.expectNoLostWrites()
    const reference = cluster.client('w-eu-1').doc
    for (const [name, svc] of regionServices) {
      expectConverged([{ name: 'w-eu-1', doc: reference }, { name: `PostgreSQL of ${name}`, doc: await storedDoc(await svc.storage(), DOC) }], { seed })
    }
  }, 120_000)
})
