import { afterEach, describe, expect, it } from 'vitest'
import type { DocumentMode } from '@meridian/policy'
import { FEATURE_ACKS, FEATURE_STATUS } from '@meridian/protocol'
import { createMemoryCluster, parseSeed, RawClient, type MemoryCluster } from '@meridian/testing'

// The policy layer on the simulated network: timings are simulated ms, so the test is fast and the same seed replays it exactly.
const seed = parseSeed(process.env.MERIDIAN_SEED)
const MESH_TIMING = { heartbeatIntervalMs: 50, suspectAfterMs: 800, downAfterMs: 1_600, antiEntropyIntervalMs: 100 }

let cluster: MemoryCluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

describe('behaviour during partitions', () => {
  it('healthy → degraded → read-only (relay-enforced) → heal → converged → healthy, losing no buffered write', async () => {
    const policy = {
      maxStalenessMs: 300,
      maxPendingUpdates: 100,
      homeRegion: 'eu',
      requiresHomeRegionForWrites: true,
      recoveryHoldMs: 300,
      capabilities: [
        { name: 'comments', maxStalenessMs: 300 },
        { name: 'checkout', requires: 'home-region' as const, maxStalenessMs: 300 },
        { name: 'upload', maxPendingUpdates: 5 }
      ]
    }
    const c = (cluster = await createMemoryCluster({
      seed,
      regions: ['eu', 'us'],
      meshTiming: MESH_TIMING,
      relayOptions: { documentPolicies: [{ pattern: 'orders/*', homeRegion: 'eu' }], statusIntervalMs: 100, readOnlyRecoveryHoldMs: 300 },
      clients: [
        { id: 'order', relay: 'us-1', docName: 'orders/1', options: { policy } },
        { id: 'notes', relay: 'us-1', docName: 'notes/1', options: { policy: { ...policy, homeRegion: null, requiresHomeRegionForWrites: false, capabilities: [] } } }
      ]
    }))
    const order = c.client('order')
    const notes = c.client('notes')
    const modes: DocumentMode[] = []
    let converged = 0
    order.provider.on('policy', (d) => {
      if (modes.at(-1) !== d.mode) modes.push(d.mode)
    })
    order.provider.on('converged', () => converged++)

    await c.until(() => order.provider.policy.mode === 'healthy' && order.provider.can('checkout') && order.provider.can('comments'), 'healthy with every capability')
    order.provider.transact((d) => d.getMap('order').set('item', 'book'))
    await c.drive(order.provider.whenAcknowledged({ timeoutMs: 5_000 }))

    // The partition: staleness passes its bound first (degraded), then the home region is declared unreachable (read-only).
    c.partition('eu', 'us')
    await c.until(() => order.provider.policy.mode === 'degraded', 'degraded', { timeoutMs: 5_000 })
    const degraded = order.provider.policy
    expect(degraded.capabilities.find((x) => x.name === 'comments')).toMatchObject({ on: false, reason: 'stale' })
    expect(degraded.writable).toBe(true)
    notes.doc.getText('t').insert(0, 'written while degraded; ')

    await c.until(() => order.provider.policy.mode === 'read-only', 'read-only', { timeoutMs: 5_000 })
    expect(order.provider.can('checkout')).toBe(false)
    expect(order.provider.policy.capabilities.find((x) => x.name === 'checkout')?.reasons).toContain('home-region-unreachable')
    expect(() => order.provider.transact((d) => d.getMap('order').set('item', 'refused'))).toThrow(expect.objectContaining({ code: 'ERR_READ_ONLY' }))
    // A direct edit is held (reported, not dropped) and sent once writable again.
    order.doc.getMap('order').set('note', 'held while read-only')
    expect(order.errors.some((e) => e.startsWith('ERR_READ_ONLY'))).toBe(true)
    // The relay enforces it too: a raw client bypassing the SDK is refused and nothing is applied.
    const raw = await c.drive(RawClient.over(c.rawSocket('us-1', 'orders/1'), 'us-1', { features: FEATURE_ACKS | FEATURE_STATUS }))
    await c.drive(raw.next('sync-step1'))
    await c.drive(raw.next('status', (m) => m.readOnly))
    raw.edit((d) => d.getMap('order').set('item', 'sneaky'))
    expect((await c.drive(raw.closed())).code).toBe(4423)
    expect(raw.received.some((m) => m.type === 'error' && m.code === 'ERR_DOC_READ_ONLY')).toBe(true)
    const usOrder = (await c.replicas('orders/1')).find((r) => r.name === 'relay us-1')
    expect(usOrder?.doc.getMap('order').get('item')).toBe('book')
    notes.doc.getText('t').insert(0, 'written while cut off; ')

    c.heal()
    await c.until(() => converged > 0 && order.provider.policy.mode === 'healthy', 'converged and healthy', { timeoutMs: 10_000 })
    expect(order.provider.can('checkout')).toBe(true)
    expect(order.provider.can('comments')).toBe(true)
    // Each transition happened, in order (recovery may pass through degraded while staleness settles).
    expect(modes.slice(modes.indexOf('healthy')).join(' → ')).toMatch(/^healthy → degraded → read-only( → degraded)? → healthy$/)

    // Every buffered write is everywhere: both relays and both clients agree, and hold the held and buffered edits.
    await c.settle()
    await c.expectConverged()
    for (const r of await c.replicas('orders/1')) expect(r.doc.getMap('order').get('note'), r.name).toBe('held while read-only')
    for (const r of await c.replicas('notes/1')) expect(r.doc.getText('t').toString(), r.name).toBe('written while cut off; written while degraded; ')
  })

  it('durability reaches replicated(2) in three regions, and stays at relay while the others are cut off', async () => {
    const c = (cluster = await createMemoryCluster({ seed, regions: ['eu', 'us', 'ap'], meshTiming: MESH_TIMING, clients: [{ id: 'ledger', relay: 'eu-1', docName: 'ledger' }] }))
    const client = c.client('ledger')
    await c.drive(client.provider.whenSynced({ timeoutMs: 5_000 }))
    const updates: Uint8Array[] = []
    client.doc.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin !== client.provider) updates.push(u)
    })

    client.doc.getArray('a').push(['first'])
    const first = updates.at(-1) as Uint8Array
    await c.drive(client.provider.whenDurable(first, 'local', { timeoutMs: 5_000 }))
    await c.drive(client.provider.whenDurable(first, 'relay', { timeoutMs: 5_000 }))
    await c.drive(client.provider.whenDurable(first, { replicated: 2 }, { timeoutMs: 10_000 }))
    expect(client.provider.durabilityOf(first)).toEqual({ replicated: 2 })

    c.partition('eu', 'us')
    c.partition('eu', 'ap')
    client.doc.getArray('a').push(['second'])
    const second = updates.at(-1) as Uint8Array
    await c.drive(client.provider.whenDurable(second, 'relay', { timeoutMs: 5_000 }))
    await expect(c.drive(client.provider.whenDurable(second, { replicated: 1 }, { timeoutMs: 500 }))).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
    expect(client.provider.durabilityOf(second)).toBe('relay')

    c.heal()
    await c.drive(client.provider.whenDurable(second, { replicated: 2 }, { timeoutMs: 10_000 }))
    await c.drive(client.provider.whenDurable('all', { replicated: 2 }, { timeoutMs: 10_000 }))
  })
})
