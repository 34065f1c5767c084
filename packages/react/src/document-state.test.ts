import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MeridianProvider } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { DocumentState } from './document-state.js'
import { ExternalStore } from './external-store.js'

function offlineProvider(store: MemoryClientStore = new MemoryClientStore()): MeridianProvider {
  return new MeridianProvider({ doc: new Y.Doc(), docName: 'state', store, connect: false, crossTab: false })
}

/** A memory store whose appends each take one macrotask: writes commit one after another, as in IndexedDB. */
class SlowStore extends MemoryClientStore {
  override async append(...args: Parameters<MemoryClientStore['append']>): ReturnType<MemoryClientStore['append']> {
    await new Promise((r) => setTimeout(r, 0))
    return super.append(...args)
  }
}

describe('DocumentState', () => {
  it('with nothing written settles without spinning, and follows a write to "local"', async () => {
    const provider = offlineProvider()
    const state = new DocumentState(provider, { maxReplicatedRegions: 2 })
    await provider.whenLoaded
    // Several macrotask turns: a waiter re-armed on every resolution would never let this run.
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0))
    expect(state.snapshot.get().durability.lastWrite).toBeNull()
    const seen: string[] = []
    state.snapshot.subscribe(() => seen.push(JSON.stringify(state.snapshot.get().durability)))
    provider.doc.getText('t').insert(0, 'x')
    expect(state.snapshot.get().pendingCount).toBe(1)
    expect(state.snapshot.get().durability.lastWrite).toBe('pending')
    await provider.whenDurable('all', 'local')
    await new Promise((r) => setTimeout(r, 0))
    expect(state.snapshot.get().durability).toEqual({ all: 'local', lastWrite: 'local' })
    expect(seen.at(-1)).toBe('{"all":"local","lastWrite":"local"}')
    state.close()
    await provider.destroy()
  })

  it('a burst of writes made while the first is being stored all end up "local" (no write left behind)', async () => {
    const provider = offlineProvider(new SlowStore())
    const state = new DocumentState(provider)
    await provider.whenLoaded
    for (let i = 0; i < 20; i++) {
      provider.doc.getText('t').insert(i, 'x')
      if (i % 5 === 4) await new Promise((r) => setTimeout(r, 0))
    }
    expect(state.snapshot.get().pendingCount).toBe(20)
    await provider.whenDurable('all', 'local')
    await new Promise((r) => setTimeout(r, 0))
    expect(state.snapshot.get().durability).toEqual({ all: 'local', lastWrite: 'local' })
    state.close()
    await provider.destroy()
  })

  it('a remote or replayed update is never taken for the last local write', async () => {
    const provider = offlineProvider()
    const state = new DocumentState(provider)
    await provider.whenLoaded
    const other = new Y.Doc()
    other.getText('t').insert(0, 'remote')
    Y.applyUpdate(provider.doc, Y.encodeStateAsUpdate(other), provider)
    expect(state.snapshot.get().durability.lastWrite).toBeNull()
    expect(state.snapshot.get().pendingCount).toBe(0)
    state.close()
    await provider.destroy()
  })

  it('rejects a bad maxReplicatedRegions', () => {
    const provider = offlineProvider()
    expect(() => new DocumentState(provider, { maxReplicatedRegions: -1 })).toThrow(RangeError)
    void provider.destroy()
  })
})

describe('ExternalStore', () => {
  it('keeps the old value when the new one is equal, and lets a listener unsubscribe while notified', () => {
    const store = new ExternalStore({ n: 1 }, (a, b) => a.n === b.n)
    const first = store.get()
    let calls = 0
    const off = store.subscribe(() => {
      calls++
      off()
    })
    store.set({ n: 1 })
    expect(store.get()).toBe(first)
    store.set({ n: 2 })
    store.set({ n: 3 })
    expect(calls).toBe(1)
    expect(store.listenerCount).toBe(0)
  })
})
