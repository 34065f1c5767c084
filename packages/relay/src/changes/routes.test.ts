import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MemoryStorageAdapter } from '@meridian/storage'
import { buildRelay, type Relay } from '../server.js'
import { mintToken } from '../auth.js'

const SECRET = 'change-feed-test-secret-0123456789abcdef'
const ADMIN = 'admin-token-for-change-feed-tests'

interface JsonChange { kind: 'update' | 'snapshot'; seq: number; data: string; doc?: string; cursor?: string }
interface ErrorBody { error: { code: string; message: string } }
interface DocPage { doc: string; cursor: string; headSeq: number; reset: boolean; changes: JsonChange[] }

describe('change feed over HTTP', () => {
  const relays: Relay[] = []
  afterEach(async () => {
    for (const r of relays.splice(0)) await r.close()
  })

  async function start(opts: { compactAfterUpdates?: number } = {}): Promise<{ relay: Relay; base: string }> {
    const relay = await buildRelay({ storage: new MemoryStorageAdapter(), auth: { mode: 'jwt', secret: SECRET }, adminToken: ADMIN, changeFeed: { pollIntervalMs: 50 }, ...opts })
    relays.push(relay)
    const url = await relay.listen({ port: 0, host: '127.0.0.1' })
    return { relay, base: url.replace('ws://', 'http://') }
  }

  const write = async (relay: Relay, doc: string, text: string): Promise<void> => {
    const room = await relay.rooms.acquire(doc)
    try {
      await room.transact((d) => d.getText('t').insert(d.getText('t').length, text), { kind: 'server', actor: 'test' })
    } finally {
      relay.rooms.release(room)
    }
  }
  const get = async <T>(url: string, token = ADMIN): Promise<{ status: number; body: T }> => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, body: (await res.json()) as T }
  }
  const replay = (changes: readonly JsonChange[], doc = new Y.Doc()): Y.Doc => {
    for (const c of changes) Y.applyUpdate(doc, Buffer.from(c.data, 'base64'))
    return doc
  }

  it('pages a document, resumes from the cursor and long-polls for the next change', async () => {
    const { relay, base } = await start()
    for (const t of ['a', 'b', 'c']) await write(relay, 'notes', t)
    const first = await get<DocPage>(`${base}/v1/docs/notes/changes?after=0&limit=2`)
    expect(first.status).toBe(200)
    expect(first.body.changes.map((c) => [c.kind, c.seq])).toEqual([['update', 1], ['update', 2]])
    expect(first.body).toMatchObject({ doc: 'notes', cursor: '2', headSeq: 3 })
    const rest = await get<DocPage>(`${base}/v1/docs/notes/changes?after=${first.body.cursor}`)
    expect(rest.body.changes.map((c) => c.seq)).toEqual([3])
    expect(replay([...first.body.changes, ...rest.body.changes]).getText('t').toString()).toBe('abc')
    // Nothing new: the request waits, and the next commit answers it. (The pause only lets the request
    // start waiting first; had it not, it would find the change at once and the assertions hold alike.)
    const waiting = get<DocPage>(`${base}/v1/docs/notes/changes?after=3&waitMs=10000`)
    await new Promise((resolve) => setTimeout(resolve, 50))
    await write(relay, 'notes', 'd')
    const next = await waiting
    expect(next.body.changes.map((c) => c.seq)).toEqual([4])
    // A wait with nothing coming ends at waitMs with an empty page and the same cursor.
    const empty = await get<DocPage>(`${base}/v1/docs/notes/changes?after=4&waitMs=100`)
    expect(empty.body).toMatchObject({ cursor: '4', changes: [] })
  })

  it('resumes across compaction: one snapshot change, then the updates after it', async () => {
    const { relay, base } = await start({ compactAfterUpdates: 4 })
    for (const t of ['1', '2', '3', '4', '5', '6']) await write(relay, 'c/doc', t)
    // Let the compaction started by the 4th commit finish.
    const room = await relay.rooms.acquire('c/doc')
    await room.flush()
    relay.rooms.release(room)
    const page = await get<DocPage>(`${base}/v1/docs/${encodeURIComponent('c/doc')}/changes?after=1`)
    expect(page.status).toBe(200)
    expect(page.body.changes[0]?.kind).toBe('snapshot')
    expect(page.body.changes.slice(1).every((c) => c.kind === 'update')).toBe(true)
    expect(page.body.cursor).toBe('6')
    // A consumer that had applied the first change catches up to the same document.
    const first = replay([(await get<DocPage>(`${base}/v1/docs/${encodeURIComponent('c/doc')}/changes?after=0&limit=1`)).body.changes[0] as JsonChange])
    expect(replay(page.body.changes, first).getText('t').toString()).toBe('123456')
    // The relay-wide feed after compaction: a snapshot for the folded part, updates after.
    const all = await get<{ cursor: string; changes: JsonChange[] }>(`${base}/v1/changes`)
    expect(all.body.changes.every((c) => c.doc === 'c/doc')).toBe(true)
    expect(replay(all.body.changes).getText('t').toString()).toBe('123456')
    const after = await get<{ cursor: string; changes: JsonChange[] }>(`${base}/v1/changes?after=${all.body.cursor}&waitMs=50`)
    expect(after.body).toEqual({ cursor: all.body.cursor, changes: [] })
  })

  it('serves server-sent events and resumes from Last-Event-ID', async () => {
    const { relay, base } = await start()
    await write(relay, 'sse', 'x')
    await write(relay, 'sse', 'y')
    const controller = new AbortController()
    const res = await fetch(`${base}/v1/docs/sse/changes`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${ADMIN}`, 'last-event-id': '1' }, signal: controller.signal })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    const events = (): string[] => text.split('\n\n').filter((e) => e.includes('event: change'))
    const readUntil = async (n: number): Promise<void> => {
      for (let i = 0; i < 100 && events().length < n; i++) {
        const { value, done } = await reader.read()
        if (done) break
        text += new TextDecoder().decode(value)
      }
    }
    await readUntil(1)
    await write(relay, 'sse', 'z')
    await readUntil(2)
    controller.abort()
    expect(events().map((e) => /id: (\d+)/.exec(e)?.[1])).toEqual(['2', '3'])
    // A stream still open when the relay closes ends, and does not hold the close.
    const open = await fetch(`${base}/v1/changes`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${ADMIN}` } })
    const openReader = (open.body as ReadableStream<Uint8Array>).getReader()
    await openReader.read()
    await relay.close()
    let ended = false
    for (let i = 0; i < 100 && !ended; i++) ended = (await openReader.read()).done
    expect(ended).toBe(true)
  })

  it('ends a stream whose token was revoked, as a socket would be closed', async () => {
    const { relay, base } = await start()
    const token = await mintToken({ secret: SECRET, docs: [{ pattern: 'team/*', access: 'read' }], ttlSeconds: 60, jti: 'stream-token' })
    const res = await fetch(`${base}/v1/docs/${encodeURIComponent('team/b')}/changes`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let text = new TextDecoder().decode((await reader.read()).value)
    relay.revokeTokens({ jti: 'stream-token' })
    // The next change wakes the stream, which then sees the revocation.
    await write(relay, 'team/b', 'x')
    for (let i = 0; i < 100; i++) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    expect(text).toContain('ERR_AUTH_EXPIRED')
    expect(text).toContain('event: error\ndata: {"error":{"code":"ERR_AUTH_EXPIRED",')
    expect(text).not.toContain('event: change')
  })

  it('takes the admin token or a JWT with read access to the document, like sockets', async () => {
    const { relay, base } = await start()
    await write(relay, 'team/a', 'x')
    const reader = await mintToken({ secret: SECRET, docs: [{ pattern: 'team/*', access: 'read' }], ttlSeconds: 60 })
    const other = await mintToken({ secret: SECRET, docs: [{ pattern: 'other/*', access: 'write' }], ttlSeconds: 60 })
    const url = `${base}/v1/docs/${encodeURIComponent('team/a')}/changes`
    expect((await get<DocPage>(url, reader)).status).toBe(200)
    expect((await get<ErrorBody>(url, other)).body.error.code).toBe('ERR_AUTH_FORBIDDEN')
    const invalid = await get<ErrorBody>(url, 'not-a-token')
    expect(invalid.status).toBe(401)
    expect(invalid.body.error.code).toBe('ERR_AUTH_INVALID')
    expect((await fetch(url)).status).toBe(401)
    // The relay-wide feed is the operator's.
    const refused = await get<ErrorBody>(`${base}/v1/changes`, reader)
    expect(refused.status).toBe(401)
    expect(refused.body.error.code).toBe('ERR_ADMIN_AUTH')
    expect((await get<ErrorBody>(`${base}/v1/docs/${encodeURIComponent('_meridian/revocations')}/changes`)).body.error.code).toBe('ERR_DOC_NAME')
    expect((await get<ErrorBody>(`${url}?after=-1`)).body.error.code).toBe('ERR_FEED_CURSOR')
  })
})
