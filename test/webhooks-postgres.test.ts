/**
 * Two relays of one region sharing PostgreSQL, both configured with the same
 * webhook: one holds the lease and delivers every change (whichever relay
 * committed it), never both at once; when it closes, the other takes over
 * from the cursors in PostgreSQL and nothing is lost or reordered per document.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { buildRelay, type Relay } from '@meridian/relay'
import { RawClient, startRelayProcess, type RelayProcess } from '@meridian/testing'
import { openPostgresStorage, type PostgresStorageAdapter } from '@meridian/storage-postgres'
import { checkPostgres, dropSchema, freshSchemaName, requireServices, withSchema } from './helpers/services.js'
import { loadReadmeVerifier } from './helpers/webhook-verify.js'
import { checkDeliveries, startWebhookReceiver } from './helpers/webhook-receiver.js'

const services = await requireServices('webhooks on PostgreSQL', { postgres: checkPostgres() })
const url = services?.postgres
const SECRET = 'pg-webhook-secret-0123456789abcdef'

describe.skipIf(url === undefined)('webhooks with two relays sharing PostgreSQL', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('one relay delivers at a time, the other takes over, every change delivered in order', async () => {
    const schema = freshSchemaName()
    cleanups.push(() => dropSchema(url as string, schema))
    // A slow receiver, so that deliveries from two relays at once would overlap there.
    const receiver = await startWebhookReceiver({ secret: SECRET, verify: await loadReadmeVerifier(), delayMs: 20 })
    cleanups.push(() => receiver.close())
    const relays: Relay[] = []
    const storages: PostgresStorageAdapter[] = []
    for (const nodeId of ['eu-1', 'eu-2']) {
      const storage = await openPostgresStorage({ connectionString: url as string, schema, poolSize: 4 })
      storages.push(storage)
      cleanups.push(() => storage.close())
      const relay = await buildRelay({
        storage,
        nodeId,
        region: 'eu',
        webhooks: [{ url: receiver.url, secret: SECRET, id: 'search', docs: ['orders/**'], debounceMs: 20, initialBackoffMs: 50, maxBackoffMs: 200 }],
        changeFeed: { leaseTtlMs: 900, pollIntervalMs: 50 }
      })
      relays.push(relay)
      cleanups.push(() => relay.close())
    }
    const [a, b] = relays as [Relay, Relay]
    const write = async (relay: Relay, doc: string, key: string): Promise<void> => {
      const room = await relay.rooms.acquire(doc)
      try {
        await room.transact((d) => d.getMap('m').set(key, relay.options.nodeId), { kind: 'server', actor: 'test' })
      } finally {
        relay.rooms.release(room)
      }
    }
    const leaders = async (): Promise<string[]> => {
      const out: string[] = []
      for (const r of relays) {
        const status = (await (await r.app.inject({ method: 'GET', url: '/v1/status' })).json()) as { webhooks: { delivering: boolean }[] }
        if (status.webhooks[0]?.delivering === true) out.push(r.options.nodeId)
      }
      return out
    }
    expect(await leaders()).toHaveLength(1)
    const keys: string[] = []
    for (let i = 0; i < 20; i++) {
      keys.push(`k${i}`)
      await write(i % 2 === 0 ? a : b, `orders/${i % 3}`, `k${i}`)
    }
    const complete = (): boolean => {
      const { docs } = checkDeliveries(receiver.deliveries)
      return keys.every((k, i) => docs.get(`orders/${i % 3}`)?.getMap('m').has(k) === true)
    }
    await receiver.waitFor(complete, 15_000, 'the first 20 changes')
    const [first] = await leaders()
    expect(new Set(receiver.deliveries.map((d) => d.nodeId))).toEqual(new Set([first]))
    // The delivering relay goes away; the other one takes over within the lease.
    const leader = relays.find((r) => r.options.nodeId === first) as Relay
    const other = relays.find((r) => r !== leader) as Relay
    await leader.close()
    for (let i = 20; i < 30; i++) {
      keys.push(`k${i}`)
      await write(other, `orders/${i % 3}`, `k${i}`)
    }
    await receiver.waitFor(complete, 15_000, 'the changes after the takeover')
    expect(receiver.deliveries.at(-1)?.nodeId).toBe(other.options.nodeId)
    const { gaps } = checkDeliveries(receiver.deliveries)
    expect(gaps).toEqual([])
    expect(receiver.overlaps).toBe(0)
    expect(receiver.rejected).toBe(0)
    // Each change went out once here (no crash): deliveries do not repeat a range.
    const ids = receiver.deliveries.map((d) => d.deliveryId)
    expect(new Set(ids).size).toBe(ids.length)
  }, 60_000)

  it('when the delivering relay process is killed with SIGKILL, the other takes the lapsed lease and delivers the rest', async () => {
    const schema = freshSchemaName()
    cleanups.push(() => dropSchema(url as string, schema))
    const receiver = await startWebhookReceiver({ secret: SECRET, verify: await loadReadmeVerifier() })
    cleanups.push(() => receiver.close())
    const admin = 'an-admin-token-for-webhook-tests'
    const start = async (nodeId: string): Promise<RelayProcess> => {
      const p = await startRelayProcess(['--storage', withSchema(url as string, schema), '--region', 'eu', '--node-id', nodeId, '--admin-token', admin, '--webhook-lease-ttl-ms', '1500', '--webhook-poll-interval-ms', '100'], {
        env: { MERIDIAN_WEBHOOKS: JSON.stringify([{ url: receiver.url, secret: SECRET, id: 'search', debounceMs: 20, initialBackoffMs: 50, maxBackoffMs: 200 }]) }
      })
      cleanups.push(async () => (p.child.exitCode === null && p.child.signalCode === null ? p.kill('SIGKILL') : undefined))
      return p
    }
    const processes = [await start('eu-1'), await start('eu-2')]
    const delivering = async (p: RelayProcess): Promise<boolean> => {
      const res = await fetch(`${p.url.replace('ws', 'http')}/v1/status`, { headers: { authorization: `Bearer ${admin}` } })
      return ((await res.json()) as { webhooks: { delivering: boolean }[] }).webhooks[0]?.delivering === true
    }
    const keys: string[] = []
    const write = async (p: RelayProcess, from: number, count: number): Promise<void> => {
      const client = await RawClient.connect(p.url, 'orders/1')
      await client.next('sync-step1')
      for (let i = 0; i < count; i++) {
        client.edit((d) => d.getMap('m').set(`k${from + i}`, i))
        await client.next('ack', (m) => m.upTo >= i + 2)
        keys.push(`k${from + i}`)
      }
      client.socket.terminate()
    }
    const complete = (): boolean => {
      const built = checkDeliveries(receiver.deliveries).docs.get('orders/1')
      return keys.every((k) => built?.getMap('m').has(k) === true)
    }
    await write(processes[1] as RelayProcess, 0, 5)
    await receiver.waitFor(complete, 20_000, 'the first changes')
    const leaderIndex = (await delivering(processes[0] as RelayProcess)) ? 0 : 1
    const leader = processes[leaderIndex] as RelayProcess
    const survivor = processes[1 - leaderIndex] as RelayProcess
    expect(await delivering(survivor)).toBe(false)
    // Killed without a chance to let go of its lease: the survivor waits for it to lapse, then takes over.
    await leader.kill('SIGKILL')
    await write(survivor, 5, 5)
    await receiver.waitFor(complete, 20_000, 'the changes after the takeover')
    expect(await delivering(survivor)).toBe(true)
    expect(checkDeliveries(receiver.deliveries).gaps).toEqual([])
    expect(receiver.overlaps).toBe(0)
  }, 90_000)
})
