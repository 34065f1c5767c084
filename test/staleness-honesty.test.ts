import { describe, expect, it } from 'vitest'
import { createMemoryCluster, createPrng, deriveSeed, parseSeed, type MemoryCluster } from '@meridian/testing'

// The bounded-staleness promise under an operator's worst day, on the simulated network: three regions,
// seeded partitions (both ways and one way), crashes and restarts — including a relay restarted while cut
// off from every other region — and every relay and client on a clock of its own (±300 s, ±100 ppm).
// After every simulated event, every client's reported bound is checked against the writes acknowledged
// before it (StalenessHonesty). MERIDIAN_SEED replays one run; otherwise SEEDS seeds from a fresh base,
// printed on failure (the kit's errors carry the seed).
const REGIONS = ['a', 'b', 'c']
const SEEDS = Number(process.env.HONESTY_SEEDS ?? 100)
const base = parseSeed(process.env.MERIDIAN_SEED)
const seeds = process.env.MERIDIAN_SEED !== undefined ? [base] : Array.from({ length: SEEDS }, (_, i) => (base + i) % 2 ** 31)
// Relays' clocks within ±140 s of each other's until the mesh handshake stops trusting clocks (a 5-minute
// window today: relays 280+ s apart never link, and a relay then omits the region it never heard of).
const CLOCK_SKEW = { maxOffsetMs: 300_000, maxRateError: 1e-4, maxRelayOffsetMs: 140_000 }

async function chaos(seed: number, clockSkew = CLOCK_SKEW): Promise<{ checks: number; bounded: number; writes: number }> {
  const rand = createPrng(deriveSeed(seed, 'honesty'))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
  const c: MemoryCluster = await createMemoryCluster({
    seed,
    regions: REGIONS,
    clockSkew,
    latencyMs: [1, 20],
    relayOptions: { statusIntervalMs: 500 },
    clientOptions: { policy: { maxStalenessMs: 4_000, capabilities: [{ name: 'live', maxStalenessMs: 2_000 }] } },
    clients: [...REGIONS, REGIONS[0] as string].map((region) => ({ region }))
  })
  const honesty = c.expectHonestStaleness()
  try {
    await c.run(1_000)
    for (let step = 0; step < 20; step++) {
      const roll = rand()
      const region = pick(REGIONS)
      if (roll < 0.4) c.randomEdits(pick(c.clients), { ops: 1 + Math.floor(rand() * 3) })
      else if (roll < 0.5) c.partition(region, pick(REGIONS.filter((r) => r !== region)), { oneWay: rand() < 0.5 })
      else if (roll < 0.58) c.heal()
      else if (roll < 0.66) {
        const relay = c.relay(`${region}-1`)
        if (relay.running) await c.crash(relay)
        else await c.restart(relay)
      } else if (roll < 0.72) {
        // The operator's worst case: a relay killed, cut off from every other region, restarted alone.
        const relay = c.relay(`${region}-1`)
        if (relay.running) await c.crash(relay)
        for (const other of REGIONS) if (other !== region) c.partition(region, other)
        await c.run(Math.floor(rand() * 1_000))
        await c.restart(relay)
      } else if (roll < 0.8) {
        const client = pick(c.clients)
        c.partition(client, client.relay, { oneWay: rand() < 0.3 })
      } else await c.run(Math.floor(rand() * 1_500))
      await c.run(Math.floor(rand() * 300))
    }
    c.heal()
    for (const r of c.relays) if (!r.running) await c.restart(r)
    await c.run(3_000)
    if (process.env.HONESTY_DEBUG !== undefined) console.log(seed, JSON.stringify(honesty.report), c.scheduler.executed)
    return honesty.report
  } finally {
    await c.close()
  }
}

describe('the staleness bound never under-reports', () => {
  it(`${seeds.length} seeds from ${base}: partitions, one-way cuts, crashes, isolated restarts, skewed clocks — 0 violations`, async () => {
    let checks = 0
    let bounded = 0
    let writes = 0
    for (const seed of seeds) {
      const r = await chaos(seed)
      checks += r.checks
      bounded += r.bounded
      writes += r.writes
    }
    // The checks mean something: bounds were reported, writes acknowledged.
    expect(bounded).toBeGreaterThan(checks / 4)
    expect(writes).toBeGreaterThan(seeds.length)
  }, 120_000)
})

// Relays ±300 s apart: pairs more than 5 minutes apart never link (the mesh handshake's timestamp window), and
// a relay reports only the regions it heard of, so a client that never saw region c cannot know its report is
// partial. Needs the relay side of #14 (packages/relay/src/mesh: regions known from configuration and reported
// as unknown until exchanged; a challenge-response handshake instead of the window). Seed 826909032 puts relay
// a at +239 s and c at -217 s. Once that lands, this must pass: replace the expectation by `await chaos(…)`
// and run it over the seeds above.
describe('with relays\' clocks ±300 s apart (needs the relay-side mesh fix)', () => {
  it('KNOWN VIOLATION until the relay fix — seed 826909032: a client of a relay that never linked to region c is told a bound, yet lacks c\'s writes', async () => {
    console.log('expected violation until the relay mesh knows its regions from configuration and links whatever the clocks say (#14)')
    await expect(chaos(826909032, { ...CLOCK_SKEW, maxRelayOffsetMs: 300_000 })).rejects.toMatchObject({ code: 'ERR_DISHONEST_STALENESS' })
  }, 60_000)
})
