import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { CLOSE_CODES, FEATURE_ACKS } from '@meridian/protocol'
import { mintToken } from '@meridian/relay'
import { RawClient, waitUntil } from '@meridian/testing'
import { ADMIN, SECRET, relayPool } from '../test-support/helpers.js'

const pool = relayPool()
afterEach(() => pool.closeAll())

const http = (url: string): string => url.replace(/^ws/, 'http')
const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
const bin = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u)

function textUpdate(text: string, root = 'content'): Uint8Array {
  const doc = new Y.Doc()
  doc.getText(root).insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

async function errorOf(response: Response): Promise<{ status: number; code: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } }
  expect(typeof body.error.message).toBe('string')
  return { status: response.status, code: body.error.code }
}

describe('HTTP document API', () => {
  it('applies an update by HTTP like a client write: connected clients get it, it is stored, and reads back as bytes and JSON', async () => {
    const { url, storage } = await pool.start({ adminToken: ADMIN })
    const base = http(url)
    const watcher = await RawClient.connect(url, 'team/notes', { features: FEATURE_ACKS })
    watcher.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    await watcher.next('sync-step2')

    const res = await fetch(`${base}/v1/docs/team%2Fnotes/updates`, { method: 'POST', headers: auth(ADMIN), body: bin(textUpdate('hello')) })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ changed: true, durability: 'relay', regions: null })
    await waitUntil(() => watcher.doc.getText('content').toString() === 'hello', 'the connected client received the HTTP write')
    // Acknowledged after commit: it is in storage.
    expect((await storage.load('team/notes'))?.updates.length).toBe(1)

    const doc = new Y.Doc()
    const raw = await fetch(`${base}/v1/docs/team%2Fnotes`, { headers: auth(ADMIN) })
    expect(raw.headers.get('content-type')).toBe('application/octet-stream')
    Y.applyUpdate(doc, new Uint8Array(await raw.arrayBuffer()))
    expect(doc.getText('content').toString()).toBe('hello')
    // The diff against a state vector holds only what is new.
    watcher.edit((d) => d.getText('content').insert(5, ' world'))
    await waitUntil(async () => (await (await fetch(`${base}/v1/docs/team%2Fnotes/json`, { headers: auth(ADMIN) })).json() as { data: { content: string } }).data.content === 'hello world', 'the client edit reached the relay')
    const sv = Buffer.from(Y.encodeStateVector(doc)).toString('base64url')
    const diff = await fetch(`${base}/v1/docs/team%2Fnotes?stateVector=${sv}`, { headers: auth(ADMIN) })
    Y.applyUpdate(doc, new Uint8Array(await diff.arrayBuffer()))
    expect(doc.getText('content').toString()).toBe('hello world')

    const json = await (await fetch(`${base}/v1/docs/team%2Fnotes?format=json`, { headers: auth(ADMIN) })).json()
    expect(json).toEqual({ name: 'team/notes', types: { content: 'text' }, data: { content: 'hello world' } })
    await watcher.close()
  })

  it('projects roots by what is stored, or by ?types=', async () => {
    const { url } = await pool.start({ adminToken: ADMIN })
    const d = new Y.Doc()
    d.getArray('items').push([1, { a: 'b' }])
    d.getMap('meta').set('title', 'T')
    d.getXmlFragment('body').push([new Y.XmlText('x')])
    d.getText('content').insert(0, 'c')
    const put = await fetch(`${http(url)}/v1/docs/shapes`, { method: 'PUT', headers: auth(ADMIN), body: bin(Y.encodeStateAsUpdate(d)) })
    expect(put.status).toBe(201)
    const json = (await (await fetch(`${http(url)}/v1/docs/shapes/json`, { headers: auth(ADMIN) })).json()) as { types: unknown; data: unknown }
    expect(json.types).toEqual({ items: 'array', meta: 'map', body: 'xml', content: 'text' })
    expect(json.data).toEqual({ items: [1, { a: 'b' }], meta: { title: 'T' }, body: 'x', content: 'c' })
    const typed = (await (await fetch(`${http(url)}/v1/docs/shapes/json?types=content:text,absent:map`, { headers: auth(ADMIN) })).json()) as { types: Record<string, string> }
    expect(typed.types).toMatchObject({ content: 'text', absent: 'map' })
    expect(await errorOf(await fetch(`${http(url)}/v1/docs/shapes/json?types=content:blob`, { headers: auth(ADMIN) }))).toEqual({ status: 400, code: 'ERR_BAD_REQUEST' })
  })

  it('lists documents by prefix with a cursor, sizes and last seqs; creates (409 when it exists)', async () => {
    const { url } = await pool.start({ adminToken: ADMIN })
    const base = http(url)
    for (const name of ['p/a', 'p/b', 'p/c', 'q/a']) {
      const res = await fetch(`${base}/v1/docs/${encodeURIComponent(name)}`, { method: 'PUT', headers: auth(ADMIN), body: bin(textUpdate(name)) })
      expect(res.status).toBe(201)
    }
    expect(await errorOf(await fetch(`${base}/v1/docs/p%2Fa`, { method: 'PUT', headers: auth(ADMIN), body: bin(textUpdate('again')) }))).toEqual({ status: 409, code: 'ERR_DOC_EXISTS' })
    const page1 = (await (await fetch(`${base}/v1/docs?prefix=p%2F&limit=2`, { headers: auth(ADMIN) })).json()) as { documents: { name: string; bytes: number; lastSeq: number; lastChangeAtMs: number | null }[]; nextCursor: string | null }
    expect(page1.documents.map((d) => d.name)).toEqual(['p/a', 'p/b'])
    expect(page1.documents[0]?.lastSeq).toBe(1)
    expect(page1.documents[0]?.lastChangeAtMs).toBeTypeOf('number')
    expect(page1.documents[0]?.bytes).toBeGreaterThan(0)
    const page2 = (await (await fetch(`${base}/v1/docs?prefix=p%2F&limit=2&cursor=${page1.nextCursor ?? ''}`, { headers: auth(ADMIN) })).json()) as { documents: { name: string }[]; nextCursor: string | null }
    expect(page2.documents.map((d) => d.name)).toEqual(['p/c'])
    expect(page2.nextCursor).toBeNull()
  })

  it('refuses without credentials, with a token lacking the grant, and hostile input, with coded errors', async () => {
    const { url } = await pool.start({ adminToken: ADMIN, auth: { mode: 'jwt', secret: SECRET } })
    const base = http(url)
    const reader = await mintToken({ secret: SECRET, docs: [{ pattern: 'shared/*', access: 'read' }], ttlSeconds: 60 })
    const writer = await mintToken({ secret: SECRET, docs: [{ pattern: 'shared/*', access: 'write' }], ttlSeconds: 60 })
    const body = bin(textUpdate('x'))
    expect(await errorOf(await fetch(`${base}/v1/docs/shared%2Fa/updates`, { method: 'POST', body }))).toEqual({ status: 401, code: 'ERR_AUTH_REQUIRED' })
    expect(await errorOf(await fetch(`${base}/v1/docs/shared%2Fa/updates`, { method: 'POST', headers: auth('nope'), body }))).toEqual({ status: 401, code: 'ERR_AUTH_INVALID' })
    expect(await errorOf(await fetch(`${base}/v1/docs/shared%2Fa/updates`, { method: 'POST', headers: auth(reader), body }))).toEqual({ status: 403, code: 'ERR_AUTH_FORBIDDEN' })
    expect(await errorOf(await fetch(`${base}/v1/docs/other/updates`, { method: 'POST', headers: auth(writer), body }))).toEqual({ status: 403, code: 'ERR_AUTH_FORBIDDEN' })
    expect((await fetch(`${base}/v1/docs/shared%2Fa/updates`, { method: 'POST', headers: auth(writer), body })).status).toBe(200)
    expect((await fetch(`${base}/v1/docs/shared%2Fa/json`, { headers: auth(reader) })).status).toBe(200)
    // A token lists only what it may read.
    await fetch(`${base}/v1/docs/secret/updates`, { method: 'POST', headers: auth(ADMIN), body })
    const listed = (await (await fetch(`${base}/v1/docs`, { headers: auth(reader) })).json()) as { documents: { name: string }[] }
    expect(listed.documents.map((d) => d.name)).toEqual(['shared/a'])
    // The admin routes stay admin-only.
    expect((await fetch(`${base}/v1/status`, { headers: auth(writer) })).status).toBe(401)

    expect(await errorOf(await fetch(`${base}/v1/docs/shared%2Fa/updates`, { method: 'POST', headers: auth(ADMIN), body: bin(new Uint8Array([0xff, 0xff, 0xff])) }))).toEqual({ status: 400, code: 'ERR_UPDATE_INVALID' })
    expect(await errorOf(await fetch(`${base}/v1/docs/shared%2Fa/updates`, { method: 'POST', headers: auth(ADMIN) }))).toEqual({ status: 400, code: 'ERR_BAD_REQUEST' })
    expect(await errorOf(await fetch(`${base}/v1/docs/_meridian%2Frevocations`, { headers: auth(ADMIN) }))).toEqual({ status: 400, code: 'ERR_DOC_NAME' })
    expect(await errorOf(await fetch(`${base}/v1/docs/${'n'.repeat(600)}`, { headers: auth(ADMIN) }))).toEqual({ status: 400, code: 'ERR_DOC_NAME' })
    expect(await errorOf(await fetch(`${base}/v1/docs/missing`, { headers: auth(ADMIN) }))).toEqual({ status: 404, code: 'ERR_DOC_NOT_FOUND' })
    expect(await errorOf(await fetch(`${base}/v1/docs/shared%2Fa?stateVector=***`, { headers: auth(ADMIN) }))).toEqual({ status: 400, code: 'ERR_BAD_REQUEST' })
    expect(await errorOf(await fetch(`${base}/v1/docs?limit=5000`, { headers: auth(ADMIN) }))).toEqual({ status: 400, code: 'ERR_BAD_REQUEST' })
    expect(await errorOf(await fetch(`${base}/v1/docs/shared%2Fa/updates?waitFor=everything`, { method: 'POST', headers: auth(ADMIN), body }))).toEqual({ status: 400, code: 'ERR_BAD_REQUEST' })
  })

  it('refuses a body over maxMessageBytes and a write that would pass maxDocumentBytes', async () => {
    const { url } = await pool.start({ adminToken: ADMIN, maxMessageBytes: 16384, maxDocumentBytes: 8192 })
    const base = http(url)
    expect(await errorOf(await fetch(`${base}/v1/docs/big/updates`, { method: 'POST', headers: auth(ADMIN), body: bin(textUpdate('x'.repeat(20000))) }))).toEqual({ status: 413, code: 'ERR_BODY_TOO_LARGE' })
    for (let i = 0; i < 2; i++) {
      expect((await fetch(`${base}/v1/docs/big/updates`, { method: 'POST', headers: auth(ADMIN), body: bin(textUpdate('y'.repeat(3000))) })).status).toBe(200)
    }
    expect(await errorOf(await fetch(`${base}/v1/docs/big/updates`, { method: 'POST', headers: auth(ADMIN), body: bin(textUpdate('z'.repeat(3000))) }))).toEqual({ status: 413, code: 'ERR_DOC_TOO_LARGE' })
  })

  it('deletes: connected clients are closed with ERR_DOC_DELETED, a client coming back with its copy is refused, the name stays deleted', async () => {
    const { url, storage } = await pool.start({ adminToken: ADMIN })
    const base = http(url)
    const client = await RawClient.connect(url, 'doomed', { features: FEATURE_ACKS })
    client.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    client.edit((d) => d.getText('content').insert(0, 'offline copy'))
    await client.next('ack')
    expect(await errorOf(await fetch(`${base}/v1/docs/never`, { method: 'DELETE', headers: auth(ADMIN) }))).toEqual({ status: 404, code: 'ERR_DOC_NOT_FOUND' })
    const res = await fetch(`${base}/v1/docs/doomed`, { method: 'DELETE', headers: auth(ADMIN) })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ deleted: true, name: 'doomed', deletedAtMs: expect.any(Number) })
    expect(await client.closed()).toEqual({ code: CLOSE_CODES.DOC_DELETED, reason: 'ERR_DOC_DELETED' })
    expect(await storage.load('doomed')).toBeNull()

    // The client reconnects with its offline copy: refused before any sync, nothing stored.
    const back = await RawClient.connect(url, 'doomed', { features: FEATURE_ACKS })
    back.send({ type: 'sync-step2', update: Y.encodeStateAsUpdate(client.doc) })
    expect(await back.closed()).toEqual({ code: CLOSE_CODES.DOC_DELETED, reason: 'ERR_DOC_DELETED' })
    expect(await storage.load('doomed')).toBeNull()
    expect(await errorOf(await fetch(`${base}/v1/docs/doomed`, { headers: auth(ADMIN) }))).toEqual({ status: 410, code: 'ERR_DOC_DELETED' })
    expect(await errorOf(await fetch(`${base}/v1/docs/doomed`, { method: 'PUT', headers: auth(ADMIN), body: bin(textUpdate('new')) }))).toEqual({ status: 410, code: 'ERR_DOC_DELETED' })
    // Deleting again is fine (idempotent).
    expect((await fetch(`${base}/v1/docs/doomed`, { method: 'DELETE', headers: auth(ADMIN) })).status).toBe(200)
  })
})
