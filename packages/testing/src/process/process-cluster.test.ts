import { afterEach, describe, expect, it } from 'vitest'
import { KitError } from '../assertions.js'
import { docContainsUpdate } from '../fingerprint.js'
import { startProcessCluster, type ProcessCluster } from './process-cluster.js'

const seed = process.env.MERIDIAN_SEED !== undefined && process.env.MERIDIAN_SEED !== '' ? Number(process.env.MERIDIAN_SEED) : undefined

let cluster: ProcessCluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

async function twoRegions(): Promise<ProcessCluster> {
  cluster = await startProcessCluster({ seed, regions: ['eu', 'us'], relaysPerRegion: 1, clients: [{ id: 'a', region: 'eu' }, { id: 'b', region: 'us' }] })
  return cluster
}

describe('process mode', () => {
  it('regions partitioned with writes on both sides converge after heal, losing nothing acknowledged', async () => {
    const c = await twoRegions()
    expect(c.relays.map((r) => r.id)).toEqual(['eu-1', 'us-1'])
    c.partition('eu', 'us')
    c.randomEdits('a', { ops: 20 })
    c.randomEdits('b', { ops: 20 })
    // Each side acknowledges its own writes during the partition; the other region cannot have them.
    await Promise.all(c.clients.map((x) => x.provider.whenAcknowledged({ timeoutMs: 10_000 })))
    await c.run(300)
    await expect(c.expectConverged()).rejects.toMatchObject({ code: 'ERR_NOT_CONVERGED' })
    c.heal()
    const settled = await c.settle()
    await c.expectConverged()
    await c.expectNoLostWrites()
    expect(settled.byKind['relay->relay']?.bytes).toBeGreaterThan(0)
    expect(c.report()).toMatchObject({ mode: 'process', seed: c.seed })
  }, 60_000)

  it('a one-way partition between regions, and a client cut from its relay, heal into convergence', async () => {
    const c = await twoRegions()
    // us → eu cut: eu's writes still reach us over links that are up; us's writes do not reach eu.
    c.partition('eu-1', 'us-1', { oneWay: true })
    c.randomEdits('a', { ops: 5 })
    const fromUs = c.randomEdits('b', { ops: 5 })
    await c.client('b').provider.whenAcknowledged({ timeoutMs: 10_000 })
    await c.run(300)
    const eu = (await c.replicas('doc')).find((r) => r.name === 'relay eu-1')
    expect(eu && fromUs.some((u) => docContainsUpdate(eu.doc, u))).toBe(false)
    // Client a is cut from its relay: its writes stay unacknowledged until the heal.
    c.partition('a', 'eu-1')
    const [write] = c.randomEdits('a', { ops: 1 })
    await c.run(300)
    expect(write && c.client('a').provider.durabilityOf(write)).not.toBe('relay')
    c.heal()
    await c.settle()
    await c.expectConverged()
    await c.expectNoLostWrites()
  }, 60_000)

  it('a relay crashed (kill -9) and restarted on its data dir keeps what it acknowledged and catches up', async () => {
    const c = await twoRegions()
    c.randomEdits('a', { ops: 10 })
    await c.settle()
    await c.crash('us-1')
    expect(c.relay('us-1').running).toBe(false)
    c.randomEdits('a', { ops: 10 })
    // b's writes wait in its outbox while its relay is down.
    c.randomEdits('b', { ops: 5 })
    await c.client('a').provider.whenAcknowledged({ timeoutMs: 10_000 })
    await c.restart('us-1')
    await c.settle()
    await c.expectConverged()
    await c.expectNoLostWrites()
    await expect(c.restart('us-1')).rejects.toBeInstanceOf(KitError)
  }, 60_000)

  it('settle() gives up with the differences and the seed while a partition holds', async () => {
    const c = await twoRegions()
    c.partition('eu', 'us')
    c.randomEdits('a', { ops: 3 })
    const err = await c.settle({ timeoutMs: 1_000 }).then(() => null, (e: unknown) => e)
    expect(err).toBeInstanceOf(KitError)
    expect((err as KitError).code).toBe('ERR_SETTLE_TIMEOUT')
    expect((err as KitError).message).toContain(`seed ${c.seed}`)
    expect(() => c.partition('a', 'b')).toThrow(KitError)
  }, 60_000)
})
