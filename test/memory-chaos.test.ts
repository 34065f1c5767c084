import { describe, it } from 'vitest'
import { createMemoryCluster, createPrng, deriveSeed, parseSeed } from '@meridian/testing'

const REGIONS = ['eu', 'us', 'ap']
const DOCS = ['board', 'notes', 'ledger']
// MERIDIAN_SEED replays one run; otherwise a few fixed seeds plus a fresh one each time (printed on failure by the kit).
const seeds = process.env.MERIDIAN_SEED !== undefined ? [parseSeed(process.env.MERIDIAN_SEED)] : [1, 2, 3, parseSeed(undefined)]

describe('seeded chaos on the simulated network', () => {
  for (const seed of seeds) {
    it(`seed ${seed}: random partitions (both ways and one way), crashes, offline clients and edits end converged, losing nothing acknowledged`, async () => {
      const rand = createPrng(deriveSeed(seed, 'schedule'))
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
      const c = await createMemoryCluster({
        seed,
        regions: REGIONS,
        relaysPerRegion: 2,
        clients: Array.from({ length: 12 }, (_, i) => ({ region: REGIONS[i % 3] as string, docName: DOCS[Math.floor(i / 4)] as string })),
        latencyMs: [1, 30]
      })
      try {
        await c.settle()
        for (let step = 0; step < 40; step++) {
          const roll = rand()
          if (roll < 0.45) c.randomEdits(pick(c.clients), { ops: 1 + Math.floor(rand() * 4) })
          else if (roll < 0.6) c.partition(pick(c.relays), pick(c.relays.filter((r) => r.region !== c.relays[0]?.region || rand() < 0.5)), { oneWay: rand() < 0.4 })
          else if (roll < 0.7) c.heal()
          else if (roll < 0.78) {
            const victim = pick(c.relays)
            if (victim.running) await c.crash(victim)
            else await c.restart(victim)
          } else if (roll < 0.88) {
            const client = pick(c.clients)
            c.partition(client, client.relay)
          } else await c.run(Math.floor(rand() * 1_500))
          await c.run(Math.floor(rand() * 200))
        }
        c.heal()
        for (const r of c.relays) if (!r.running) await c.restart(r)
        await c.settle({ timeoutMs: 120_000 })
        await c.expectConverged()
        await c.expectNoLostWrites()
      } finally {
        await c.close()
      }
    })
  }
})
