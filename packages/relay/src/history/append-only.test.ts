import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { refuseLiveDeletes } from './append-only.js'

const versions = (doc: Y.Doc): Y.Map<unknown> => doc.getMap('versions')

describe('refuseLiveDeletes (history documents are append-only for clients)', () => {
  it('refuses a deletion of a live entry, and an overwrite (a set on an existing key deletes the old value)', () => {
    const relay = new Y.Doc()
    versions(relay).set('v1', { label: 'one' })
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(relay))
    const sv = Y.encodeStateVector(client)
    versions(client).delete('v1')
    expect(() => refuseLiveDeletes(relay, Y.encodeStateAsUpdate(client, sv))).toThrow(expect.objectContaining({ code: 'ERR_HISTORY_APPEND_ONLY' }))
    const other = new Y.Doc()
    Y.applyUpdate(other, Y.encodeStateAsUpdate(relay))
    const before = Y.encodeStateVector(other)
    versions(other).set('v1', { label: 'rewritten' })
    expect(() => refuseLiveDeletes(relay, Y.encodeStateAsUpdate(other, before))).toThrow(expect.objectContaining({ code: 'ERR_HISTORY_APPEND_ONLY' }))
  })

  it('lets appends through, and a resync whose delete set holds only what the relay deleted already (retention)', () => {
    const relay = new Y.Doc()
    versions(relay).set('v1', { label: 'one' })
    versions(relay).set('v2', { label: 'two' })
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(relay))
    // Retention on the relay, received by the client.
    const sv = Y.encodeStateVector(relay)
    versions(relay).delete('v1')
    Y.applyUpdate(client, Y.encodeStateAsUpdate(relay, sv))
    // The client appends and resyncs: its update carries the whole delete set.
    versions(client).set('v3', { label: 'three' })
    expect(() => refuseLiveDeletes(relay, Y.encodeStateAsUpdate(client, Y.encodeStateVector(relay)))).not.toThrow()
    expect(() => refuseLiveDeletes(relay, Y.encodeStateAsUpdate(client))).not.toThrow()
  })
})
