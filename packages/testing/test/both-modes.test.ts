/** One scenario, written once against the Cluster vocabulary, run in both modes. */
import { afterEach, describe, expect, it } from 'vitest'
import { createCluster, parseSeed, type Cluster } from '@meridian/testing'

const seed = parseSeed(process.env.MERIDIAN_SEED)
let cluster: Cluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

async function scenario(c: Cluster): Promise<void> {
  await c.settle()
  c.partition('eu', 'us')
  c.randomEdits('alice', { ops: 10 })
  c.randomEdits('bob', { ops: 10 })
  await c.drive(c.client('alice').provider.whenAcknowledged({ timeoutMs: 10_000 }))
  await c.run(300)
  await expect(c.expectConverged()).rejects.toMatchObject({ code: 'ERR_NOT_CONVERGED' })
  c.partition('bob', 'us-1', { oneWay: true })
  c.heal()
  const settled = await c.settle({ timeoutMs: 30_000 })
  await c.expectConverged()
  await c.expectNoLostWrites({ level: 'relay' })
  expect(settled.elapsedMs).toBeGreaterThanOrEqual(0)
  expect(c.report().bytes).toBeGreaterThan(0)
}

const clients = [{ id: 'alice', region: 'eu' }, { id: 'bob', region: 'us' }]

describe('the same scenario in both modes', () => {
  it('memory mode', async () => {
    cluster = await createCluster({ seed, regions: ['eu', 'us'], clients })
    expect(cluster.mode).toBe('memory')
    await scenario(cluster)
  })

  it('process mode', async () => {
    cluster = await createCluster({ mode: 'process', seed, regions: ['eu', 'us'], clients })
    expect(cluster.mode).toBe('process')
    await scenario(cluster)
  })
})
