import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { refuseHistoryRewrites, refuseLiveDeletes } from './append-only.js'

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

describe('refuseHistoryRewrites (no version replaced by a concurrent write on its key)', () => {
  const record = (id: string, contentHash: string, label: string) => ({ id, contentHash, label })
  const relayWith = (): Y.Doc => {
    const relay = new Y.Doc()
    versions(relay).set('auto-x', record('auto-x', 'h1', 'first'))
    return relay
  }
  /** A write on the key from a replica that never saw the relay's entry: its delete set is empty. */
  const blindWrite = (value: unknown): Uint8Array => {
    const blind = new Y.Doc()
    versions(blind).set('auto-x', value)
    return Y.encodeStateAsUpdate(blind)
  }

  it.each([
    { what: 'another record on the key', value: record('auto-x', 'h2', 'forged'), refused: true },
    { what: 'a value that is no record', value: 'gone', refused: true },
    { what: 'the same version again (same id and content hash)', value: record('auto-x', 'h1', 'taken elsewhere'), refused: false }
  ])('$what → refused: $refused', ({ value, refused }) => {
    const relay = relayWith()
    const update = blindWrite(value)
    if (refused) expect(() => refuseHistoryRewrites(relay, update)).toThrow(expect.objectContaining({ code: 'ERR_HISTORY_APPEND_ONLY' }))
    else expect(() => refuseHistoryRewrites(relay, update)).not.toThrow()
  })

  it('lets a new key through', () => {
    const relay = relayWith()
    const blind = new Y.Doc()
    versions(blind).set('named-1', record('named-1', 'h3', 'mine'))
    expect(() => refuseHistoryRewrites(relay, Y.encodeStateAsUpdate(blind))).not.toThrow()
  })
})

describe('refuseHistoryRewrites on a resync', () => {
  it('lets through a whole-state update holding entries the relay has', () => {
    const relay = new Y.Doc()
    versions(relay).set('note', { note: 'no id, no hash' })
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(relay))
    versions(client).set('more', { note: 'appended' })
    expect(() => refuseHistoryRewrites(relay, Y.encodeStateAsUpdate(client))).not.toThrow()
  })
})
