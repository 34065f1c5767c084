import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
// The clients keep their documents in (fake) IndexedDB, as in a browser: its classes must be globals.
import 'fake-indexeddb/auto'
import { IDBFactory } from 'fake-indexeddb'
import { afterEach, describe, expect, it } from 'vitest'
import { openSqliteStorage } from '@meridian/storage-sqlite'
import { createPrng, createTestClient, expectConverged, parseSeed, randomEdit, startTestRelay, storedDoc } from '@meridian/testing'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const CLIENTS = 12
const ROUNDS = 40

describe('convergence', () => {
  it(`${CLIENTS} clients with random edits and random disconnects converge with the relay's stored document`, async () => {
    const seed = parseSeed(process.env.MERIDIAN_SEED)
    try {
      const rand = createPrng(seed)
      const dir = mkdtempSync(join(tmpdir(), 'meridian-conv-'))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const storage = openSqliteStorage({ dataDir: dir })
      cleanups.push(() => storage.close())
      const { relay, url } = await startTestRelay({ storage, compactAfterUpdates: 50 })
      cleanups.push(() => relay.close())

      const clients = Array.from({ length: CLIENTS }, () => createTestClient('board', { url, compactAfterUpdates: 30, indexedDB: new IDBFactory() }))
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

      // Every client, the relay's storage and the relay's in-memory document agree (state vector, delete set, content).
      const [room] = await relay.rooms.loadedRooms()
      if (room === undefined) throw new Error('the relay has no room for board')
      expectConverged([
        { name: 'relay storage', doc: await storedDoc(storage, 'board') },
        { name: 'relay memory', doc: room.doc },
        ...clients.map((c, i) => ({ name: `client ${i}`, doc: c.doc }))
      ], { seed })
      for (const [i, c] of clients.entries()) expect(c.errors, `client ${i} errors`).toEqual([])
    } catch (err) {
      throw new Error(`convergence failed with seed ${seed} (replay: MERIDIAN_SEED=${seed} npm test -- test/convergence.test.ts): ${(err as Error).message}`, { cause: err })
    }
  })
})
