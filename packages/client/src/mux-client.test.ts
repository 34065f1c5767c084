import { describe, expect, it } from 'vitest'
import { encodeMessage, type Message } from '@meridian/protocol'
import { captureUpdate } from '@meridian/testing'
import { MeridianClient } from './mux-client.js'
import type { MeridianClientOptions } from './mux-options.js'
import { FakeMuxRelay, settle, textOf } from './mux-relay.test-helper.js'
import { MemoryClientStore } from './store/memory-store.js'
import { manualClock } from './test-clock.test-helper.js'
import { isMeridianError, type MeridianError } from './errors.js'

function setup(options: Partial<MeridianClientOptions> = {}) {
  const relay = new FakeMuxRelay()
  const clock = manualClock()
  const store = new MemoryClientStore()
  const client = new MeridianClient({
    url: 'ws://a', WebSocket: relay.WebSocket, clock, random: () => 0, store,
    provider: { syncProbeIntervalMs: 0 }, ...options
  })
  const errors: MeridianError[] = []
  client.on('error', (e) => errors.push(e))
  return { relay, clock, store, client, errors }
}

const count = (messages: Message[], type: Message['type']): number => messages.filter((m) => m.type === type).length

describe('MeridianClient (@meridian/client/multiplex)', () => {
  it('opens documents only once the shared socket is open, after its hello, in one batch', async () => {
    const { relay, client } = setup()
    relay.holdOpen = true
    const a = client.open('a')
    const b = client.open('b')
    const statusUrls: (string | null)[] = []
    const relayUrls: string[] = []
    a.on('status', ({ url }) => statusUrls.push(url))
    a.on('relay', (info) => relayUrls.push(info.url))
    await settle()
    expect(relay.connections).toHaveLength(1)
    expect(relay.last.url).toBe('ws://a/_meridian/mux')
    expect([client.status, a.status, b.status]).toEqual(['connecting', 'connecting', 'connecting'])
    relay.last.accept()
    await settle()
    expect([client.status, a.status, b.status]).toEqual(['connected', 'connected', 'connected'])
    expect(a.synced && b.synced).toBe(true)
    const [hello, batch] = relay.last.frames
    expect(hello?.type).toBe('hello')
    expect(batch?.type).toBe('batch')
    const first = relay.last.messages.slice(1, 7).map((m) => m.type)
    expect(first).toEqual(['doc-open', 'doc-frame', 'doc-frame', 'doc-open', 'doc-frame', 'doc-frame'])
    expect(relay.last.innerTypes('a').slice(0, 2)).toEqual(['hello', 'sync-step1'])
    expect(client.relay?.nodeId).toBe('fake')
    // A document reports the relay the shared socket uses, not its virtual socket's placeholder.
    expect(a.url).toBe('ws://a')
    expect(a.relay?.url).toBe('ws://a')
    // So do its events: never the placeholder.
    expect(statusUrls.every((url) => url === 'ws://a')).toBe(true)
    expect(statusUrls.length).toBeGreaterThan(0)
    expect(relayUrls).toEqual(['ws://a'])
  })

  it("wraps a document's messages in doc-frames with its id, and unwraps the relay's", async () => {
    const { relay, client } = setup()
    const a = client.open('a')
    const b = client.open('b')
    await settle()
    a.doc.getText('t').insert(0, 'from a')
    await a.whenAcknowledged()
    expect(relay.text('a')).toBe('from a')
    expect(relay.text('b')).toBe('')
    expect(relay.last.innerTypes('a')).toContain('sync-update')
    relay.doc('b').getText('t').insert(0, 'to b')
    await settle()
    expect(textOf(b.doc)).toBe('to b')
    expect(textOf(a.doc)).toBe('from a')
    expect(a.durabilityOf('all')).toBe('relay')
  })

  it('sends a burst of documents as one batch, and bounds batches by maxBatchBytes', async () => {
    const { relay, client } = setup()
    client.open('first')
    await settle()
    const before = relay.last.frames.length
    const docs = Array.from({ length: 50 }, (_, i) => client.open(`doc-${i}`))
    await settle()
    expect(docs.every((p) => p.synced)).toBe(true)
    const burst = relay.last.frames[before]
    expect(burst?.type).toBe('batch')
    const entries = burst?.type === 'batch' ? burst.messages.length : 0
    expect(entries).toBe(150) // doc-open, hello, step 1 for each
    expect(relay.last.frames.length - before).toBeLessThanOrEqual(3)

    const small = setup({ maxBatchBytes: 2_048 })
    const offline = Array.from({ length: 20 }, (_, i) => small.client.open(`big-${i}`))
    offline.forEach((p, i) => p.doc.getText('t').insert(0, `${i}`.padEnd(300, '.')))
    small.relay.holdOpen = true
    await settle()
    small.relay.last.accept()
    await settle()
    await Promise.all(offline.map((p) => p.whenAcknowledged()))
    expect(small.relay.text('big-7')).toBe('7'.padEnd(300, '.'))
    expect(small.relay.last.frames.length).toBeGreaterThan(4)
    for (const frame of small.relay.last.frames) {
      if (frame.type === 'batch') expect(encodeMessage(frame).byteLength).toBeLessThanOrEqual(2_048)
    }
    // The relay's frame limit as the documents know it bounds batches too (a larger frame closes the socket).
    const limited = setup({ provider: { syncProbeIntervalMs: 0, maxFrameBytes: 2_048 } })
    const many = Array.from({ length: 20 }, (_, i) => limited.client.open(`limited-${i}`))
    await settle()
    many.forEach((p, i) => p.doc.getText('t').insert(0, `${i}`.padEnd(300, '.')))
    await Promise.all(many.map((p) => p.whenAcknowledged()))
    const sizes = limited.relay.last.frames.map((frame) => encodeMessage(frame).byteLength)
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2_048)
    expect(limited.relay.connections).toHaveLength(1)
  })

  it('a document refused with 4403 stops alone (its provider reports it); the others go on', async () => {
    const { relay, client, clock } = setup()
    relay.refuse = (name) => (name === 'secret' ? { code: 4403, reason: 'ERR_AUTH_FORBIDDEN' } : null)
    const secret = client.open('secret')
    const open = client.open('open')
    const refused: MeridianError[] = []
    secret.on('error', (e) => refused.push(e))
    await settle()
    expect(refused.map((e) => e.relayCode)).toEqual(['ERR_AUTH_FORBIDDEN'])
    expect(secret.status).toBe('disconnected')
    clock.advance(60_000)
    await settle()
    expect(count(relay.last.messages, 'doc-open')).toBe(2)
    expect(client.status).toBe('connected')
    open.doc.getText('t').insert(0, 'still here')
    await open.whenAcknowledged()
    expect(relay.text('open')).toBe('still here')
  })

  it('holds refused writes back by default (the document syncs on); `holdRefusedWrites: undefined` is the fail-stop gate', async () => {
    const { relay, client } = setup({ provider: { syncProbeIntervalMs: 0, maxFrameBytes: 2_048 } })
    const held = client.open('held')
    const stops = client.open('stops', { holdRefusedWrites: undefined })
    await settle()
    held.doc.getText('t').insert(0, 'x'.repeat(4_096))
    stops.doc.getText('t').insert(0, 'x'.repeat(4_096))
    expect(held.refusedWrites.map((w) => [w.seq, w.reason])).toEqual([[1, 'frame-too-large']])
    expect([held.status, stops.status]).toEqual(['connected', 'disconnected'])
    await held.whenDurable(captureUpdate(held.doc, () => held.doc.getMap('m').set('after', 1)), 'relay')
    expect(relay.doc('held').getMap('m').get('after')).toBe(1)
    expect(relay.text('held')).toBe('')
  })

  it('a document the relay closes with a retryable code reopens after its own backoff, not at once', async () => {
    const { relay, client, clock } = setup()
    let refusals = 1
    relay.refuse = () => (refusals-- > 0 ? { code: 1013, reason: 'ERR_TOO_MANY_DOCS' } : null)
    const a = client.open('a')
    await settle()
    clock.advance(0)
    await settle()
    expect(count(relay.last.messages, 'doc-open')).toBe(1)
    expect(a.status).toBe('connecting')
    clock.advance(125) // initialDelayMs 250, random 0: half of it
    await settle()
    expect(count(relay.last.messages, 'doc-open')).toBe(2)
    expect(a.synced).toBe(true)
  })

  it('after losing the shared socket, every document comes back on one new socket, in one batch', async () => {
    const { relay, client, clock } = setup()
    const docs = ['a', 'b', 'c'].map((name) => client.open(name))
    await settle()
    expect(docs.every((p) => p.synced)).toBe(true)
    relay.last.drop(1006)
    await settle()
    expect(client.status).toBe('disconnected')
    expect(docs.map((p) => p.synced)).toEqual([false, false, false])
    docs[1]?.doc.getText('t').insert(0, 'offline edit')
    clock.advance(0) // the providers reconnect at once: to the client, which waits out its backoff
    await settle()
    expect(relay.connections).toHaveLength(1)
    clock.advance(125)
    await settle()
    expect(relay.connections).toHaveLength(2)
    const [hello, batch] = relay.last.frames
    expect(hello?.type).toBe('hello')
    const entries = batch?.type === 'batch' ? batch.messages.map((m) => m[1]) : []
    expect(entries.length).toBe(9) // per document: doc-open, its hello, its step 1
    expect(docs.every((p) => p.synced)).toBe(true)
    await docs[1]?.whenAcknowledged()
    expect(relay.text('b')).toBe('offline edit')
  })

  it('fails over to the next URL', async () => {
    const { relay, client, clock } = setup({ url: undefined, urls: ['ws://a', 'ws://b'] })
    relay.down.add('ws://a')
    const a = client.open('a')
    await settle()
    expect(client.status).toBe('disconnected')
    clock.advance(125)
    await settle()
    expect(relay.last.url).toBe('ws://b/_meridian/mux')
    expect(client.url).toBe('ws://b')
    expect(a.synced).toBe(true)
  })

  it.each(['old', 'plain'] as const)('a relay without multiplexing (%s): one ERR_MULTIPLEX_UNSUPPORTED, and no retry loop', async (mode) => {
    const { relay, client, clock, errors } = setup()
    relay.mode = mode
    const a = client.open('a')
    a.doc.getText('t').insert(0, 'kept locally')
    await settle()
    clock.advance(10 * 60_000)
    await settle()
    expect(relay.connections).toHaveLength(1)
    expect(errors.map((e) => e.code)).toEqual(['ERR_MULTIPLEX_UNSUPPORTED'])
    expect(client.status).toBe('disconnected')
    expect(a.pendingCount).toBe(1)
  })

  it('refused credentials stop the client with one error; a new token and connect() resume every document', async () => {
    const { relay, client, clock, errors } = setup({ params: { token: 't1' } })
    const a = client.open('a')
    await settle()
    expect(relay.last.url).toBe('ws://a/_meridian/mux?token=t1')
    client.setToken('t2')
    await settle()
    expect(relay.last.tokens).toEqual(['t2'])
    relay.last.drop(4411, 'ERR_AUTH_EXPIRED')
    await settle()
    clock.advance(60_000)
    await settle()
    expect(relay.connections).toHaveLength(1)
    expect(errors.map((e) => [e.code, e.relayCode])).toEqual([['ERR_RELAY', 'ERR_AUTH_EXPIRED']])
    client.setToken('t3')
    client.connect()
    await settle()
    expect(relay.last.url).toBe('ws://a/_meridian/mux?token=t3')
    expect(a.synced).toBe(true)
  })

  it('ignores frames for ids not open; reports relay errors; an undecodable frame is ERR_PROTOCOL and a reconnect', async () => {
    const { relay, client, clock, errors } = setup()
    const a = client.open('a')
    await settle()
    relay.last.send(encodeMessage({ type: 'doc-frame', docId: 99, message: encodeMessage({ type: 'sync-update', update: new Uint8Array([0, 0]) }) }))
    relay.last.send(encodeMessage({ type: 'error', code: 'ERR_RATE_LIMITED', message: 'slow down', fatal: false }))
    await settle()
    expect(errors.map((e) => [e.code, e.relayCode])).toEqual([['ERR_RELAY', 'ERR_RATE_LIMITED']])
    expect(a.synced).toBe(true)
    relay.last.send(encodeMessage({ type: 'sync-step1', stateVector: new Uint8Array([0]) })) // not inside a doc-frame
    await settle()
    expect(errors.map((e) => e.code)).toEqual(['ERR_RELAY', 'ERR_PROTOCOL'])
    expect(relay.last.closed).toBe(true)
    clock.advance(0)
    clock.advance(125)
    await settle()
    expect(relay.connections).toHaveLength(2)
    expect(a.synced).toBe(true)
  })

  it('works offline first: open loads the store, edits are kept, and sync on connect', async () => {
    const { relay, client, store } = setup({ connect: false })
    const a = client.open('a')
    await a.whenLoaded
    a.doc.getText('t').insert(0, 'offline')
    await a.whenPersisted()
    expect((await store.load('a')).pending).toHaveLength(1)
    expect(relay.connections).toHaveLength(0)
    client.connect()
    await settle()
    await a.whenAcknowledged()
    expect(relay.text('a')).toBe('offline')
    expect((await store.load('a')).pending).toHaveLength(0)
  })

  it('closing a document sends doc-close; its id is reused only after doc-closed', async () => {
    const { relay, client } = setup()
    const a = client.open('a')
    expect(client.open('a')).toBe(a)
    expect(() => client.open('a', { connect: true })).toThrow(/open already/)
    client.open('b')
    await settle()
    const id = relay.last.docId('a')
    await a.destroy()
    await settle()
    expect([...client.documents.keys()]).toEqual(['b'])
    expect(count(relay.last.messages, 'doc-close')).toBe(1)
    const again = client.open('a')
    expect(again).not.toBe(a)
    await settle()
    expect(again.synced).toBe(true)
    expect(relay.last.docId('a')).toBe(id)
    await client.close('b')
    expect(client.documents.size).toBe(1)
  })

  it('destroy() closes every document and the socket, and settles every promise', async () => {
    const { relay, client } = setup()
    relay.holdOpen = true
    const a = client.open('a')
    const synced = a.whenSynced().then(() => null, (e: unknown) => e)
    const statuses: string[] = []
    client.on('status', ({ status }) => statuses.push(status))
    await client.destroy()
    expect(isMeridianError(await synced, 'ERR_DESTROYED')).toBe(true)
    expect(a.destroyed).toBe(true)
    expect(client.status).toBe('closed')
    expect(statuses.at(-1)).toBe('closed')
    expect(client.documents.size).toBe(0)
    expect(relay.last.closed).toBe(true)
    expect(() => client.open('b')).toThrow(/destroyed/)
  })

  it('refuses bad options with ERR_OPTIONS', () => {
    const bad: unknown[] = [
      { url: 'http://a' }, { url: 'ws://a', urls: ['ws://b'] }, { params: { token: 1 } }, { connectTimeoutMs: 0 },
      { maxBatchBytes: -1 }, { backoff: { initialDelayMs: -1 } }, { store: 'idb' }, { provider: { url: 'ws://a' } }, { connect: 'yes' }
    ]
    for (const options of bad) {
      expect(() => new MeridianClient(options as MeridianClientOptions), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS' }))
    }
    const { client } = setup({ connect: false })
    expect(() => client.open('')).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS' }))
    expect(() => client.open('x', { WebSocket: class {} } as never)).toThrow(/client's to set/)
    expect(() => client.open('y', { subdocs: { autoLoad: 1 } } as never)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS' }))
  })
})
