import { afterEach, describe, expect, it } from 'vitest'
import { isMeridianError, type MeridianError, type MeridianProvider } from '@meridian/client'
import { MemoryClientStore } from '@meridian/client/store'
import { holdRefusedWrites } from '@meridian/client/refused-writes'
import { historyDocName, listVersions } from '@meridian/history'
import { captureUpdate, createTestClient, startTestRelay, type TestRelay } from '@meridian/testing'

// A client that deletes a version (history documents are append-only for clients) is refused with
// 4400 ERR_HISTORY_APPEND_ONLY: with holdRefusedWrites the SDK holds that write back instead of resending it at
// every reconnect (without it, syncing stops: see packages/client/src/write-gate.test.ts).
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function relayWithVersion(): Promise<TestRelay & { id: string }> {
  const r = await startTestRelay({ history: { autoVersions: false } })
  cleanups.push(() => r.relay.close())
  const room = await r.relay.rooms.acquire('notes/1')
  try {
    await room.transact((d) => d.getText('t').insert(0, 'hello'), { kind: 'server', actor: 'test' })
  } finally {
    r.relay.rooms.release(room)
  }
  const { version } = await r.relay.history.create('notes/1', { kind: 'named', label: 'kept', author: 'test', actor: 'test' })
  return { ...r, id: version.id }
}

const nextEvent = (provider: MeridianProvider, test: (synced: boolean) => boolean): Promise<void> =>
  new Promise((resolve) => {
    const on = (synced: boolean): void => {
      if (!test(synced)) return
      provider.off('synced', on)
      resolve()
    }
    provider.on('synced', on)
  })

describe('a write refused for what it does (ERR_HISTORY_APPEND_ONLY)', () => {
  for (const digest of [true, false]) {
    it(`is held back and reported once; appends still sync; no reconnect loop (${digest ? 'with' : 'without'} the delete digest)`, async () => {
      const { relay, url, id } = await relayWithVersion()
      const store = new MemoryClientStore()
      const client = createTestClient(historyDocName('notes/1'), { url, store, holdRefusedWrites, ...(digest ? {} : { deleteDigest: undefined }) })
      cleanups.push(() => client.provider.destroy())
      const { provider, doc } = client
      const attempts: string[] = []
      provider.on('status', (e) => {
        if (e.status === 'connecting') attempts.push('connecting')
      })
      const refused: MeridianError[] = []
      provider.on('error', (e) => {
        if (isMeridianError(e, 'ERR_WRITE_REFUSED')) refused.push(e)
      })
      await provider.whenSynced({ timeoutMs: 10_000 })
      expect(listVersions(doc).map((v) => v.id)).toEqual([id])

      // The deleting write: the relay closes with 4400, the provider holds it and reconnects once.
      const resynced = nextEvent(provider, (s) => s)
      const unsynced = nextEvent(provider, (s) => !s)
      captureUpdate(doc, () => doc.getMap('versions').delete(id))
      await unsynced
      await resynced
      expect(refused).toHaveLength(1)
      expect(refused[0]).toMatchObject({ code: 'ERR_WRITE_REFUSED', relayCode: 'ERR_HISTORY_APPEND_ONLY', seq: 1 })
      expect(provider.refusedWrites.map((w) => [w.seq, w.reason])).toEqual([[1, 'write-refused']])

      // The connection takes appends.
      const append = captureUpdate(doc, () => doc.getMap('versions').set('note-1', { note: 'an app may add entries' }))
      await provider.whenDurable(append, 'relay', { timeoutMs: 10_000 })
      // A reconnect (its step 2, and the digest exchange) does not send the refused delete again.
      provider.disconnect()
      const again = provider.whenSynced({ timeoutMs: 10_000 })
      provider.connect()
      await again
      const second = captureUpdate(doc, () => doc.getMap('versions').set('note-2', { note: 'still syncing' }))
      await provider.whenDurable(second, 'relay', { timeoutMs: 10_000 })
      expect(attempts).toHaveLength(3) // the first connection, the one after the refusal, the one asked for
      expect(refused).toHaveLength(1)
      expect((await relay.history.list('notes/1')).map((v) => v.id)).toEqual([id])

      // Dropped: no longer pending, and still never sent.
      provider.dropWrite(1)
      expect(provider.refusedWrites).toEqual([])
      await provider.whenAcknowledged({ timeoutMs: 10_000 })
      provider.disconnect()
      const third = provider.whenSynced({ timeoutMs: 10_000 })
      provider.connect()
      await third
      const last = captureUpdate(doc, () => doc.getMap('versions').set('note-3', { note: 'after the drop' }))
      await provider.whenDurable(last, 'relay', { timeoutMs: 10_000 })
      expect(refused).toHaveLength(1)
      expect(attempts).toHaveLength(4)
      const room = await relay.rooms.acquire(historyDocName('notes/1'))
      try {
        expect([...room.doc.getMap('versions').keys()].sort()).toEqual([id, 'note-1', 'note-2', 'note-3'].sort())
      } finally {
        relay.rooms.release(room)
      }
      // Locally the deletion stays (the document keeps every local write).
      expect(doc.getMap('versions').has(id)).toBe(false)

      // A reload: the local copy still has the deletion, no pending write carries it. Refused once more, then withheld.
      await provider.whenPersisted()
      await provider.destroy()
      const reloaded = createTestClient(historyDocName('notes/1'), { url, store, holdRefusedWrites, ...(digest ? {} : { deleteDigest: undefined }) })
      cleanups.push(() => reloaded.provider.destroy())
      const reconnects: string[] = []
      reloaded.provider.on('status', (e) => {
        if (e.status === 'connecting') reconnects.push('connecting')
      })
      const refusedAgain = new Promise<MeridianError>((resolve) => reloaded.provider.on('error', (e) => {
        if (isMeridianError(e, 'ERR_WRITE_REFUSED')) resolve(e)
      }))
      await reloaded.provider.whenLoaded
      expect(reloaded.doc.getMap('versions').has(id)).toBe(false)
      expect((await refusedAgain).relayCode).toBe('ERR_HISTORY_APPEND_ONLY')
      await reloaded.provider.whenSynced({ timeoutMs: 10_000 })
      const after = captureUpdate(reloaded.doc, () => reloaded.doc.getMap('versions').set('note-4', { note: 'after the reload' }))
      await reloaded.provider.whenDurable(after, 'relay', { timeoutMs: 10_000 })
      expect(reconnects.length).toBeLessThanOrEqual(2)
      expect(reloaded.errors.filter((e) => e.startsWith('ERR_WRITE_REFUSED'))).toHaveLength(1)
      expect((await relay.history.list('notes/1')).map((v) => v.id)).toEqual([id])
    }, 30_000)
  }
})
