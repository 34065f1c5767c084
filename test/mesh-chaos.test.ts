import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { healAll, partitionPair } from '@meridian/testing'
import type { MeridianProvider } from '@meridian/client'
import { createClient } from './helpers/cluster.js'
import { getJson, startProcessCluster, type ProcessCluster } from './helpers/mesh-cluster.js'
import { createPrng, testSeed } from './helpers/prng.js'
import { docFingerprint, randomEdit } from './helpers/random-edits.js'
import { relayView } from './helpers/raw-client.js'
import { waitUntil } from './helpers/wait.js'

const REGIONS = ['eu', 'us', 'ap']
const DOCS = ['board-1', 'board-2', 'board-3']

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Writer {
  name: string
  docName: string
  provider: MeridianProvider
  doc: Y.Doc
  errors: string[]
  written: string[]
}

describe('multi-region chaos', () => {
  it('3 regions × 2 relays converge after partitions, latency, resets and a kill -9, losing nothing acknowledged', async () => {
    const seed = testSeed()
    const rand = createPrng(seed)
    const fail = (err: unknown): never => {
      throw new Error(`mesh chaos failed with seed ${seed} (replay: MERIDIAN_SEED=${seed} npm test -- test/mesh-chaos.test.ts): ${(err as Error).message}`, { cause: err })
    }
    try {
      const cluster: ProcessCluster = await startProcessCluster({ regions: REGIONS, relaysPerRegion: 2 })
      cleanups.push(() => cluster.close())
      // Gossip from one seed: every relay learns and links to the other five.
      for (const r of cluster.relays) {
        await waitUntil(async () => (await getJson<{ members: { linked: boolean }[] }>(r.url, '/v1/cluster')).members.filter((m) => m.linked).length === 5, `${r.nodeId} linked to all`, 15_000)
      }

      // One writer per relay and document; each knows both relays of its region (failover).
      const writers: Writer[] = []
      for (const r of cluster.relays) {
        const sibling = cluster.relays.find((x) => x.region === r.region && x !== r)
        for (const docName of DOCS) {
          const c = createClient(docName, { urls: [r.url, ...(sibling ? [sibling.url] : [])] })
          cleanups.push(() => c.provider.destroy())
          writers.push({ name: `${r.nodeId}/${docName}`, docName, provider: c.provider, doc: c.doc, errors: c.errors, written: [] })
        }
      }
      await Promise.all(writers.map((w) => w.provider.whenSynced({ timeoutMs: 10_000 })))

      let editRound = 0
      const editBurst = async (rounds: number): Promise<void> => {
        for (let i = 0; i < rounds; i++, editRound++) {
          for (const w of writers) {
            if (rand() < 0.5) continue
            randomEdit(w.doc, rand, w.name)
            const key = `${w.name}#${editRound}`
            w.doc.getMap('keys').set(key, editRound)
            w.written.push(key)
          }
          // Interleave edits with network traffic (jitter, not a wait for a condition).
          await new Promise((r) => setTimeout(r, 10 + Math.floor(rand() * 20)))
        }
      }

      await editBurst(10)
      // Region ap is cut off entirely; eu→us works one way only; latency on eu-2.
      for (const ap of ['ap-1', 'ap-2']) for (const other of ['eu-1', 'eu-2', 'us-1', 'us-2']) partitionPair(cluster.proxies, ap, other)
      partitionPair(cluster.proxies, 'eu-1', 'us-1', { oneWay: true })
      cluster.proxies.get('eu-2')?.setLatency(40)
      await editBurst(15)
      // A relay dies mid-traffic and comes back on its data dir; links are reset elsewhere.
      const victim = rand() < 0.5 ? 'us-2' : 'eu-1'
      await cluster.crash(victim)
      await editBurst(10)
      cluster.proxies.get('us-1')?.resetConnections()
      await cluster.restart(victim)
      await editBurst(10)

      healAll(cluster.proxies)
      cluster.proxies.get('eu-2')?.setLatency(0)
      await Promise.all(writers.map((w) => w.provider.whenAcknowledged({ timeoutMs: 30_000 })))

      // Every relay converges on every document (anti-entropy repairs what pushes missed).
      const fingerprints = async (docName: string): Promise<string[]> =>
        Promise.all(cluster.relays.map(async (r) => JSON.stringify(docFingerprint(await relayView(r.url, docName)))))
      for (const docName of DOCS) {
        try {
          await waitUntil(async () => new Set(await fingerprints(docName)).size === 1, `relays agree on ${docName}`, 30_000, 200)
        } catch (err) {
          // Say what each relay sees, so a failure can be read without a replay.
          const views = await Promise.all(cluster.relays.map(async (r) => {
            const st = await getJson<{ members: { nodeId: string; linked: boolean; state: string }[]; regions: Record<string, { stalenessMs: number | null; pendingUpdates: number }> }>(r.url, '/v1/cluster')
            const d = await relayView(r.url, docName)
            return `${r.nodeId}: keys=${d.getMap('keys').size} links=${st.members.filter((m) => m.linked).map((m) => m.nodeId).join(',')} states=${st.members.map((m) => `${m.nodeId}:${m.state}`).join(',')} regions=${JSON.stringify(st.regions)}`
          }))
          throw new Error(`${(err as Error).message}\n${views.join('\n')}`)
        }
      }

      // Every acknowledged write is everywhere, and every client holds the same document.
      for (const docName of DOCS) {
        const reference = await relayView(cluster.relays[0]?.url as string, docName)
        const keys = reference.getMap('keys')
        const missing = writers.filter((w) => w.docName === docName).flatMap((w) => w.written.filter((k) => !keys.has(k)))
        expect(missing, docName).toEqual([])
        for (const w of writers.filter((x) => x.docName === docName)) {
          w.provider.disconnect()
          w.provider.connect()
          await w.provider.whenSynced({ timeoutMs: 10_000 })
          expect(docFingerprint(w.doc), w.name).toEqual(docFingerprint(reference))
          expect(w.errors, w.name).toEqual([])
        }
      }

      // Staleness is bounded again towards every region on every relay.
      for (const r of cluster.relays) {
        const status = await getJson<{ regions: Record<string, { stalenessMs: number | null }> }>(r.url, '/v1/cluster')
        for (const [region, s] of Object.entries(status.regions)) expect(s.stalenessMs, `${r.nodeId} → ${region}`).not.toBeNull()
      }
    } catch (err) {
      fail(err)
    }
  }, 180_000)
})
