import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
// The client tab keeps its document in (fake) IndexedDB, which must outlive it: its classes must be globals.
import 'fake-indexeddb/auto'
import { IDBFactory } from 'fake-indexeddb'
import { afterEach, describe, expect, it } from 'vitest'
import { RawClient, createPrng, createTestClient, freePort, parseSeed, relayView, startRelayProcess, type RelayProcess } from '@meridian/testing'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meridian-proc-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function relayProcess(args: string[]): Promise<RelayProcess> {
  const p = await startRelayProcess(args)
  cleanups.push(() => (p.child.exitCode === null && p.child.signalCode === null ? p.kill('SIGKILL') : undefined))
  return p
}

describe('relay process', () => {
  it('serves every acknowledged update after SIGKILL and a restart on the same data dir', async () => {
    const seed = parseSeed(process.env.MERIDIAN_SEED)
    const rand = createPrng(seed)
    const dir = dataDir()
    const first = await relayProcess(['--data-dir', dir])
    const writers = await Promise.all([0, 1, 2].map(() => RawClient.connect(first.url, 'ledger')))
    await Promise.all(writers.map((w) => w.next('sync-step1')))
    // Each writer sets its own keys; message n+1 carries key n (message 1 is the step-2 reply).
    const acked = new Map<string, number>()
    const sentAt = writers.map(() => 1)
    const perWriter = 200
    // Killed once at least this many updates are acknowledged. Acks are cumulative and the relay
    // commits what arrives together in one transaction, so one ack may cover many updates.
    const killAfter = 20 + Math.floor(rand() * 30)
    let reachedKillPoint = false
    const killPoint = new Promise<void>((resolve) => {
      writers.forEach((w, wi) => {
        w.socket.on('message', () => {
          const last = w.received.at(-1)
          if (last?.type !== 'ack') return
          for (let n = 0; n < last.upTo - 1; n++) acked.set(`w${wi}-${n}`, n)
          if (acked.size >= killAfter) {
            reachedKillPoint = true
            resolve()
          }
        })
      })
    })
    // One round of edits per event-loop turn, so that the relay is still receiving when it is killed.
    for (let n = 0; n < perWriter && !reachedKillPoint; n++) {
      writers.forEach((w, wi) => {
        w.edit((d) => d.getMap('m').set(`w${wi}-${n}`, n))
        sentAt[wi] = (sentAt[wi] ?? 0) + 1
      })
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    await killPoint
    // Kill mid-traffic: whatever was acknowledged must survive, the rest may not.
    const { signal } = await first.kill('SIGKILL')
    expect(signal).toBe('SIGKILL')
    const ackedNow = new Map(acked)
    expect(ackedNow.size).toBeGreaterThan(0)

    const second = await relayProcess(['--data-dir', dir])
    const doc = await relayView(second.url, 'ledger')
    const missing = [...ackedNow.keys()].filter((k) => doc.getMap('m').get(k) !== ackedNow.get(k))
    expect(missing, `seed ${seed}`).toEqual([])
  })

  it('shuts down gracefully on SIGTERM and SIGINT, keeping every acknowledged update', async () => {
    const dir = dataDir()
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const relay = await relayProcess(['--data-dir', dir])
      const c = await RawClient.connect(relay.url, 'graceful')
      await c.next('sync-step1')
      c.edit((d) => d.getMap('m').set(sig, true))
      await c.next('ack', (m) => m.upTo >= 2)
      const closed = c.closed()
      const exit = await relay.kill(sig)
      expect(exit.code).toBe(0)
      expect((await closed).code).toBe(1001)
    }
    const relay = await relayProcess(['--data-dir', dir])
    expect((await relayView(relay.url, 'graceful')).getMap('m').toJSON()).toEqual({ SIGTERM: true, SIGINT: true })
  })

  it('offline: edits made while the relay is down survive a crash of the client and reach the relay when it is back', async () => {
    const dir = dataDir()
    const first = await relayProcess(['--data-dir', dir])
    const tab = createTestClient('notes', { url: first.url, indexedDB: new IDBFactory() })
    cleanups.push(() => tab.provider.destroy())
    await tab.provider.whenSynced({ timeoutMs: 5_000 })
    await first.kill('SIGKILL')

    tab.doc.getText('t').insert(0, 'written offline')
    await tab.provider.whenPersisted()
    expect(tab.provider.pendingCount).toBe(1)
    // The tab "crashes": no destroy, no clean close. A new tab opens on the same IndexedDB
    // while the relay is still down, and the relay comes back on a new address.
    const port = await freePort()
    const reopened = createTestClient('notes', { url: `ws://127.0.0.1:${port}`, indexedDB: tab.indexedDB })
    cleanups.push(() => reopened.provider.destroy())
    await reopened.provider.whenLoaded
    expect(reopened.doc.getText('t').toString()).toBe('written offline')
    expect(reopened.provider.pendingCount).toBe(1)

    const second = await relayProcess(['--data-dir', dir, '--port', String(port)])
    await reopened.provider.whenAcknowledged({ timeoutMs: 10_000 })
    expect((await relayView(second.url, 'notes')).getText('t').toString()).toBe('written offline')
    expect(reopened.errors).toEqual([])
  })

  it('rejects bad flags with exit code 2 and reads MERIDIAN_* environment variables', async () => {
    await expect(startRelayProcess(['--port', 'nope'])).rejects.toThrow(/code 2/)
    const dir = dataDir()
    const relay = await startRelayProcess([], { env: { MERIDIAN_DATA_DIR: dir, MERIDIAN_REGION: 'ap', MERIDIAN_NODE_ID: 'ap-7' } })
    cleanups.push(() => relay.kill('SIGKILL'))
    const ready = (await (await fetch(relay.url.replace('ws://', 'http://') + '/readyz')).json()) as Record<string, string>
    expect(ready).toMatchObject({ nodeId: 'ap-7', region: 'ap' })
  })
})
