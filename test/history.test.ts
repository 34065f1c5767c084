import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Relay } from '@meridian/relay'
import { VersionHistory, historyDocName, listVersions, openVersion, stateHash, type VersionMeta } from '@meridian/history'
import { createMemoryCluster, parseSeed, type ClusterClient, type MemoryCluster } from '@meridian/testing'

// Version history on the simulated network: versions are a normal relay document (_meridian/history/<doc>),
// so they sync, replicate, survive compaction and merge after a partition like any write.
const seed = parseSeed(process.env.MERIDIAN_SEED)
const DOC = 'doc'
const HISTORY = historyDocName(DOC)

let cluster: MemoryCluster | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

const relayOf = (c: MemoryCluster, id: string): Relay => {
  const relay = c.relays.find((r) => r.id === id)?.relay
  if (relay === null || relay === undefined) throw new Error(`relay ${id} is not running`)
  return relay
}

/** The SDK's version history of `live`, on the history client `history` of the same relay. */
const versionsOf = (live: ClusterClient, history: ClusterClient, author: string, c: MemoryCluster): VersionHistory =>
  new VersionHistory({ live: live.provider, connect: () => history.provider, author, now: () => c.now() })

const contentOf = (doc: Y.Doc): unknown => ({ text: doc.getText('text').toString(), map: doc.getMap('map').toJSON(), array: doc.getArray('array').toJSON() })

/** Every replica (clients and each relay's stored copy) of the history document lists the same versions. */
async function expectSameVersions(c: MemoryCluster): Promise<VersionMeta[]> {
  const replicas = await c.replicas(HISTORY)
  const lists = replicas.map((r) => listVersions(r.doc).map((v) => v.id))
  for (const list of lists) expect(list).toEqual(lists[0])
  const versions = listVersions(replicas[0]?.doc ?? new Y.Doc())
  // No duplicate automatic versions: one entry per state.
  const autoHashes = versions.filter((v) => v.kind === 'auto').map((v) => v.contentHash)
  expect(new Set(autoHashes).size).toBe(autoHashes.length)
  return versions
}

describe('version history (memory cluster, seeded)', () => {
  it('versions survive compaction and a restart; a restore while two others keep typing converges to the version plus their edits', async () => {
    const c = (cluster = await createMemoryCluster({
      seed,
      regions: ['eu', 'us'],
      relayOptions: { history: { autoVersions: false }, compactAfterUpdates: 20 },
      clients: [
        { id: 'alice', region: 'eu' }, { id: 'bob', region: 'us' }, { id: 'carol', region: 'eu' },
        { id: 'alice-h', region: 'eu', docName: HISTORY }, { id: 'bob-h', region: 'us', docName: HISTORY }
      ]
    }))
    const alice = versionsOf(c.client('alice'), c.client('alice-h'), 'alice', c)
    const bob = versionsOf(c.client('bob'), c.client('bob-h'), 'bob', c)

    // Clients edit; versions are taken on both sides, each reported replicated to the other region.
    const taken: { id: string; content: unknown }[] = []
    for (let round = 0; round < 4; round++) {
      c.randomEdits('alice', { ops: 15 })
      c.randomEdits('bob', { ops: 15 })
      c.randomEdits('carol', { ops: 15 })
      await c.settle()
      const who = round % 2 === 0 ? alice : bob
      const { version, update } = who.createVersion(`round ${round}`)
      taken.push({ id: version.id, content: contentOf(who.live.doc) })
      expect(update).not.toBeNull()
      await c.drive(c.client(who === alice ? 'alice-h' : 'bob-h').provider.whenDurable(update as Uint8Array, { replicated: 1 }, { timeoutMs: 10_000 }))
    }
    await c.settle()
    await c.expectConverged()

    // Compact every document on every relay, then restart one relay from its (compacted) storage.
    for (const id of ['eu-1', 'us-1']) {
      for (const room of await relayOf(c, id).rooms.loadedRooms()) await c.drive(room.compact())
    }
    await c.crash('eu-1')
    await c.restart('eu-1')
    await c.settle()
    const stored = (await c.replicas(HISTORY)).find((r) => r.name.includes('eu-1'))
    expect(stored, 'the restarted relay stores the history document').toBeDefined()
    for (const t of taken) expect(contentOf(openVersion((stored as { doc: Y.Doc }).doc, t.id))).toEqual(t.content)
    expect((await relayOf(c, 'eu-1').history.list(DOC)).map((v) => v.id)).toEqual(taken.map((t) => t.id))

    // More edits, then alice restores round 1 while bob and carol keep typing (tokens at the start of the text,
    // new map keys): nothing is lost, and everyone converges.
    c.randomEdits('alice', { ops: 20 })
    c.randomEdits('bob', { ops: 20 })
    await c.settle()
    const target = taken[1] as { id: string; content: { text: string; map: Record<string, unknown>; array: unknown[] } }
    const typed: string[] = []
    const type = (who: 'bob' | 'carol', n: number): void => {
      const token = `⟦${who}${n}⟧`
      typed.push(token)
      const d = c.client(who).doc
      d.transact(() => {
        d.getText('text').insert(0, token)
        d.getMap('map').set(`typing-${who}-${n}`, n)
      })
    }
    type('bob', 0)
    type('carol', 0)
    alice.restore(target.id)
    for (let n = 1; n <= 8; n++) {
      await c.run(2)
      type('bob', n)
      type('carol', n)
    }
    await c.settle()
    await c.expectConverged()
    const final = contentOf(c.client('carol').doc) as { text: string; map: Record<string, unknown>; array: unknown[] }
    for (const token of typed) expect(final.text).toContain(token)
    expect(typed.reduce((text, token) => text.replace(token, ''), final.text)).toBe(target.content.text)
    const typedKeys = Object.fromEntries(Object.entries(final.map).filter(([k]) => k.startsWith('typing-')))
    expect(Object.keys(typedKeys)).toHaveLength(typed.length)
    expect(final.map).toEqual({ ...target.content.map, ...typedKeys })
    expect(final.array).toEqual(target.content.array)
    // The restore took a pre-restore version first; every replica lists the same versions.
    const versions = await expectSameVersions(c)
    expect(versions.map((v) => v.kind)).toEqual(['named', 'named', 'named', 'named', 'pre-restore'])
  })

  it('versions taken on both sides of a partition are listed everywhere after the heal, without duplicate automatic versions', async () => {
    const c = (cluster = await createMemoryCluster({
      seed,
      regions: ['eu', 'us'],
      relayOptions: { history: { autoVersions: { activityMinMs: 0, quietMs: 300, maxActivityMs: 60_000 } } },
      clients: [
        { id: 'alice', region: 'eu' }, { id: 'bob', region: 'us' },
        { id: 'alice-h', region: 'eu', docName: HISTORY }, { id: 'bob-h', region: 'us', docName: HISTORY }
      ]
    }))
    const alice = versionsOf(c.client('alice'), c.client('alice-h'), 'alice', c)
    const bob = versionsOf(c.client('bob'), c.client('bob-h'), 'bob', c)

    // Healthy: both relays see their clients' activity and, after the quiet period, both version the same
    // merged state — under the same id, so one entry.
    c.randomEdits('alice', { ops: 10 })
    c.randomEdits('bob', { ops: 10 })
    await c.settle()
    const merged = stateHash(c.client('alice').doc)
    await c.run(1_000)
    await c.settle()
    let versions = await expectSameVersions(c)
    expect(versions.filter((v) => v.kind === 'auto' && v.contentHash === merged)).toHaveLength(1)

    // Partitioned: each side edits, names a version and gets an automatic one of its own state.
    c.partition('eu', 'us')
    c.randomEdits('alice', { ops: 10 })
    c.randomEdits('bob', { ops: 10 })
    await c.run(50)
    const euState = stateHash(c.client('alice').doc)
    const usState = stateHash(c.client('bob').doc)
    alice.createVersion('eu side')
    bob.createVersion('us side')
    await c.run(1_000)
    expect(alice.list().map((v) => v.label)).not.toContain('us side')

    c.heal()
    await c.settle()
    await c.run(1_000)
    await c.settle()
    await c.expectConverged()
    versions = await expectSameVersions(c)
    expect(versions.filter((v) => v.kind === 'named').map((v) => v.label).sort()).toEqual(['eu side', 'us side'])
    const autoHashes = versions.filter((v) => v.kind === 'auto').map((v) => v.contentHash)
    expect(autoHashes).toEqual(expect.arrayContaining([merged, euState, usState]))
    expect(alice.list()).toEqual(bob.list())
    // After the heal nobody typed: no relay versions the merged state (mesh changes are the other relay's activity).
    expect(autoHashes).not.toContain(stateHash(c.client('alice').doc))
  })
})
