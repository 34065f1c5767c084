import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { CLOSE_CODES, FEATURE_ACKS, FEATURE_MULTIPLEX, PROTOCOL_VERSION, encodeMessage, encodeMuxMessage } from '@meridian/protocol'
import { RawClient } from '@meridian/testing'
import { ADMIN, metric, relayPool, scrape } from './test-support/helpers.js'
import { MuxClient } from './test-support/mux-client.js'

const pool = relayPool()
const cleanups: (() => void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) c()
  await pool.closeAll()
})

/** A stock y-websocket client on `room`, synced. */
async function stockProvider(url: string, room: string): Promise<WebsocketProvider> {
  const provider = new WebsocketProvider(url, room, new Y.Doc(), { WebSocketPolyfill: WebSocket as never, disableBc: true })
  cleanups.push(() => provider.destroy())
  if (!provider.synced) await new Promise<void>((resolve) => provider.once('sync', (s: boolean) => s && resolve()))
  return provider
}

/** Resolves once `read(doc)` is `expected`, checked on every update. */
function whenText(doc: Y.Doc, expected: string, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      if (doc.getText('t').toString() !== expected) return false
      doc.off('update', check)
      clearTimeout(timer)
      resolve()
      return true
    }
    const timer = setTimeout(() => reject(new Error(`text not ${expected} within ${timeoutMs} ms: ${doc.getText('t').toString()}`)), timeoutMs)
    if (!check()) doc.on('update', check)
  })
}

const hello = (features: number) => ({ type: 'hello', version: PROTOCOL_VERSION, role: 'client', nodeId: '', region: '', features }) as const

describe('a multiplexed socket', () => {
  it('syncs two documents over one socket with stock clients on each, acknowledging per document', async () => {
    const { url, relay } = await pool.start({ adminToken: ADMIN })
    const mux = await MuxClient.connect(url)
    expect((await mux.nextOf(null, 'hello')).features).toBe(FEATURE_MULTIPLEX)
    mux.open(1, 'doc-a')
    mux.open(2, 'doc-b')
    // Each document has its own per-document hello, answered inside its frames.
    expect((await mux.nextOf(1, 'hello')).features & FEATURE_ACKS).toBe(FEATURE_ACKS)
    await mux.nextOf(2, 'hello')
    const stockA = await stockProvider(url, 'doc-a')
    const stockB = await stockProvider(url, 'doc-b')

    mux.edit(1, (d) => d.getText('t').insert(0, 'a from mux'))
    await whenText(stockA.doc, 'a from mux')
    stockB.doc.getText('t').insert(0, 'b from stock')
    await whenText(mux.doc(2), 'b from stock')
    mux.edit(2, (d) => d.getText('t').insert(0, '1 '))
    mux.edit(2, (d) => d.getText('t').insert(0, '2 '))
    await whenText(stockB.doc, '2 1 b from stock')
    // Acks count each document's own update-bearing messages: its step 2 reply, then its edits.
    expect((await mux.nextOf(1, 'ack', (m) => m.upTo >= 2)).upTo).toBe(2)
    expect((await mux.nextOf(2, 'ack', (m) => m.upTo >= 3)).upTo).toBe(3)
    expect(mux.of(1).filter((m) => m.type === 'ack').every((m) => m.type === 'ack' && m.upTo <= 2)).toBe(true)
    // Documents stay apart: nothing of doc-b reached doc-a.
    expect(mux.doc(1).getText('t').toString()).toBe('a from mux')
    expect(stockA.doc.getText('t').toString()).toBe('a from mux')

    const m = await scrape(relay)
    // One socket is one connection (access `mux`); its documents are counted apart.
    expect(metric(m, 'meridian_relay_connections', { access: 'mux' })).toBe(1)
    expect(metric(m, 'meridian_relay_connections')).toBe(3)
    expect(metric(m, 'meridian_relay_mux_documents', { access: 'write' })).toBe(2)
    expect(metric(m, 'meridian_relay_messages_received_total', { type: 'sync_update' })).toBeGreaterThanOrEqual(4)
    const status = await relay.app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${ADMIN}` } })
    expect(status.json()).toMatchObject({ connections: { open: 3, byAccess: { read: 0, write: 4 } } })
    await mux.close()
    await expect.poll(async () => metric(await scrape(relay), 'meridian_relay_mux_documents')).toBe(0)
  })

  it('closes a document on doc-close (doc-closed 1000, the id free again) and ignores frames for unknown ids', async () => {
    const { url, relay } = await pool.start()
    const mux = await MuxClient.connect(url)
    mux.open(7, 'reused')
    mux.edit(7, (d) => d.getText('t').insert(0, 'first'))
    await mux.nextOf(7, 'ack', (m) => m.upTo >= 1)
    mux.send({ type: 'doc-close', docId: 7 })
    expect(await mux.docClosed(7)).toEqual({ closeCode: CLOSE_CODES.NORMAL, reason: '' })
    // Frames for an id not in use (closed, or never opened) are ignored: they may race doc-closed.
    mux.sendDoc(7, { type: 'sync-update', update: new Uint8Array([0, 0]) })
    mux.sendDoc(99, { type: 'sync-step1', stateVector: new Uint8Array([0]) })
    mux.send({ type: 'doc-close', docId: 99 })
    // The id opens another document.
    const after = mux.events.length
    mux.open(7, 'other-doc')
    await mux.next((e) => mux.events.indexOf(e) >= after && e.docId === 7 && e.message.type === 'sync-step1', 'second sync-step1')
    const view = await RawClient.connect(url, 'other-doc')
    view.edit((d) => d.getText('t').insert(0, 'second'))
    await whenText(mux.doc(7), 'second')
    expect(mux.closeEvent).toBeNull()
    expect(mux.of(99)).toEqual([])
    expect(metric(await scrape(relay), 'meridian_relay_mux_documents_closed_total', { reason: 'client' })).toBe(1)
  })

  it('closes the socket (4401) for a duplicate id, a nested mux message, a token or sync outside their place', async () => {
    const { url } = await pool.start()
    const cases: [string, (mux: MuxClient) => void][] = [
      ['duplicate id', (mux) => { mux.open(1, 'dup-a'); mux.open(1, 'dup-b') }],
      ['nested doc-open', (mux) => { mux.open(1, 'nest'); mux.sendDoc(1, { type: 'doc-open', docId: 2, docName: 'x' }) }],
      ['nested batch', (mux) => { mux.open(1, 'nest-b'); mux.sendDoc(1, { type: 'batch', messages: [encodeMessage({ type: 'query-awareness' })] }) }],
      ['auth-token in a doc-frame', (mux) => { mux.open(1, 'tok'); mux.sendDoc(1, { type: 'auth-token', token: 'x' }) }],
      ['connection-level sync', (mux) => mux.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })],
      ['connection-level awareness', (mux) => mux.send({ type: 'query-awareness' })],
      ['a batch in a batch', (mux) => mux.socket.send(encodeMuxMessage({ type: 'batch', messages: [encodeMuxMessage({ type: 'batch', messages: [] })] }))]
    ]
    for (const [what, act] of cases) {
      const mux = await MuxClient.connect(url)
      await mux.nextOf(null, 'hello')
      act(mux)
      expect({ what, ...(await mux.closed()) }).toEqual({ what, code: CLOSE_CODES.INVALID_MESSAGE, reason: 'ERR_PROTOCOL' })
    }
  })

  it('refuses a socket whose first message is not a hello with FEATURE_MULTIPLEX (4401)', async () => {
    const { url, relay } = await pool.start()
    const noHello = await MuxClient.connect(url, { hello: false })
    noHello.send({ type: 'doc-open', docId: 1, docName: 'x' })
    expect(await noHello.closed()).toEqual({ code: CLOSE_CODES.INVALID_MESSAGE, reason: 'ERR_PROTOCOL' })
    const plainHello = await MuxClient.connect(url, { hello: false })
    plainHello.send(hello(FEATURE_ACKS))
    expect(await plainHello.closed()).toEqual({ code: CLOSE_CODES.INVALID_MESSAGE, reason: 'ERR_PROTOCOL' })
    expect(plainHello.frames).toEqual([])
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_connections_refused_total')).toBe(2)
    expect(metric(m, 'meridian_relay_connections_accepted_total')).toBe(0)
  })

  it('refuses documents alone: a bad name (4401), past maxDocsPerConnection (1013), deleted (4404), a malformed message (4401)', async () => {
    const { url, relay } = await pool.start({ maxDocsPerConnection: 2, adminToken: ADMIN })
    const mux = await MuxClient.connect(url)
    mux.open(1, 'ok-1')
    mux.open(2, '_meridian/mux')
    expect(await mux.docClosed(2)).toEqual({ closeCode: CLOSE_CODES.INVALID_MESSAGE, reason: 'ERR_DOC_NAME' })
    mux.open(3, 'ok-3')
    mux.open(4, 'one-too-many')
    expect(await mux.docClosed(4)).toEqual({ closeCode: CLOSE_CODES.TRY_AGAIN_LATER, reason: 'ERR_TOO_MANY_DOCS' })
    await mux.nextOf(1, 'hello')
    mux.edit(3, (d) => d.getText('t').insert(0, 'to delete'))
    await mux.nextOf(3, 'ack', (m) => m.upTo >= 2)

    // Deleted while open: doc-closed 4404 after the fatal error; opening it again is refused the same way.
    const deleted = await fetch(`${url.replace('ws', 'http')}/v1/docs/ok-3`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } })
    expect(deleted.status).toBe(200)
    expect(await mux.docClosed(3)).toEqual({ closeCode: CLOSE_CODES.DOC_DELETED, reason: 'ERR_DOC_DELETED' })
    expect(await mux.nextOf(3, 'error')).toMatchObject({ code: 'ERR_DOC_DELETED', fatal: true })
    const after = mux.events.length
    mux.open(3, 'ok-3')
    expect(await mux.docClosed(3, after)).toEqual({ closeCode: CLOSE_CODES.DOC_DELETED, reason: 'ERR_DOC_DELETED' })

    // A document's undecodable message ends that document (the error first), not the socket.
    mux.socket.send(encodeMuxMessage({ type: 'doc-frame', docId: 1, message: new Uint8Array([0, 9, 9]) }))
    expect(await mux.docClosed(1)).toEqual({ closeCode: CLOSE_CODES.INVALID_MESSAGE, reason: 'ERR_PROTOCOL' })
    const errorIndex = mux.events.findIndex((e) => e.docId === 1 && e.message.type === 'error')
    const closedIndex = mux.events.findIndex((e) => e.message.type === 'doc-closed' && e.message.docId === 1)
    expect(errorIndex).toBeGreaterThan(-1)
    expect(errorIndex).toBeLessThan(closedIndex)

    // The socket still serves documents.
    mux.open(5, 'still-fine')
    mux.edit(5, (d) => d.getText('t').insert(0, 'x'))
    await mux.nextOf(5, 'ack', (m) => m.upTo >= 1)
    expect(mux.closeEvent).toBeNull()
    const m = await scrape(relay)
    expect(metric(m, 'meridian_relay_mux_documents_refused_total', { reason: 'bad_doc_name' })).toBe(1)
    expect(metric(m, 'meridian_relay_mux_documents_refused_total', { reason: 'too_many_docs' })).toBe(1)
    expect(metric(m, 'meridian_relay_mux_documents_refused_total', { reason: 'doc_deleted' })).toBe(1)
    expect(metric(m, 'meridian_relay_mux_documents', { access: 'write' })).toBe(1)
  })

  it('handles a batch entry by entry, and answers a batch of doc-opens in a few frames', async () => {
    const { url } = await pool.start()
    const mux = await MuxClient.connect(url, { hello: false })
    // One frame: the connection hello, three documents with their hellos and a first edit.
    const seed = new Y.Doc()
    seed.getText('t').insert(0, 'batched')
    mux.sendBatch([
      hello(FEATURE_MULTIPLEX),
      ...mux.openMessages(1, 'batch-1'),
      ...mux.openMessages(2, 'batch-2'),
      ...mux.openMessages(3, 'batch-3'),
      { type: 'doc-frame', docId: 1, message: encodeMessage({ type: 'sync-update', update: Y.encodeStateAsUpdate(seed) }) }
    ])
    for (const id of [1, 2, 3]) await mux.nextOf(id, 'hello')
    await mux.nextOf(1, 'ack', (m) => m.upTo >= 1)
    // The connection hello, then each document's sync step 1 and hello, and the ack: 8 messages,
    // coalesced per turn (measured: hello alone, the documents' six in one batch, the ack).
    expect(mux.events).toHaveLength(8)
    expect(mux.frames.length).toBeLessThanOrEqual(4)
    expect(mux.frames.some((f) => f.type === 'batch' && f.messages.length >= 3)).toBe(true)
    const view = await RawClient.connect(url, 'batch-1')
    view.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
    await view.next('sync-step2')
    expect(view.doc.getText('t').toString()).toBe('batched')
  })
})
