import { afterEach, describe, expect, it } from 'vitest'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type MeshOptions, type Relay, type DocumentPolicy } from '@meridian/relay'
import { healAll, isolate, partitionPair, startFaultProxy, type FaultProxy } from '@meridian/testing'
import type { DocumentMode } from '@meridian/policy'
import { FEATURE_ACKS, FEATURE_STATUS } from '@meridian/protocol'
import { createClient } from './helpers/cluster.js'
import { freePort } from './helpers/ports.js'
import { RawClient, relayView } from './helpers/raw-client.js'
import { waitUntil } from './helpers/wait.js'

const SECRET = 'policy-test-secret-0123456789'
const MESH: Partial<MeshOptions> = { heartbeatIntervalMs: 50, suspectAfterMs: 800, downAfterMs: 1_600, antiEntropyIntervalMs: 100, redialInitialDelayMs: 20, redialMaxDelayMs: 200 }

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** In-process relays (one per region), each behind a fault proxy that the others dial. */
async function regions(names: string[], policies: DocumentPolicy[] = []): Promise<{ relays: Map<string, Relay>; urls: Map<string, string>; proxies: Map<string, FaultProxy> }> {
  const relays = new Map<string, Relay>()
  const urls = new Map<string, string>()
  const proxies = new Map<string, FaultProxy>()
  for (const region of names) {
    const port = await freePort()
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port } })
    cleanups.push(() => proxy.close())
    // Closing relays behind a partition would wait on close handshakes that never arrive.
    cleanups.push(() => healAll(proxies))
    proxies.set(region, proxy)
    const seed = proxies.get(names[0] as string)?.url
    const relay = await buildRelay({
      storage: new MemoryStorageAdapter(),
      nodeId: region,
      region,
      documentPolicies: policies,
      statusIntervalMs: 100,
      readOnlyRecoveryHoldMs: 300,
      mesh: { clusterSecret: SECRET, advertiseUrl: proxy.url, peers: region === names[0] || seed === undefined ? [] : [seed], ...MESH }
    })
    cleanups.push(() => relay.close())
    relays.set(region, relay)
    urls.set(region, await relay.listen({ port, host: '127.0.0.1' }))
  }
  for (const relay of relays.values()) {
    await waitUntil(() => relay.mesh?.status().members.filter((m) => m.linked).length === names.length - 1, 'mesh linked')
  }
  return { relays, urls, proxies }
}

describe('behaviour during partitions', () => {
  it('healthy → degraded → read-only (relay-enforced) → heal → converged → healthy, losing no buffered write', async () => {
    const { urls, proxies } = await regions(['eu', 'us'], [{ pattern: 'orders/*', homeRegion: 'eu' }])
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
    const order = createClient('orders/1', { url: urls.get('us') as string, policy })
    const notes = createClient('notes/1', { url: urls.get('us') as string, policy: { ...policy, homeRegion: null, requiresHomeRegionForWrites: false, capabilities: [] } })
    cleanups.push(() => order.provider.destroy(), () => notes.provider.destroy())
    const modes: DocumentMode[] = []
    let converged = 0
    order.provider.on('policy', (d) => {
      if (modes.at(-1) !== d.mode) modes.push(d.mode)
    })
    order.provider.on('converged', () => converged++)

    await waitUntil(() => order.provider.policy.mode === 'healthy' && order.provider.can('checkout') && order.provider.can('comments'), 'healthy with every capability')
    order.provider.transact((d) => d.getMap('order').set('item', 'book'))
    await order.provider.whenAcknowledged({ timeoutMs: 5_000 })

    // The partition: staleness passes its bound first (degraded), then the home region is declared unreachable (read-only).
    partitionPair(proxies, 'eu', 'us')
    await waitUntil(() => order.provider.policy.mode === 'degraded', 'degraded', 5_000)
    const degraded = order.provider.policy
    expect(degraded.capabilities.find((c) => c.name === 'comments')).toMatchObject({ on: false, reason: 'stale' })
    expect(degraded.writable).toBe(true)
    notes.doc.getText('t').insert(0, 'written while degraded; ')

    await waitUntil(() => order.provider.policy.mode === 'read-only', 'read-only', 5_000)
    expect(order.provider.can('checkout')).toBe(false)
    expect(order.provider.policy.capabilities.find((c) => c.name === 'checkout')?.reasons).toContain('home-region-unreachable')
    expect(() => order.provider.transact((d) => d.getMap('order').set('item', 'refused'))).toThrow(expect.objectContaining({ code: 'ERR_READ_ONLY' }))
    // A direct edit is held (reported, not dropped) and sent once writable again.
    order.doc.getMap('order').set('note', 'held while read-only')
    expect(order.errors.some((e) => e.startsWith('ERR_READ_ONLY'))).toBe(true)
    // The relay enforces it too: a raw client bypassing the SDK is refused and nothing is applied.
    const raw = await RawClient.connect(urls.get('us') as string, 'orders/1', { features: FEATURE_ACKS | FEATURE_STATUS })
    await raw.next('sync-step1')
    await raw.next('status', (m) => m.readOnly)
    raw.edit((d) => d.getMap('order').set('item', 'sneaky'))
    expect((await raw.closed()).code).toBe(4423)
    expect(raw.received.some((m) => m.type === 'error' && m.code === 'ERR_DOC_READ_ONLY')).toBe(true)
    expect((await relayView(urls.get('us') as string, 'orders/1')).getMap('order').get('item')).toBe('book')
    notes.doc.getText('t').insert(0, 'written while cut off; ')

    healAll(proxies)
    await waitUntil(() => converged > 0 && order.provider.policy.mode === 'healthy', 'converged and healthy', 10_000)
    expect(order.provider.can('checkout')).toBe(true)
    expect(order.provider.can('comments')).toBe(true)
    await order.provider.whenAcknowledged({ timeoutMs: 5_000 })
    await notes.provider.whenAcknowledged({ timeoutMs: 5_000 })

    // Each transition happened, in order (recovery may pass through degraded while staleness settles).
    expect(modes.slice(modes.indexOf('healthy')).join(' → ')).toMatch(/^healthy → degraded → read-only( → degraded)? → healthy$/)

    // Every buffered write is everywhere.
    for (const region of ['eu', 'us']) {
      await waitUntil(async () => (await relayView(urls.get(region) as string, 'orders/1')).getMap('order').get('note') === 'held while read-only', `held write in ${region}`, 5_000)
      await waitUntil(async () => (await relayView(urls.get(region) as string, 'notes/1')).getText('t').toString() === 'written while cut off; written while degraded; ', `buffered notes in ${region}`, 5_000)
    }
  })

  it('durability reaches replicated(2) in three regions, and stays at relay while the others are cut off', async () => {
    const { urls, proxies } = await regions(['eu', 'us', 'ap'])
    const client = createClient('ledger', { url: urls.get('eu') as string })
    cleanups.push(() => client.provider.destroy())
    await client.provider.whenSynced({ timeoutMs: 5_000 })
    const updates: Uint8Array[] = []
    client.doc.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin !== client.provider) updates.push(u)
    })

    client.doc.getArray('a').push(['first'])
    const first = updates.at(-1) as Uint8Array
    await client.provider.whenDurable(first, 'local', { timeoutMs: 5_000 })
    await client.provider.whenDurable(first, 'relay', { timeoutMs: 5_000 })
    await client.provider.whenDurable(first, { replicated: 2 }, { timeoutMs: 10_000 })
    expect(client.provider.durabilityOf(first)).toEqual({ replicated: 2 })

    isolate(proxies, 'eu')
    client.doc.getArray('a').push(['second'])
    const second = updates.at(-1) as Uint8Array
    await client.provider.whenDurable(second, 'relay', { timeoutMs: 5_000 })
    await expect(client.provider.whenDurable(second, { replicated: 1 }, { timeoutMs: 500 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
    expect(client.provider.durabilityOf(second)).toBe('relay')

    healAll(proxies)
    await client.provider.whenDurable(second, { replicated: 2 }, { timeoutMs: 10_000 })
    await client.provider.whenDurable('all', { replicated: 2 }, { timeoutMs: 10_000 })
  })
})
