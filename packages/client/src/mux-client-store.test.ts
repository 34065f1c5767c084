// The default store (no `store` option) is IndexedDB on the global factory: fake-indexeddb's here.
import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { MeridianClient } from './multiplex.js'

const clients: MeridianClient[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const c of clients.splice(0)) await c.destroy()
})

describe('MeridianClient without a store option', () => {
  it('keeps every document in one IndexedDB store (one database connection), and reloads them from it', async () => {
    const opens = vi.spyOn(indexedDB, 'open')
    const first = new MeridianClient({ connect: false })
    clients.push(first)
    const names = Array.from({ length: 12 }, (_, i) => `ws/page-${i}`)
    for (const [i, name] of names.entries()) {
      const provider = first.open(name)
      await provider.whenLoaded
      provider.doc.getText('t').insert(0, `page ${i}`)
    }
    for (const name of names) await first.documents.get(name)?.whenPersisted()
    expect(opens).toHaveBeenCalledTimes(1)
    await first.destroy()

    const second = new MeridianClient({ connect: false })
    clients.push(second)
    for (const [i, name] of names.entries()) {
      const provider = second.open(name)
      await provider.whenLoaded
      expect(provider.doc.getText('t').toString()).toBe(`page ${i}`)
      expect(provider.persistence).not.toBe('memory-only')
    }
    expect(opens).toHaveBeenCalledTimes(2)
  })
})
