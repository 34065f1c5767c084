/**
 * 50 documents over one MeridianClient connection, with a token granting some
 * for writing, some for reading and not the rest, through two meshed relay
 * processes (regions a and b). The relay the client uses is SIGKILLed while
 * writes are in flight: the client fails over to the other one with one new
 * socket, refused documents stay refused (reported once), read-only ones keep
 * their writes locally, and every writable document converges with an
 * observer on the surviving relay without losing an acknowledged write.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { type MeridianProvider } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { mintToken } from '@meridian/relay'
import { openSqliteStorage } from '@meridian/storage-sqlite'
import {
  captureUpdate, createPrng, deriveSeed, docContainsUpdate, expectConverged, levelRank, parseSeed, startProcessCluster, storedDoc, waitUntil,
  type ProcessCluster
} from '@meridian/testing'
import { createMuxClient, metric, whenDoc, whenSameState, type TestMuxClient } from './helpers/mux.js'

const SECRET = 'mux-failover-secret-that-is-at-least-32-bytes'
const ADMIN = 'mux-failover-admin-token'
const WRITABLE = Array.from({ length: 30 }, (_, i) => `ws/w/${i}`)
const READ_ONLY = Array.from({ length: 10 }, (_, i) => `ws/r/${i}`)
const REFUSED = Array.from({ length: 10 }, (_, i) => `ws/x/${i}`)

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

interface Write {
  doc: string
  key: string
  update: Uint8Array
  provider: MeridianProvider
}

function muxClient(urls: string[], token: string): TestMuxClient {
  const m = createMuxClient({ urls, params: { token }, store: new MemoryClientStore() })
  cleanups.push(() => m.client.destroy())
  return m
}

describe('MeridianClient failover between relay processes', () => {
  it('50 documents with mixed grants: the relay in use is SIGKILLed mid-write, the client fails over with one socket, nothing acknowledged is lost', async () => {
    const seed = parseSeed(process.env.MERIDIAN_SEED)
    const rand = createPrng(deriveSeed(seed, 'mux-failover'))
    const replay = `seed ${seed}: MERIDIAN_SEED=${seed} npx vitest run test/mux-failover.test.ts`
    const cluster: ProcessCluster = await startProcessCluster({ seed, regions: ['a', 'b'], relayArgs: ['--auth', 'jwt'], relayEnv: { MERIDIAN_JWT_SECRET: SECRET }, adminToken: ADMIN })
    cleanups.push(() => cluster.close())
    const [victim, survivor] = [cluster.relay('a-1'), cluster.relay('b-1')]
    const grants = await mintToken({ secret: SECRET, ttlSeconds: 300, docs: [{ pattern: 'ws/w/*', access: 'write' }, { pattern: 'ws/r/*', access: 'read' }] })
    const everything = await mintToken({ secret: SECRET, ttlSeconds: 300, docs: [{ pattern: 'ws/**', access: 'write' }] })

    const m = muxClient([victim.url, survivor.url], grants)
    const statuses: string[] = []
    m.client.on('status', ({ status, url }) => statuses.push(`${status}@${url === victim.url ? 'a' : url === survivor.url ? 'b' : url}`))
    const providers = new Map([...WRITABLE, ...READ_ONLY, ...REFUSED].map((name) => [name, m.open(name)]))
    const provider = (name: string): MeridianProvider => providers.get(name) as MeridianProvider
    await Promise.all([...WRITABLE, ...READ_ONLY].map((name) => provider(name).whenSynced({ timeoutMs: 10_000 })))
    await waitUntil(() => REFUSED.every((name) => (m.docErrors.get(name) ?? []).length > 0), 'every refused document to report it', 5_000, 5)
    for (const name of REFUSED) {
      expect(m.docErrors.get(name), name).toEqual(['ERR_RELAY(ERR_AUTH_FORBIDDEN)'])
      expect(provider(name).status, name).toBe('disconnected')
    }
    expect(await metric(victim.url, 'meridian_relay_connections{access="mux"}')).toBe(1)
    expect(await metric(victim.url, 'meridian_relay_mux_documents{access="write"}')).toBe(WRITABLE.length)
    expect(await metric(victim.url, 'meridian_relay_mux_documents{access="read"}')).toBe(READ_ONLY.length)

    // Read-only documents: the write is refused by the relay, held locally (pending), never lost.
    for (const name of READ_ONLY) provider(name).doc.getMap('m').set('held', name)
    await waitUntil(() => READ_ONLY.every((name) => (m.docErrors.get(name) ?? []).includes('ERR_RELAY(ERR_READ_ONLY)')), 'the read-only refusals', 5_000, 5)
    for (const name of READ_ONLY) expect(provider(name).pendingCount, name).toBe(1)

    // Writes on every writable document, a few per turn, until well after the kill.
    const writes: Write[] = []
    let n = 0
    const write = (): void => {
      for (const doc of WRITABLE) {
        if (rand() >= 0.5) continue
        const p = provider(doc)
        const key = `k${n++}`
        writes.push({ doc, key, provider: p, update: captureUpdate(p.doc, () => p.doc.getMap('m').set(key, n)) })
      }
    }
    const acked = (): Write[] => writes.filter((w) => levelRank(w.provider.durabilityOf(w.update)) >= levelRank('relay'))
    for (let i = 0; i < 2_000 && acked().length < 100; i++) {
      write()
      await turn()
    }
    expect(acked().length, replay).toBeGreaterThanOrEqual(100)
    const inFlight = writes.length - acked().length
    const before = statuses.length
    const killed = cluster.crash(victim)
    const ackedAtKill = acked()
    // Writing on while the relay dies and the client fails over.
    for (let i = 0; i < 200 && (i < 20 || m.client.status !== 'connected'); i++) {
      write()
      await turn()
    }
    await killed
    expect(victim.running).toBe(false)
    await Promise.all(WRITABLE.map((name) => provider(name).whenAcknowledged({ timeoutMs: 20_000 })))
    for (let i = 0; i < 5; i++) write()
    await Promise.all(WRITABLE.map((name) => provider(name).whenAcknowledged({ timeoutMs: 10_000 })))
    console.log(`${writes.length} writes, ${ackedAtKill.length} acknowledged at the kill (${inFlight} in flight), statuses after it: ${statuses.slice(before).join(' ')}`)

    // One new socket, to the survivor.
    expect(m.client.url).toBe(survivor.url)
    expect(statuses.slice(before), replay).toEqual(['disconnected@a', 'connecting@b', 'connected@b'])
    expect(await metric(survivor.url, 'meridian_relay_connections{access="mux"}')).toBe(1)
    expect(await metric(survivor.url, 'meridian_relay_mux_documents{access="write"}')).toBe(WRITABLE.length)
    // Refused documents stayed refused without asking again; read-only ones still hold their write.
    expect(await metric(survivor.url, 'meridian_relay_mux_documents_refused_total{reason="forbidden"}')).toBe(0)
    for (const name of REFUSED) expect(m.docErrors.get(name), name).toEqual(['ERR_RELAY(ERR_AUTH_FORBIDDEN)'])
    for (const name of READ_ONLY) {
      expect(provider(name).pendingCount, name).toBe(1)
      expect(provider(name).doc.getMap('m').get('held'), name).toBe(name)
      expect(new Set(m.docErrors.get(name)), name).toEqual(new Set(['ERR_RELAY(ERR_READ_ONLY)']))
    }
    for (const name of WRITABLE) expect(m.docErrors.get(name), name).toEqual([])
    expect(m.errors).toEqual([])

    // An observer on the survivor: every writable document converges, with every acknowledged write in it.
    const observer = muxClient([survivor.url], everything)
    const seen = new Map([...WRITABLE, ...READ_ONLY].map((name) => [name, observer.open(name)]))
    const seenDoc = (name: string): Y.Doc => (seen.get(name) as MeridianProvider).doc
    await Promise.all([...seen.values()].map((p) => p.whenSynced({ timeoutMs: 10_000 })))
    for (const name of WRITABLE) {
      const mine = provider(name).doc
      await whenSameState([mine, seenDoc(name)], `the observer to catch up on ${name}`, 10_000)
      expectConverged([{ name: 'client', doc: mine }, { name: 'observer', doc: seenDoc(name) }], { seed, label: name })
    }
    const lost = ackedAtKill.filter((w) => !docContainsUpdate(seenDoc(w.doc), w.update)).map((w) => `${w.doc}:${w.key}`)
    expect(lost, replay).toEqual([])
    // And what the killed relay acknowledged is in its own storage (its SQLite data dir, read after the kill):
    // the survivor could have got it back from the client, so this is where "acknowledged = durable" shows.
    const killedStorage = openSqliteStorage({ dataDir: victim.dataDir })
    cleanups.push(() => killedStorage.close())
    for (const name of WRITABLE) {
      const stored = await storedDoc(killedStorage, name)
      const missing = ackedAtKill.filter((w) => w.doc === name && !docContainsUpdate(stored, w.update)).map((w) => w.key)
      expect(missing, `${name} in the killed relay's storage (${replay})`).toEqual([])
    }
    expect(writes.every((w) => seenDoc(w.doc).getMap('m').has(w.key)), replay).toBe(true)

    // The read-only documents still read: the observer's edits reach them, their held writes do not reach the relay.
    for (const name of READ_ONLY) seenDoc(name).getMap('m').set('from', 'observer')
    for (const name of READ_ONLY) {
      await whenDoc(provider(name).doc, (d) => d.getMap('m').get('from') === 'observer', `${name} to keep receiving`)
      expect(seenDoc(name).getMap('m').has('held'), name).toBe(false)
    }
    expect(observer.errors).toEqual([])
  }, 90_000)
})
