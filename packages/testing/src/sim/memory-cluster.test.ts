import { afterEach, describe, expect, it } from 'vitest'
import { createMemoryCluster, type MemoryCluster } from './memory-cluster.js'

const open: MemoryCluster[] = []
afterEach(async () => {
  for (const c of open.splice(0)) await c.close()
})

async function cluster(...args: Parameters<typeof createMemoryCluster>): Promise<MemoryCluster> {
  const c = await createMemoryCluster(...args)
  open.push(c)
  return c
}

describe('memory cluster', () => {
  it('smoke: two regions, four clients converge', async () => {
    const c = await cluster({ seed: 1, regions: ['eu', 'us'], clients: 4 })
    await c.settle()
    for (const client of c.clients) c.randomEdits(client, { ops: 20 })
    const r = await c.settle()
    await c.expectConverged()
    await c.expectNoLostWrites()
    console.log(r, c.report())
    expect(r.messages).toBeGreaterThan(0)
  })
})
