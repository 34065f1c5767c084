/**
 * The multiplexing client (`@meridian/client/multiplex`) against a real relay:
 * many documents over one socket, per-document acknowledgements, closing and
 * reopening, a stock y-websocket client on the same document, a token refresh
 * that drops one grant, and the CLI's --max-docs-per-connection.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { MemoryClientStore } from '@meridian/client/store'
import { mintToken } from '@meridian/relay'
import { startRelayProcess, startTestRelay, storedDoc, waitUntil, type TestRelay } from '@meridian/testing'
import { createMuxClient, metric, nextError, whenDoc, type TestMuxClient } from './helpers/mux.js'

const SECRET = 'mux-relay-secret-that-is-at-least-32-bytes'
const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

type Grant = { pattern: string; access: 'read' | 'write' }
const token = (...docs: Grant[]): Promise<string> => mintToken({ secret: SECRET, docs, ttlSeconds: 300 })

async function relay(): Promise<TestRelay> {
  const r = await startTestRelay({ auth: { mode: 'jwt', secret: SECRET } })
  cleanups.push(() => r.relay.close())
  return r
}

function mux(url: string, params: Record<string, string>): TestMuxClient {
  const m = createMuxClient({ url, params, store: new MemoryClientStore() })
  cleanups.push(() => m.client.destroy())
  return m
}

const text = (doc: Y.Doc): string => doc.getText('t').toString()

describe('MeridianClient against a real relay', () => {
  it('20 documents over one socket: all synced, one connection at the relay, acknowledgements per document', async () => {
    const { url, storage } = await relay()
    const m = mux(url, { token: await token({ pattern: 'ws/**', access: 'write' }) })
    const sockets: string[] = []
    m.client.on('status', ({ status }) => sockets.push(status))
    const names = Array.from({ length: 20 }, (_, i) => `ws/doc-${i}`)
    const providers = names.map((name) => m.open(name))
    await Promise.all(providers.map((p) => p.whenSynced({ timeoutMs: 5_000 })))

    expect(await metric(url, 'meridian_relay_connections{access="mux"}')).toBe(1)
    expect(await metric(url, 'meridian_relay_connections{access="write"}')).toBe(0)
    expect(await metric(url, 'meridian_relay_mux_documents{access="write"}')).toBe(20)
    expect(sockets).toEqual(['connecting', 'connected'])

    // One document's write is acknowledged alone; then every document's, each stored under its own name.
    const [first, second] = providers as [(typeof providers)[0], (typeof providers)[0]]
    first.doc.getText('t').insert(0, 'only the first')
    await first.whenAcknowledged({ timeoutMs: 5_000 })
    expect(first.durabilityOf('all')).toBe('relay')
    expect(second.pendingCount).toBe(0)
    expect(text(await storedDoc(storage, 'ws/doc-1'))).toBe('')
    providers.forEach((p, i) => p.doc.getMap('m').set('i', i))
    await Promise.all(providers.map((p) => p.whenAcknowledged({ timeoutMs: 5_000 })))
    for (const [i, name] of names.entries()) expect((await storedDoc(storage, name)).getMap('m').get('i'), name).toBe(i)
    expect(text(await storedDoc(storage, 'ws/doc-0'))).toBe('only the first')
    expect(m.errors).toEqual([])
    expect([...m.docErrors.values()].flat()).toEqual([])
  })

  it('a closed document reopens from its store, and a write unacknowledged at the close is sent then', async () => {
    const { url, storage } = await relay()
    const m = mux(url, { token: await token({ pattern: 'ws/**', access: 'write' }) })
    const keep = m.open('ws/keep')
    const first = m.open('ws/reopen')
    await Promise.all([keep.whenSynced({ timeoutMs: 5_000 }), first.whenSynced({ timeoutMs: 5_000 })])
    first.doc.getText('t').insert(0, 'one')
    await first.whenAcknowledged({ timeoutMs: 5_000 })
    // Written and closed in the same turn: it cannot have been acknowledged.
    first.doc.getText('t').insert(3, ' two')
    expect(first.pendingCount).toBe(1)
    await m.client.close('ws/reopen')
    expect(first.destroyed).toBe(true)
    expect(m.client.documents.has('ws/reopen')).toBe(false)
    await waitUntil(async () => (await metric(url, 'meridian_relay_mux_documents{access="write"}')) === 1, 'the relay to close the document', 5_000)

    const again = m.open('ws/reopen')
    expect(again).not.toBe(first)
    await again.whenLoaded
    expect(text(again.doc)).toBe('one two')
    await again.whenAcknowledged({ timeoutMs: 5_000 })
    await again.whenSynced({ timeoutMs: 5_000 })
    expect(text(await storedDoc(storage, 'ws/reopen'))).toBe('one two')
    // The other document never noticed; still one socket.
    keep.doc.getText('t').insert(0, 'still here')
    await keep.whenAcknowledged({ timeoutMs: 5_000 })
    expect(await metric(url, 'meridian_relay_connections{access="mux"}')).toBe(1)
    expect(m.errors).toEqual([])
    expect([...m.docErrors.values()].flat()).toEqual([])
  })

  it('a stock y-websocket client on one of the documents sees the multiplexed client’s edits, and the other way round', async () => {
    const { url } = await relay()
    const grant = await token({ pattern: 'ws/**', access: 'write' })
    const m = mux(url, { token: grant })
    const providers = Array.from({ length: 5 }, (_, i) => m.open(`ws/doc-${i}`))
    await Promise.all(providers.map((p) => p.whenSynced({ timeoutMs: 5_000 })))
    const shared = providers[3] as (typeof providers)[0]
    const stock = new WebsocketProvider(url, 'ws/doc-3', new Y.Doc(), { WebSocketPolyfill: WebSocket as never, disableBc: true, params: { token: grant } })
    cleanups.push(() => stock.destroy())

    shared.doc.getText('t').insert(0, 'from the mux. ')
    await whenDoc(stock.doc, (d) => text(d) === 'from the mux. ', 'the stock client to get the mux edit')
    stock.doc.getText('t').insert(text(stock.doc).length, 'from y-websocket.')
    await whenDoc(shared.doc, (d) => text(d) === 'from the mux. from y-websocket.', 'the mux client to get the stock edit')
    // Awareness crosses too, inside its doc-frames.
    shared.awareness?.setLocalStateField('user', 'ada')
    await waitUntil(() => [...stock.awareness.getStates().values()].some((s) => s.user === 'ada'), 'the mux client’s presence at the stock client', 5_000, 5)
    // Nothing leaked to the other documents.
    for (const p of providers) if (p !== shared) expect(text(p.doc), p.docName).toBe('')
    await shared.whenAcknowledged({ timeoutMs: 5_000 })
    expect(m.errors).toEqual([])
  })

  it('a token refresh that drops a grant closes only that document (4403); one downgraded to read holds its writes; the rest keep syncing', async () => {
    const { url } = await relay()
    const all = await token({ pattern: 'ws/**', access: 'write' })
    const m = mux(url, { token: all })
    const observer = mux(url, { token: all })
    const [keep, drop, demote] = ['ws/keep', 'ws/drop', 'ws/demote'].map((name) => m.open(name)) as [ReturnType<typeof m.open>, ReturnType<typeof m.open>, ReturnType<typeof m.open>]
    const [seeKeep, seeDemote] = [observer.open('ws/keep'), observer.open('ws/demote')]
    await Promise.all([keep, drop, demote, seeKeep, seeDemote].map((p) => p.whenSynced({ timeoutMs: 5_000 })))
    let reconnects = 0
    m.client.on('status', ({ status }) => status === 'connecting' && reconnects++)

    const refused = nextError(drop)
    m.client.setToken(await token({ pattern: 'ws/keep', access: 'write' }, { pattern: 'ws/demote', access: 'read' }))
    const error = await refused
    expect(error).toMatchObject({ code: 'ERR_RELAY', relayCode: 'ERR_AUTH_FORBIDDEN' })
    expect(m.docErrors.get('ws/drop')?.[0]).toBe('ERR_RELAY(ERR_AUTH_FORBIDDEN)')
    expect(drop.status).toBe('disconnected')
    keep.doc.getText('t').insert(0, 'after the refresh')
    await keep.whenAcknowledged({ timeoutMs: 5_000 })
    await whenDoc(seeKeep.doc, (d) => text(d) === 'after the refresh', 'the observer to see the kept document')
    // The read-only document's write is refused by the relay (ERR_READ_ONLY) and kept locally, pending.
    const readOnly = nextError(demote)
    demote.doc.getMap('m').set('mine', 'held')
    expect(await readOnly).toMatchObject({ code: 'ERR_RELAY', relayCode: 'ERR_READ_ONLY' })
    expect(demote.pendingCount).toBe(1)
    seeDemote.doc.getMap('m').set('theirs', 'incoming')
    await whenDoc(demote.doc, (d) => d.getMap('m').get('theirs') === 'incoming', 'the read-only document to keep receiving')
    await seeDemote.whenAcknowledged({ timeoutMs: 5_000 })
    expect(seeDemote.doc.getMap('m').toJSON()).toEqual({ theirs: 'incoming' })
    expect(demote.doc.getMap('m').toJSON()).toEqual({ mine: 'held', theirs: 'incoming' })
    expect(demote.pendingCount).toBe(1)

    // The refused document stays closed (reported once), the connection stayed up throughout.
    drop.doc.getText('t').insert(0, 'never sent')
    expect(reconnects).toBe(0)
    expect(m.docErrors.get('ws/drop')).toEqual(['ERR_RELAY(ERR_AUTH_FORBIDDEN)'])
    expect(await metric(url, 'meridian_relay_mux_documents_refused_total{reason="forbidden"}'), 'no doc-open retried').toBe(0)
    // Open at the relay: keep (write) and demote (read) of this client, both of the observer's (write).
    expect(await metric(url, 'meridian_relay_mux_documents{access="write"}')).toBe(3)
    expect(await metric(url, 'meridian_relay_mux_documents{access="read"}')).toBe(1)
    expect(await metric(url, 'meridian_relay_connections{access="mux"}')).toBe(2)
    expect(m.errors).toEqual([])
  })
})

describe('batches against the relay’s limits', () => {
  it('5,000 writes in one turn and 40 documents’ writes over a small frame limit go out in batches the relay takes: one socket throughout', async () => {
    // Batches of at most MAX_BATCH_ENTRIES messages, and no larger than the relay's frame limit (provider.maxFrameBytes):
    // over either the relay closes the socket, and the reconnect would send the same batches again.
    const small = 128 * 1024
    const r = await startTestRelay({ maxMessageBytes: small, maxDocumentBytes: 100 * 1024 })
    cleanups.push(() => r.relay.close())
    const m = createMuxClient({ url: r.url, store: new MemoryClientStore(), provider: { maxFrameBytes: small } })
    cleanups.push(() => m.client.destroy())
    const statuses: string[] = []
    m.client.on('status', ({ status }) => statuses.push(status))
    const providers = Array.from({ length: 40 }, (_, i) => m.open(`doc-${i}`))
    await Promise.all(providers.map((p) => p.whenSynced({ timeoutMs: 5_000 })))
    const [burst] = providers as [(typeof providers)[0]]
    for (let i = 0; i < 5_000; i++) burst.doc.getMap('m').set(`k${i}`, i)
    await burst.whenAcknowledged({ timeoutMs: 10_000 })
    for (const p of providers) p.doc.getText('t').insert(0, 'x'.repeat(4_000))
    await Promise.all(providers.map((p) => p.whenAcknowledged({ timeoutMs: 10_000 })))
    expect(statuses).toEqual(['connecting', 'connected'])
    expect((await storedDoc(r.storage, 'doc-0')).getMap('m').size).toBe(5_000)
    expect(text(await storedDoc(r.storage, 'doc-39'))).toHaveLength(4_000)
    expect(m.errors).toEqual([])
  })
})

describe('meridian-relay --max-docs-per-connection', () => {
  it('refuses documents past the limit with 1013 ERR_TOO_MANY_DOCS; a refused one gets in once another closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meridian-mux-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const relayProcess = await startRelayProcess(['--auth', 'none', '--max-docs-per-connection', '3', '--data-dir', dir])
    cleanups.push(() => relayProcess.kill('SIGKILL'))
    const m = createMuxClient({ url: relayProcess.url, store: new MemoryClientStore() })
    cleanups.push(() => m.client.destroy())
    const providers = ['a', 'b', 'c', 'd'].map((name) => m.open(name))
    await Promise.all(providers.slice(0, 3).map((p) => p.whenSynced({ timeoutMs: 5_000 })))
    await waitUntil(async () => (await metric(relayProcess.url, 'meridian_relay_mux_documents_refused_total{reason="too_many_docs"}')) >= 1, 'the fourth document to be refused', 5_000)
    const fourth = providers[3] as (typeof providers)[0]
    expect(fourth.synced).toBe(false)
    await m.client.close('a')
    await fourth.whenSynced({ timeoutMs: 10_000 })
    expect(await metric(relayProcess.url, 'meridian_relay_mux_documents{access="write"}')).toBe(3)
    expect(m.errors).toEqual([])
  })
})
