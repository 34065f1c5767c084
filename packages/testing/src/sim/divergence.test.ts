import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { KitError } from '../assertions.js'
import { createMemoryCluster } from './memory-cluster.js'

/** y-websocket framing: messageSync (0), then syncUpdate (2). */
const isSyncUpdate = (bytes: Uint8Array): boolean => bytes[0] === 0 && bytes[1] === 2

describe('the kit catches a real divergence', () => {
  it('a transport that silently drops one update makes expectConverged fail, naming the missing update', async () => {
    // Without the SDK's sync probes: their step 1 is a resync that would repair the drop (see the test below).
    const c = await createMemoryCluster({ seed: 7, regions: ['eu'], clients: 3, clientOptions: { syncProbeIntervalMs: 0 } })
    try {
      await c.settle()
      const [writer, victim] = c.clients as [typeof c.clients[number], typeof c.clients[number]]
      // Break the transport: the first update the relay forwards to the victim vanishes.
      let dropped = false
      c.network.dropFilter = (from, to, bytes) => {
        if (dropped || from !== 'eu-1' || to !== victim.id || !isSyncUpdate(bytes)) return false
        dropped = true
        return true
      }
      writer.doc.getText('text').insert(0, 'lost on the way')
      await c.run(2_000)
      expect(dropped).toBe(true)
      const error = await c.expectConverged().then(() => null, (e: unknown) => e)
      expect(error).toBeInstanceOf(KitError)
      const message = (error as KitError).message
      // The diff names the writer's client id and the clock range the victim lacks, and the seed.
      expect(message).toContain(`client ${victim.id} misses updates of client ${writer.doc.clientID}, clocks 0..14`)
      expect(message).toContain("'text' differs")
      expect(message).toContain('seed 7')
      expect((error as KitError).code).toBe('ERR_NOT_CONVERGED')
      // settle() cannot fix it either (no resync without a reconnect or a probe) and says why.
      await expect(c.settle({ timeoutMs: 1_000 })).rejects.toThrow(/not settled after 1000 simulated ms[\s\S]*misses updates/)
      // The same transport, unbroken: a reconnect resyncs and the cluster converges.
      c.network.dropFilter = null
      victim.provider.disconnect()
      victim.provider.connect()
      await c.settle()
      await c.expectConverged()
      expect(victim.doc.getText('text').toString()).toBe('lost on the way')
      expect(Y.encodeStateVector(victim.doc)).toEqual(Y.encodeStateVector(writer.doc))
    } finally {
      await c.close()
    }
  })

  it('with sync probes on (the default), the same silent drop is repaired by the next probe\'s resync', async () => {
    const c = await createMemoryCluster({ seed: 7, regions: ['eu'], clients: 3 })
    try {
      await c.settle()
      const [writer, victim] = c.clients as [typeof c.clients[number], typeof c.clients[number]]
      let dropped = false
      c.network.dropFilter = (from, to, bytes) => {
        if (dropped || from !== 'eu-1' || to !== victim.id || !isSyncUpdate(bytes)) return false
        dropped = true
        return true
      }
      writer.doc.getText('text').insert(0, 'lost on the way')
      await c.settle({ timeoutMs: 5_000 })
      expect(dropped).toBe(true)
      expect(victim.doc.getText('text').toString()).toBe('lost on the way')
    } finally {
      await c.close()
    }
  })

  it('expectNoLostWrites names an acknowledged write a relay lost', async () => {
    const c = await createMemoryCluster({ seed: 8, regions: ['eu', 'us'], clients: [{ region: 'eu' }, { region: 'us' }] })
    try {
      await c.settle()
      const [eu] = c.clients as [typeof c.clients[number]]
      // The link between the regions drops every mesh frame: writes reach their own relay but never the other region.
      c.network.dropFilter = (from, to) => from.startsWith('eu-') && to.startsWith('us-')
      c.randomEdits(eu, { ops: 3 })
      await c.run(500)
      const error = await c.expectNoLostWrites({ level: 'relay' }).then(() => null, (e: unknown) => e)
      expect((error as KitError).code).toBe('ERR_LOST_WRITES')
      expect((error as KitError).message).toMatch(/write #1 of client c1 \(relay\) is missing from [^\n]*relay us-1/)
    } finally {
      c.network.dropFilter = null
      await c.close()
    }
  })
})
