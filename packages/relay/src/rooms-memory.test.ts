import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { pino } from 'pino'
import { MemoryStorageAdapter } from '@meridian/storage'
import { Scheduler } from '@meridian/testing'
import { RoomManager } from './rooms.js'
import type { Room } from './room.js'
import type { ChangeSource } from './change-source.js'
import { DEFAULT_UPDATE_LIMITS } from './update-guard.js'
import { deepNesting, deleteSetUpdate } from './test-support/attacks.js'

const SERVER: ChangeSource = { kind: 'server', actor: 'test' }

/** An update adding `text` to the document's text (from a document of its own). */
function edit(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

/** Memory storage whose appends to `failing` documents reject. */
class FlakyStorage extends MemoryStorageAdapter {
  readonly failing = new Set<string>()
  override append(docName: string, update: Uint8Array): Promise<number> {
    return this.failing.has(docName) ? Promise.reject(new Error('disk full')) : super.append(docName, update)
  }
  override appendMany(docName: string, updates: readonly Uint8Array[]): Promise<number[]> {
    return this.failing.has(docName) ? Promise.reject(new Error('disk full')) : super.appendMany(docName, updates)
  }
}

interface Ctx {
  rooms: RoomManager
  storage: FlakyStorage
  scheduler: Scheduler
  held: Map<string, Room>
}

/** Waits for a room that failed to leave memory (it is dropped at once, without a flush). */
async function gone(room: Room): Promise<void> {
  await room.evicting
  expect(room.live).toBe(false)
}

/** Each step changes what is in memory or a room's estimate; after each, the running total must equal the sum recomputed. */
const steps: { name: string; moves: boolean; run: (c: Ctx) => Promise<void> }[] = [
  { name: 'load a (empty)', moves: false, run: async (c) => void c.held.set('a', await c.rooms.acquire('a')) },
  { name: 'load b (empty)', moves: false, run: async (c) => void c.held.set('b', await c.rooms.acquire('b')) },
  { name: 'write to a', moves: true, run: async (c) => c.held.get('a')?.applyUpdate(edit('hello'), SERVER) },
  { name: 'write to b', moves: true, run: async (c) => c.held.get('b')?.applyUpdate(edit('world'), SERVER) },
  { name: 'encode a for a joiner with nothing (cached)', moves: true, run: async (c) => void c.held.get('a')?.diffFor(new Uint8Array([0])) },
  {
    name: 'encode b for a joiner with part of it (cached diff)',
    moves: true,
    run: async (c) => {
      const doc = new Y.Doc()
      Y.applyUpdate(doc, edit('x'))
      c.held.get('b')?.diffFor(Y.encodeStateVector(doc), 'new-deletes')
      doc.destroy()
    }
  },
  { name: 'write to a again (its cache dropped)', moves: true, run: async (c) => c.held.get('a')?.applyUpdate(edit('again'), SERVER) },
  { name: 'compact b (its snapshot encoded)', moves: true, run: async (c) => c.held.get('b')?.compact() },
  {
    name: 'evict a once idle',
    moves: true,
    run: async (c) => {
      const a = c.held.get('a') as Room
      const evicted = new Promise<void>((resolve) => c.rooms.onRoomEvicted((room) => room === a && resolve()))
      c.rooms.release(a)
      c.held.delete('a')
      await c.scheduler.step() // the idle timer
      await evicted
    }
  },
  { name: 'reload a from storage', moves: true, run: async (c) => void c.held.set('a', await c.rooms.acquire('a')) },
  {
    name: 'a write to c fails to store: c is dropped',
    // Loaded empty, changed, dropped: back where it was.
    moves: false,
    run: async (c) => {
      const room = await c.rooms.acquire('c')
      c.storage.failing.add('c')
      await expect(room.applyUpdate(edit('lost'), SERVER)).rejects.toMatchObject({ code: 'ERR_STORAGE_WRITE' })
      await gone(room)
    }
  },
  {
    name: 'an update breaks d inside Yjs: d is dropped',
    // Loaded empty, changed, dropped: back where it was.
    moves: false,
    run: async (c) => {
      const room = await c.rooms.acquire('d')
      const { update, outer } = deepNesting(6_000)
      await room.applyUpdate(update, SERVER)
      await expect(room.applyUpdate(deleteSetUpdate(outer.client, [[outer.clock, 1]]), SERVER)).rejects.toMatchObject({ code: 'ERR_DOC_BROKEN' })
      await gone(room)
    }
  }
]

describe('RoomManager memory total', () => {
  it('the running total always equals the sum recomputed over the loaded rooms', async () => {
    const scheduler = new Scheduler()
    const storage = new FlakyStorage()
    const rooms = new RoomManager({
      storage,
      logger: pino({ level: 'silent' }),
      evictIdleAfterMs: 1_000,
      compactAfterUpdates: 1_000,
      clock: scheduler.clockFor('relay'),
      // The nesting check off, to reach the failure it guards against (as in security-nesting.test.ts).
      updateLimits: { ...DEFAULT_UPDATE_LIMITS, maxNestingDepth: 1_000_000 }
    })
    const c: Ctx = { rooms, storage, scheduler, held: new Map() }
    expect(rooms.memoryBytes).toBe(0)
    let previous = 0
    const changed: string[] = []
    for (const step of steps) {
      await step.run(c)
      const loaded = await rooms.loadedRooms()
      expect(rooms.memoryBytes, step.name).toBe(rooms.memory.total(loaded))
      if (rooms.memoryBytes !== previous) changed.push(step.name)
      previous = rooms.memoryBytes
    }
    // And the steps that change an estimate moved the total (the check above is not vacuous).
    expect(changed).toEqual(steps.filter((s) => s.moves).map((s) => s.name))
    await rooms.close()
    expect(rooms.memoryBytes).toBe(0)
  }, 30_000)
})

describe('RoomManager change listeners', () => {
  it('one relay-wide listener hears every room, loaded before or after it subscribed, without a listener in any room', async () => {
    const scheduler = new Scheduler()
    const rooms = new RoomManager({ storage: new MemoryStorageAdapter(), logger: pino({ level: 'silent' }), evictIdleAfterMs: 1_000, compactAfterUpdates: 1_000, clock: scheduler.clockFor('relay') })
    const early = await rooms.acquire('early')
    const heard: string[] = []
    const off = rooms.onRoomChange((room, change) => heard.push(`${room.name}:${change.source.kind}`))
    const late = await rooms.acquire('late')
    await early.applyUpdate(edit('a'), SERVER)
    await late.applyUpdate(edit('b'), SERVER)
    expect(heard).toEqual(['early:server', 'late:server'])
    // No room made a listener set of its own for it.
    for (const room of [early, late]) expect((room as unknown as { changes: { listeners: unknown } }).changes.listeners).toBeNull()
    off()
    await early.applyUpdate(edit('c'), SERVER)
    expect(heard).toHaveLength(2)
    await rooms.close()
  })
})
