import { createSystemClock } from '@meridian/base'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorageAdapter } from '@meridian/storage'
import { historyDocName, listVersions } from '@meridian/history'
import { RawClient } from '@meridian/testing'
import { buildRelay, CLOSE_CODES, mintToken, type Relay, type RelayOptions } from '../index.js'

const SECRET = 'test-secret-that-is-at-least-32-bytes-long'
const ADMIN = 'admin-token-0123456789'
const relays: Relay[] = []
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()))
})

async function start(extra: Partial<RelayOptions> = {}): Promise<Relay> {
  const relay = await buildRelay({ storage: new MemoryStorageAdapter(), history: { autoVersions: false }, ...extra })
  relays.push(relay)
  return relay
}

async function write(relay: Relay, docName: string, edit: (doc: Y.Doc) => void): Promise<void> {
  const room = await relay.rooms.acquire(docName)
  try {
    await room.transact(edit, { kind: 'server', actor: 'test' })
  } finally {
    relay.rooms.release(room)
  }
}

const text = async (relay: Relay, docName: string): Promise<string> => {
  const room = await relay.rooms.acquire(docName)
  try {
    return room.doc.getText('t').toString()
  } finally {
    relay.rooms.release(room)
  }
}

describe('version routes', () => {
  it('create, list, open (update and JSON), diff and restore a version over HTTP', async () => {
    const relay = await start()
    const doc = 'notes/1'
    const path = `/v1/docs/${encodeURIComponent(doc)}/versions`
    await write(relay, doc, (d) => d.getText('t').insert(0, 'first draft'))
    const created = await relay.app.inject({ method: 'POST', url: path, payload: { label: 'draft' } })
    expect(created.statusCode).toBe(201)
    const id = (created.json() as { version: { id: string; kind: string; label: string } }).version.id
    expect(created.json()).toMatchObject({ docName: doc, version: { kind: 'named', label: 'draft' } })
    await write(relay, doc, (d) => d.getText('t').insert(0, 'final, not '))

    const list = (await relay.app.inject({ url: path })).json() as { versions: { id: string }[] }
    expect(list.versions.map((v) => v.id)).toEqual([id])

    const binary = await relay.app.inject({ url: `${path}/${id}` })
    expect(binary.headers['content-type']).toBe('application/octet-stream')
    const opened = new Y.Doc()
    Y.applyUpdate(opened, new Uint8Array(binary.rawPayload))
    expect(opened.getText('t').toString()).toBe('first draft')
    expect((await relay.app.inject({ url: `${path}/${id}?format=json` })).json()).toEqual({ docName: doc, id, content: { t: 'first draft' } })

    const diff = (await relay.app.inject({ url: `${path}/${id}/diff?against=now` })).json() as { changed: boolean; roots: { ops: { op: string; text: string }[] }[] }
    expect(diff.changed).toBe(true)
    expect(diff.roots[0]?.ops.map((o) => [o.op, o.text])).toEqual([['insert', 'final, not '], ['retain', 'first draft']])

    const restored = await relay.app.inject({ method: 'POST', url: `${path}/${id}/restore` })
    expect(restored.statusCode).toBe(200)
    expect(restored.json()).toMatchObject({ restored: id, preRestore: { kind: 'pre-restore' } })
    expect(await text(relay, doc)).toBe('first draft')
    const after = (await relay.app.inject({ url: path })).json() as { versions: { kind: string }[] }
    expect(after.versions.map((v) => v.kind)).toEqual(['named', 'pre-restore'])

    expect((await relay.app.inject({ url: `${path}/nope` })).json()).toMatchObject({ error: { code: 'ERR_VERSION_NOT_FOUND' } })
    expect((await relay.app.inject({ url: `/v1/docs/${encodeURIComponent('_meridian/revocations')}/versions` })).statusCode).toBe(400)
  })

  it('with auth: the admin token or a token granting the document (read lists, write creates)', async () => {
    const relay = await start({ auth: { mode: 'jwt', secret: SECRET, clockToleranceMs: 0 }, adminToken: ADMIN })
    const path = `/v1/docs/${encodeURIComponent('team/a')}/versions`
    const reader = await mintToken({ secret: SECRET, docs: [{ pattern: 'team/*', access: 'read' }], ttlSeconds: 300 })
    const writer = await mintToken({ secret: SECRET, docs: [{ pattern: 'team/*', access: 'write' }], ttlSeconds: 300 })
    const other = await mintToken({ secret: SECRET, docs: [{ pattern: 'else/*', access: 'write' }], ttlSeconds: 300 })
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` })
    expect((await relay.app.inject({ url: path })).statusCode).toBe(401)
    expect((await relay.app.inject({ url: path, headers: bearer(other) })).statusCode).toBe(403)
    expect((await relay.app.inject({ url: path, headers: bearer(reader) })).statusCode).toBe(200)
    expect((await relay.app.inject({ method: 'POST', url: path, headers: bearer(reader), payload: {} })).json()).toMatchObject({ error: { code: 'ERR_AUTH_FORBIDDEN' } })
    expect((await relay.app.inject({ method: 'POST', url: path, headers: bearer(writer), payload: { label: 'x' } })).statusCode).toBe(201)
    expect((await relay.app.inject({ method: 'POST', url: path, headers: bearer(ADMIN), payload: { label: 'y' } })).statusCode).toBe(201)
  })

  it('a client may only append to a history document: deleting a version is refused with ERR_HISTORY_APPEND_ONLY', async () => {
    const relay = await start()
    const url = await relay.listen({ port: 0, host: '127.0.0.1' })
    const name = historyDocName('notes/2')
    await write(relay, 'notes/2', (d) => d.getText('t').insert(0, 'x'))
    await relay.history.create('notes/2', { kind: 'named', label: 'kept', author: 'a', actor: 'a' })
    const client = await RawClient.connect(url, name)
    client.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(client.doc) })
    await client.next('sync-step2')
    // Appending works…
    client.edit((d) => d.getMap('versions').set('extra', { note: 'an app may add entries' }))
    await client.next('ack', (m) => m.upTo >= 1)
    // …deleting a version does not.
    const id = listVersions(client.doc)[0]?.id as string
    client.edit((d) => d.getMap('versions').delete(id))
    expect(await client.closed()).toEqual({ code: CLOSE_CODES.INVALID_UPDATE, reason: 'ERR_HISTORY_APPEND_ONLY' })
    expect((await relay.history.list('notes/2')).map((v) => v.label)).toEqual(['kept'])
    // The relay's own retention may delete (a server change).
    expect(await relay.history.applyRetention('notes/2')).toBe(0)
  })

  it('answers the durability of a version write; ?waitFor= without other regions is not satisfied (202), a bad one is refused', async () => {
    const relay = await start()
    const path = `/v1/docs/${encodeURIComponent('notes/4')}/versions`
    await write(relay, 'notes/4', (d) => d.getText('t').insert(0, 'x'))
    const plain = await relay.app.inject({ method: 'POST', url: path, payload: { label: 'a' } })
    expect(plain.statusCode).toBe(201)
    expect(plain.json()).toMatchObject({ durability: 'relay', regions: null })
    const waited = await relay.app.inject({ method: 'POST', url: `${path}?waitFor=replicated:1&timeoutMs=0`, payload: { label: 'b' } })
    expect(waited.statusCode).toBe(202)
    expect(waited.json()).toMatchObject({ version: { label: 'b' }, durability: 'relay', waitFor: { replicated: 1, satisfied: false } })
    const id = (plain.json() as { version: { id: string } }).version.id
    const restored = await relay.app.inject({ method: 'POST', url: `${path}/${id}/restore?waitFor=replicated:2&timeoutMs=0` })
    expect(restored.statusCode).toBe(202)
    expect(restored.json()).toMatchObject({ restored: id, durability: 'relay', waitFor: { replicated: 2, satisfied: false } })
    const bad = await relay.app.inject({ method: 'POST', url: `${path}?waitFor=soon`, payload: { label: 'c' } })
    expect(bad.statusCode).toBe(400)
    expect(JSON.stringify(bad.json())).toContain('ERR_BAD_REQUEST')
    // A refused request took no version.
    expect((await relay.history.list('notes/4')).map((v) => v.label)).toEqual(['a', 'b', 'before restoring ' + id])
  })

  it('retention removes the oldest automatic versions first and keeps named ones below the hard cap', async () => {
    // Versions are ordered by time: a clock that moves 1 ms per read keeps two versions taken in the same ms apart.
    let nowMs = Date.now()
    const clock = { ...createSystemClock({ unref: true }), now: () => ++nowMs }
    const relay = await start({ clock, history: { autoVersions: false, retention: { maxVersions: 2, hardMaxVersions: 4 } } })
    const doc = 'notes/3'
    const take = async (kind: 'auto' | 'named', n: number): Promise<void> => {
      await write(relay, doc, (d) => d.getText('t').insert(0, `${kind}${n} `))
      await relay.history.create(doc, { kind, label: `${kind}${n}`, author: 't', actor: 't' })
    }
    await take('named', 1)
    for (let n = 1; n <= 4; n++) await take('auto', n)
    expect((await relay.history.list(doc)).map((v) => v.label)).toEqual(['named1', 'auto3', 'auto4'])
    for (let n = 2; n <= 3; n++) await take('named', n)
    // Five versions, the hard cap is four: an automatic one goes before any named one.
    expect((await relay.history.list(doc)).map((v) => v.label)).toEqual(['named1', 'auto4', 'named2', 'named3'])
  })
})
