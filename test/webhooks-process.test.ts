/**
 * Webhooks through real relay processes (SQLite): the receiver goes down for
 * a while and comes back, the relay is killed with SIGKILL while deliveries
 * are under way and restarted on the same data directory. Every acknowledged
 * change reaches the receiver at least once, none is lost, and per document
 * the deliveries come in order (a range may repeat after the crash, never skip).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RawClient, startRelayProcess, type RelayProcess } from '@meridian/testing'
import { loadReadmeVerifier } from './helpers/webhook-verify.js'
import { checkDeliveries, startWebhookReceiver } from './helpers/webhook-receiver.js'

const SECRET = 'process-webhook-secret-0123456789'
const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('webhooks from a relay process', () => {
  it('deliver every change at least once, in order per document, across a receiver outage and a SIGKILL of the relay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-hooks-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const receiver = await startWebhookReceiver({ secret: SECRET, verify: await loadReadmeVerifier() })
    cleanups.push(() => receiver.close())
    const env = {
      MERIDIAN_WEBHOOKS: JSON.stringify([{ url: receiver.url, secret: SECRET, docs: ['hooks/*'], debounceMs: 30, initialBackoffMs: 100, maxBackoffMs: 400, maxAttempts: 1000 }])
    }
    const args = ['--data-dir', dir, '--webhook-lease-ttl-ms', '1500', '--webhook-poll-interval-ms', '100']
    const start = async (): Promise<RelayProcess> => {
      const p = await startRelayProcess(args, { env })
      cleanups.push(() => (p.child.exitCode === null && p.child.signalCode === null ? p.kill('SIGKILL') : undefined))
      return p
    }
    const docs = ['hooks/a', 'hooks/b', 'hooks/c']
    const acked = new Map<string, Set<string>>(docs.map((d) => [d, new Set<string>()]))
    /** Writes `rounds` keys to every document through one relay, each acknowledged before the next. */
    const write = async (relay: RelayProcess, from: number, rounds: number, during?: (round: number) => Promise<void>): Promise<void> => {
      const clients = await Promise.all(docs.map((d) => RawClient.connect(relay.url, d)))
      await Promise.all(clients.map((c) => c.next('sync-step1')))
      try {
        for (let r = 0; r < rounds; r++) {
          await Promise.all(clients.map(async (c, i) => {
            const key = `k${from + r}`
            c.edit((doc) => doc.getMap('m').set(key, from + r))
            await c.next('ack', (m) => m.upTo >= r + 2)
            acked.get(docs[i] as string)?.add(key)
          }))
          await during?.(r)
        }
      } finally {
        for (const c of clients) c.socket.terminate()
      }
    }

    const first = await start()
    await write(first, 0, 10)
    await receiver.waitFor(() => receiver.deliveries.length >= 3, 10_000, 'first deliveries')
    // The receiver goes away while changes keep coming, then comes back.
    await receiver.down()
    await write(first, 10, 10)
    // Down until the relay has failed and retried a few times.
    await receiver.waitFor(() => (first.output().match(/webhook delivery failed; retrying/g) ?? []).length >= 3, 15_000, 'retries while the receiver is down')
    const beforeUp = receiver.deliveries.length
    await receiver.up()
    await receiver.waitFor(() => receiver.deliveries.length > beforeUp, 15_000, 'deliveries once the receiver is back')
    // Kill the relay while it is delivering: changes keep coming until the receiver has seen some of the new ones.
    const before = receiver.deliveries.length
    let killed = false
    await write(first, 20, 500, async () => {
      if (!killed && receiver.deliveries.length > before) {
        killed = true
        await first.kill('SIGKILL')
        throw new Error('killed') // ends this writer: its relay is gone
      }
    }).catch((err: unknown) => {
      if (!killed) throw err
    })
    expect(killed).toBe(true)
    const second = await start()
    await write(second, 100, 5)
    await receiver.waitFor(() => {
      const { maxTo } = checkDeliveries(receiver.deliveries)
      const { docs: built } = checkDeliveries(receiver.deliveries)
      return docs.every((d) => [...(acked.get(d) ?? [])].every((k) => built.get(d)?.getMap('m').has(k) === true)) && maxTo.size === docs.length
    }, 30_000, 'every acknowledged change at the receiver')
    const { gaps, docs: built } = checkDeliveries(receiver.deliveries)
    expect(gaps).toEqual([])
    for (const d of docs) {
      const missing = [...(acked.get(d) ?? [])].filter((k) => built.get(d)?.getMap('m').has(k) !== true)
      expect(missing, d).toEqual([])
    }
    expect(receiver.rejected).toBe(0)
    // The outage was seen (failed attempts retried) and both relay processes delivered.
    expect(new Set(receiver.deliveries.map((d) => d.nodeId)).size).toBe(2)
    console.log(`webhooks-process: ${receiver.deliveries.length} deliveries, ${receiver.deliveries.filter((d, i, all) => all.findIndex((x) => x.deliveryId === d.deliveryId) !== i).length} repeated`)
  }, 120_000)
})
