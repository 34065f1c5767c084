import { expect, it } from 'vitest'
import { isStorageError } from './errors.js'
import type { Harness } from './conformance-harness.js'

/** The optional mesh-membership methods (mesh-members.ts); skipped for adapters without them. */
export function registerMeshMemberCases(h: Harness): void {
  const m = (nodeId: string, region: string, incarnation: number): { nodeId: string; region: string; url: string; incarnation: number } =>
    ({ nodeId, region, url: `ws://${nodeId}.example:4000`, incarnation })

  it('saves per observer and loads the union, one record per node, highest incarnation', async () => {
    const s = h.adapter
    if (s.saveMeshMembers === undefined || s.loadMeshMembers === undefined) return
    expect(await s.loadMeshMembers()).toEqual([])
    await s.saveMeshMembers('a', [m('b', 'us', 1), m('c', 'ap', 5)])
    await s.saveMeshMembers('z', [m('c', 'ap', 7), m('d', 'eu', 2)])
    expect(await s.loadMeshMembers()).toEqual([m('b', 'us', 1), m('c', 'ap', 7), m('d', 'eu', 2)])
    // A save replaces that observer's view only.
    await s.saveMeshMembers('a', [m('e', 'sa', 3)])
    expect(await s.loadMeshMembers()).toEqual([m('c', 'ap', 7), m('d', 'eu', 2), m('e', 'sa', 3)])
  })

  it('refuses malformed members with ERR_STORAGE_INVALID_ARGUMENT and keeps what it had', async () => {
    const s = h.adapter
    if (s.saveMeshMembers === undefined || s.loadMeshMembers === undefined) return
    await s.saveMeshMembers('a', [m('b', 'us', 1)])
    for (const bad of [[{ nodeId: 'x', region: 'us', url: 'ws://x', incarnation: -1 }], [{ nodeId: '', region: 'us', url: 'ws://x', incarnation: 1 }], 'nope']) {
      const err = await s.saveMeshMembers('a', bad as never).then(() => null, (e: unknown) => e)
      expect(isStorageError(err, 'ERR_STORAGE_INVALID_ARGUMENT')).toBe(true)
    }
    expect(await s.loadMeshMembers()).toEqual([m('b', 'us', 1)])
  })

  it('keeps what was saved across a reopen', async () => {
    const s = h.adapter
    if (s.saveMeshMembers === undefined || s.loadMeshMembers === undefined) return
    await s.saveMeshMembers('a', [m('b', 'us', 1)])
    if (!h.canReopen) return
    const reopened = await h.reopen()
    expect(await reopened.loadMeshMembers?.()).toEqual([m('b', 'us', 1)])
  })
}
