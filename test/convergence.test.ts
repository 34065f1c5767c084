import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openSqliteStorage } from '@meridian/storage-sqlite'
import { createPrng, testSeed } from './helpers/prng.js'
import { docFingerprint, randomEdit } from './helpers/random-edits.js'
import { createClient, startRelay, storedDoc } from './helpers/cluster.js'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const CLIENTS = 12
const ROUNDS = 40

describe('convergence', () => {
  it(`${CLIENTS} clients with random edits and random disconnects converge with the relay's stored document`, async () => {
    const seed = testSeed()
    try {
      const rand = createPrng(seed)
      const dir = mkdtempSync(join(tmpdir(), 'meridian-conv-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const storage = openSqliteStorage({ dataDir: dir })
      cleanups.push(() => storage.close())
      const { relay, url } = await startRelay({ storage, compactAfterUpdates: 50 })
      cleanups.push(() => relay.close())

      const clients = Array.from({ length: CLIENTS }, () => createClient('board', { url, compactAfterUpdates: 30 }))
      for (const c of clients) cleanups.push(() => c.provider.destroy())
      await Promise.all(clients.map((c) => c.provider.whenSynced({ timeoutMs: 10_000 })))

      for (let round = 0; round < ROUNDS; round++) {
        clients.forEach((c, i) => {
          const edits = Math.floor(rand() * 4)
          for (let e = 0; e < edits; e++) randomEdit(c.doc, rand, `c${i}r${round}`)
          const roll = rand()
          if (c.provider.status !== 'disconnected' && roll < 0.08) c.provider.disconnect()
          else if (roll < 0.3) c.provider.connect()
        })
        // The relay drops a random client's socket now and then, as a network would.
        if (rand() < 0.15) {
          const sockets = [...relay.app.websocketServer.clients]
          sockets[Math.floor(rand() * sockets.length)]?.terminate()
        }
        // Let messages interleave with the next round's edits (timing jitter, not a wait for a condition).
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 6)))
      }

      for (const c of clients) c.provider.connect()
      await Promise.all(clients.map((c) => c.provider.whenAcknowledged({ timeoutMs: 20_000 })))
      // Every write is now on the relay; one more sync round brings each client everything.
      for (const c of clients) c.provider.disconnect()
      for (const c of clients) c.provider.connect()
      await Promise.all(clients.map((c) => c.provider.whenSynced({ timeoutMs: 10_000 })))

      const expected = docFingerprint(await storedDoc(storage, 'board'))
      for (const [i, c] of clients.entries()) {
        expect(docFingerprint(c.doc), `client ${i}`).toEqual(expected)
        expect(c.errors, `client ${i} errors`).toEqual([])
      }
      // And the relay's in-memory document agrees with its storage.
      const [room] = await relay.rooms.loadedRooms()
      expect(room && docFingerprint(room.doc)).toEqual(expected)
    } catch (err) {
      throw new Error(`convergence failed with seed ${seed} (replay: MERIDIAN_SEED=${seed} npm test -- test/convergence.test.ts): ${(err as Error).message}`, { cause: err })
    }
  })
})
