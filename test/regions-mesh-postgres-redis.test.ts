/**
 * Two regions, each three relay processes on its own PostgreSQL schema and
 * Redis bus, linked to each other by the mesh (every relay behind a fault
 * proxy): they converge after a partition with writes on both sides.
 * Needs PostgreSQL and Redis (see helpers/services.ts for the skip rule).
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { healAll, partitionPair, startFaultProxy, type FaultProxy } from '@meridian/testing'
import { createClient, storedDoc } from './helpers/cluster.js'
import { freePort } from './helpers/ports.js'
import { createPrng, testSeed } from './helpers/prng.js'
import { docFingerprint, randomEdit } from './helpers/random-edits.js'
import { relayView, startRegion, type Region } from './helpers/region.js'
import { checkPostgres, checkRedis, requireServices } from './helpers/services.js'
import { waitUntil } from './helpers/wait.js'

const services = await requireServices('two-region mesh tests (PostgreSQL + Redis)', { postgres: checkPostgres(), redis: checkRedis() })

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const MESH = ['--heartbeat-interval-ms', '200', '--suspect-after-ms', '1500', '--down-after-ms', '4000', '--anti-entropy-interval-ms', '400']

describe.skipIf(services === null)('two regions of three relays (PostgreSQL + Redis each), linked by gossip', () => {
  it('converge after a partition with writes on both sides', async () => {
    if (services === null) return
    const seed = testSeed()
    const rand = createPrng(seed)
    const secret = randomBytes(16).toString('hex')
    const proxies = new Map<string, FaultProxy>()
    const ports = new Map<string, number>()
    for (const name of ['eu', 'us']) {
      for (let i = 1; i <= 3; i++) {
        const port = await freePort()
        const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port } })
        cleanups.push(() => proxy.close())
        proxies.set(`${name}-${i}`, proxy)
        ports.set(`${name}-${i}`, port)
      }
    }
    cleanups.push(() => healAll(proxies))
    const seedUrl = proxies.get('eu-1')?.url as string
    const regions: Region[] = []
    for (const name of ['eu', 'us']) {
      const region = await startRegion({
        postgresUrl: services.postgres as string,
        redisUrl: services.redis as string,
        name,
        extraArgs: (i) => {
          const id = `${name}-${i + 1}`
          return ['--port', String(ports.get(id)), '--cluster-secret', secret, '--advertise-url', proxies.get(id)?.url as string, ...(id === 'eu-1' ? [] : ['--peer', seedUrl]), ...MESH]
        }
      })
      cleanups.push(() => region.cleanup())
      regions.push(region)
    }
    const relays = regions.flatMap((r) => r.relays)
    for (const r of relays) {
      await waitUntil(async () => {
        const res = await fetch(r.url.replace('ws://', 'http://') + '/v1/cluster')
        const body = (await res.json()) as { members: { linked: boolean }[] }
        return body.members.filter((m) => m.linked).length === 5
      }, `${r.nodeId} linked to all`, 20_000, 100)
    }

    const writers = relays.map((r) => {
      const c = createClient('shared-board', { urls: [r.url] })
      cleanups.push(() => c.provider.destroy())
      return { ...c, name: r.nodeId, keys: [] as string[] }
    })
    await Promise.all(writers.map((w) => w.provider.whenSynced({ timeoutMs: 10_000 })))
    const burst = async (rounds: number, tag: string): Promise<void> => {
      for (let i = 0; i < rounds; i++) {
        for (const w of writers) {
          randomEdit(w.doc, rand, w.name)
          const key = `${w.name}-${tag}-${i}`
          w.doc.getMap('keys').set(key, i)
          w.keys.push(key)
        }
        await new Promise((r) => setTimeout(r, 10 + Math.floor(rand() * 20)))
      }
    }
    await burst(5, 'before')
    for (const a of ['eu-1', 'eu-2', 'eu-3']) for (const b of ['us-1', 'us-2', 'us-3']) partitionPair(proxies, a, b)
    await burst(15, 'during')
    healAll(proxies)
    await burst(3, 'after')
    await Promise.all(writers.map((w) => w.provider.whenAcknowledged({ timeoutMs: 20_000 })))

    try {
      await waitUntil(async () => {
        const prints = await Promise.all(relays.map(async (r) => JSON.stringify(docFingerprint(await relayView(r.url, 'shared-board')))))
        return new Set(prints).size === 1
      }, 'all six relays agree', 30_000, 200)
    } catch (err) {
      throw new Error(`seed ${seed} (replay: MERIDIAN_SEED=${seed}): ${(err as Error).message}`, { cause: err })
    }
    const reference = await relayView(relays[0]?.url as string, 'shared-board')
    const missing = writers.flatMap((w) => w.keys.filter((k) => !reference.getMap('keys').has(k)))
    expect(missing, `seed ${seed}`).toEqual([])
    // Each region's PostgreSQL holds the converged document too.
    for (const region of regions) {
      const stored = await storedDoc(await region.storage(), 'shared-board')
      expect(docFingerprint(stored), region.name).toEqual(docFingerprint(reference))
    }
  }, 120_000)
})
