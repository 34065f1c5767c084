import { afterEach, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { createSystemClock } from '@meridian/base'
import { MemoryStorageAdapter, type DocTombstone } from '@meridian/storage'
import { RoomManager } from '../rooms.js'
import { RelayError } from '../errors.js'
import { DocTombstones } from './tombstones.js'

/** Counts tombstone look-ups; a look-up can be held, and the next tombstone write failed. */
class CountingStorage extends MemoryStorageAdapter {
  lookups: string[] = []
  hold: Promise<void> | null = null
  failNextTombstone = false

  override async loadTombstone(name: string): Promise<DocTombstone | null> {
    this.lookups.push(name)
    const hold = this.hold
    const found = await super.loadTombstone(name)
    if (hold !== null) await hold
    return found
  }

  override tombstone(name: string, deletedAtMs: number): Promise<void> {
    if (this.failNextTombstone) {
      this.failNextTombstone = false
      return Promise.reject(new Error('disk full'))
    }
    return super.tombstone(name, deletedAtMs)
  }
}

const log = pino({ level: 'silent' })
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of closers.splice(0)) await c()
})

function setup(options: { sharedStorage?: boolean; maxAbsentNames?: number } = {}): { storage: CountingStorage; rooms: RoomManager; tombstones: DocTombstones; lookupsOf: (name: string) => number } {
  const storage = new CountingStorage()
  const rooms = new RoomManager({ storage, logger: log, evictIdleAfterMs: 60_000, compactAfterUpdates: 1_000, clock: createSystemClock({ unref: true }) })
  closers.push(() => rooms.close())
  const tombstones = new DocTombstones({ storage, rooms, logger: log, now: () => 1_000, sharedStorage: options.sharedStorage ?? false, ...(options.maxAbsentNames !== undefined ? { maxAbsentNames: options.maxAbsentNames } : {}) })
  return { storage, rooms, tombstones, lookupsOf: (name) => storage.lookups.filter((n) => n === name).length }
}

describe('DocTombstones: names found not deleted', () => {
  it('are looked up in storage once (loads and anti-entropy alike)', async () => {
    const t = setup()
    const room = await t.rooms.acquire('a')
    t.rooms.release(room)
    expect(await t.tombstones.isDeleted('a')).toBe(false)
    expect(await t.tombstones.antiEntropyHooks(log).isDeleted('a')).toBe(false)
    expect(t.lookupsOf('a')).toBe(1)
  })

  it('a deletion through this relay forgets the name, even when storing the tombstone fails', async () => {
    const t = setup()
    expect(await t.tombstones.isDeleted('a')).toBe(false)
    t.storage.failNextTombstone = true
    await expect(t.tombstones.delete('a', { kind: 'api', actor: 'test' })).rejects.toThrow('disk full')
    expect(await t.tombstones.isDeleted('a')).toBe(false)
    expect(t.lookupsOf('a')).toBe(2)
    await t.tombstones.delete('a', { kind: 'api', actor: 'test' })
    expect(await t.tombstones.isDeleted('a')).toBe(true)
    await expect(t.rooms.acquire('a')).rejects.toMatchObject({ code: 'ERR_DOC_DELETED' })
  })

  it('a tombstone arriving by mesh forgets the name', async () => {
    const t = setup()
    expect(await t.tombstones.isDeleted('b')).toBe(false)
    const deleted = new Promise<string>((resolve) => t.tombstones.onDeleted(resolve))
    t.tombstones.antiEntropyHooks(log).onRemoteTombstone('b', 'us')
    expect(await deleted).toBe('b')
    expect(await t.tombstones.isDeleted('b')).toBe(true)
    await expect(t.rooms.acquire('b')).rejects.toBeInstanceOf(RelayError)
  })

  it('a look-up that overlapped a deletion is not remembered', async () => {
    const t = setup()
    let release = (): void => undefined
    t.storage.hold = new Promise((resolve) => (release = resolve))
    const lookup = t.tombstones.isDeleted('c')
    t.storage.hold = null
    t.storage.failNextTombstone = true
    await expect(t.tombstones.delete('c', { kind: 'api', actor: 'test' })).rejects.toThrow('disk full')
    release()
    expect(await lookup).toBe(false)
    expect(await t.tombstones.isDeleted('c')).toBe(false)
    expect(t.lookupsOf('c')).toBe(2)
  })

  it('are not remembered when other relays share the storage, and at most maxAbsentNames are', async () => {
    const shared = setup({ sharedStorage: true })
    for (let i = 0; i < 3; i++) expect(await shared.tombstones.isDeleted('a')).toBe(false)
    expect(shared.lookupsOf('a')).toBe(3)
    // Another relay's deletion is seen at once.
    await shared.storage.tombstone('a', 5)
    expect(await shared.tombstones.isDeleted('a')).toBe(true)

    const t = setup({ maxAbsentNames: 2 })
    for (const name of ['x', 'y', 'x', 'z', 'x', 'y']) await t.tombstones.isDeleted(name)
    // x stays (looked up most recently), y was dropped for z and looked up again.
    expect(['x', 'y', 'z'].map((n) => t.lookupsOf(n))).toEqual([1, 2, 1])
  })
})
