import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { MemoryStorageAdapter } from '@meridian/storage'
import { createSystemClock, type Clock } from '@meridian/base'
import { buildRelay, type MeshOptions, type Relay } from '@meridian/relay'
import { MESH_CLOSE_CODES } from '@meridian/protocol'
import { RawClient, waitUntil } from '@meridian/testing'
import { RawMeshPeer, replay, startRecordingProxy } from '../test-support/mesh-peer.js'

const SECRET = 'test-cluster-secret-0123456789'
const relays: Relay[] = []
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
  await Promise.all(relays.splice(0).map((r) => r.close()))
})

const FAST: Partial<MeshOptions> = { heartbeatIntervalMs: 50, suspectAfterMs: 400, downAfterMs: 1_000, antiEntropyIntervalMs: 100, redialInitialDelayMs: 20, redialMaxDelayMs: 200 }
const HOUR = 3_600_000

/** The system clock, `offsetMs` off: timers run at real speed, `now()` disagrees with every other relay's. */
const skewedClock = (offsetMs: number): Clock => ({ ...createSystemClock({ unref: true }), now: () => Date.now() + offsetMs })

async function meshRelay(nodeId: string, region: string, peers: string[], o: { mesh?: Partial<MeshOptions>; clock?: Clock; storage?: MemoryStorageAdapter; maxDocumentBytes?: number; port?: number } = {}): Promise<{ relay: Relay; url: string; port: number; storage: MemoryStorageAdapter }> {
  const storage = o.storage ?? new MemoryStorageAdapter()
  const relay = await buildRelay({
    storage,
    nodeId,
    region,
    ...(o.clock !== undefined ? { clock: o.clock } : {}),
    ...(o.maxDocumentBytes !== undefined ? { maxDocumentBytes: o.maxDocumentBytes } : {}),
    mesh: { clusterSecret: SECRET, peers, ...FAST, ...o.mesh }
  })
  relays.push(relay)
  const url = await relay.listen({ port: o.port ?? 0, host: '127.0.0.1' })
  return { relay, url, port: Number(new URL(url).port), storage }
}

const linkedTo = (relay: Relay): string[] => (relay.mesh?.status().members ?? []).filter((m) => m.linked).map((m) => m.nodeId)
const refused = (relay: Relay, reason: string): number => (relay.mesh?.status().refusedLinks as Record<string, number> | undefined)?.[reason] ?? 0

async function readText(url: string, docName: string): Promise<string> {
  const c = await RawClient.connect(url, docName)
  c.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
  await c.next('sync-step2')
  await c.close()
  return c.doc.getText('t').toString()
}

describe('mesh link handshake (challenge–response, over real sockets)', () => {
  it('links relays whose clocks are two hours apart, exchanges, and replicates both ways', async () => {
    const a = await meshRelay('a', 'eu', [], { clock: skewedClock(2 * HOUR) })
    const b = await meshRelay('b', 'us', [a.url], { clock: skewedClock(-5 * 60_000) })
    await waitUntil(() => linkedTo(a.relay).includes('b') && linkedTo(b.relay).includes('a'), 'linked despite 2 h of skew')
    // Each relay measures staleness on its own clock: both complete exchanges and report a bounded value.
    await waitUntil(() => (a.relay.mesh?.status().regions.us?.stalenessMs ?? null) !== null && (b.relay.mesh?.status().regions.eu?.stalenessMs ?? null) !== null, 'exchanges completed')
    expect(b.relay.mesh?.status().regions.eu?.stalenessMs).toBeLessThan(5_000)
    const writer = await RawClient.connect(b.url, 'skewed')
    await writer.next('sync-step1')
    writer.edit((d) => d.getText('t').insert(0, 'across the skew'))
    await writer.next('ack', (m) => m.upTo >= 2)
    await waitUntil(async () => (await readText(a.url, 'skewed')) === 'across the skew', 'replicated to a')
    await writer.close()
  })

  it('refuses a recorded handshake replayed later to the same relay, or to another relay', async () => {
    const a = await meshRelay('a', 'eu', [])
    const c = await meshRelay('c', 'ap', [])
    const recorder = await startRecordingProxy(a.port)
    cleanups.push(() => recorder.close())
    // b dials a through an eavesdropper that keeps every byte b sends (upgrade request, challenge, hello, …).
    const b = await meshRelay('b', 'us', [recorder.url])
    await waitUntil(() => linkedTo(a.relay).includes('b'), 'b linked to a')
    await b.relay.close()
    relays.splice(relays.indexOf(b.relay), 1)
    await waitUntil(() => !linkedTo(a.relay).includes('b'), 'link gone')
    const recorded = recorder.recorded()[0] as Buffer
    expect(recorded.toString('latin1')).toContain('GET /_meridian/mesh')

    const before = refused(a.relay, 'bad-proof')
    await replay(a.port, recorded)
    await waitUntil(() => refused(a.relay, 'bad-proof') > before, 'a refused the replay')
    expect(linkedTo(a.relay)).toEqual([])

    await replay(c.port, recorded)
    await waitUntil(() => refused(c.relay, 'bad-proof') > 0, 'c refused the replay')
    expect(c.relay.mesh?.status().members.map((m) => m.nodeId)).toEqual(['c'])
    expect(linkedTo(c.relay)).toEqual([])
  })

  it('binds the proven identity to the link: a second hello claiming another node or region closes it', async () => {
    const a = await meshRelay('a', 'eu', [])
    const x = await RawMeshPeer.handshake(a.url, SECRET, { nodeId: 'x', region: 'us', url: 'ws://127.0.0.1:1', incarnation: 1 })
    cleanups.push(() => x.close())
    await waitUntil(() => linkedTo(a.relay).includes('x'), 'x linked')
    // Claim the home region under another node id, with a valid proof for the new claim over the old nonces.
    const challenge = x.received.find((m) => m.type === 'mesh-challenge')
    expect(challenge?.type).toBe('mesh-challenge')
    x.send({ type: 'mesh-hello', nodeId: 'b', region: 'eu', url: 'ws://127.0.0.1:2', incarnation: 2, proof: new Uint8Array(32) })
    await waitUntil(() => x.closeCode !== null, 'link closed')
    expect(x.closeCode).toBe(MESH_CLOSE_CODES.AUTH_FAILED)
    expect(refused(a.relay, 'rebind')).toBe(1)
    expect(a.relay.mesh?.status().members.map((m) => `${m.nodeId}@${m.region}`)).toEqual(['a@eu', 'x@us'])
  })

  it('refuses a hello whose proof was made for another identity, a wrong secret, and a peer that never answers', async () => {
    const a = await meshRelay('a', 'eu', [], { mesh: { handshakeTimeoutMs: 300 } })
    const ws = new WebSocket(`${a.url}/_meridian/mesh`)
    // Signed as x@us, sent as x@eu: the region is part of what is signed.
    const x = { nodeId: 'x', region: 'us', url: 'ws://127.0.0.1:1', incarnation: 1 }
    const forger = await RawMeshPeer.handshake(a.url, SECRET, x, { ...x, region: 'eu' })
    await waitUntil(() => forger.closeCode !== null, 'forged claim refused')
    expect(forger.closeCode).toBe(MESH_CLOSE_CODES.AUTH_FAILED)
    const liar = await RawMeshPeer.handshake(a.url, 'another-secret-0123456789', { nodeId: 'y', region: 'us', url: 'ws://127.0.0.1:1', incarnation: 1 })
    await waitUntil(() => liar.closeCode !== null, 'wrong secret refused')
    expect(liar.closeCode).toBe(MESH_CLOSE_CODES.AUTH_FAILED)
    // Silent: connected, never answers the challenge.
    const closed = await new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
    expect(closed).toBe(MESH_CLOSE_CODES.SILENT)
    expect(refused(a.relay, 'bad-proof')).toBe(2)
    expect(refused(a.relay, 'timeout')).toBe(1)
    expect(a.relay.mesh?.status().members.map((m) => m.nodeId)).toEqual(['a'])
  })

  it('dials a gossiped member only to have it prove the node id it was gossiped for', async () => {
    const a = await meshRelay('a', 'eu', [])
    const c = await meshRelay('c', 'ap', [])
    const x = await RawMeshPeer.handshake(a.url, SECRET, { nodeId: 'x', region: 'us', url: 'ws://127.0.0.1:1', incarnation: 1 })
    cleanups.push(() => x.close())
    await waitUntil(() => linkedTo(a.relay).includes('x'), 'x linked')
    // x says "ghost" of region zz lives at c's address; the relay there proves it is c.
    x.send({ type: 'mesh-members', members: [{ nodeId: 'ghost', region: 'zz', url: c.url, incarnation: 1 }] })
    await waitUntil(() => refused(a.relay, 'identity-mismatch') > 0, 'a refused the impostor')
    const ghost = a.relay.mesh?.status().members.find((m) => m.nodeId === 'ghost')
    expect(ghost).toMatchObject({ proven: false, linked: false })
    expect(linkedTo(a.relay)).toEqual(['x'])
    // A region known only by hearsay is reported, as unknown: never a bounded staleness nobody proved.
    expect(a.relay.mesh?.status().regions.zz?.stalenessMs).toBeNull()
  })

  it('caps gossiped members and ignores region names unfit to be metric labels', async () => {
    const a = await meshRelay('a', 'eu', [], { mesh: { maxMembers: 20 } })
    const x = await RawMeshPeer.handshake(a.url, SECRET, { nodeId: 'x', region: 'us', url: 'ws://127.0.0.1:1', incarnation: 1 })
    cleanups.push(() => x.close())
    await waitUntil(() => linkedTo(a.relay).includes('x'), 'x linked')
    const bad = ['a b', 'r'.repeat(100), '<script>', '', 'eu\n']
    x.send({ type: 'mesh-members', members: bad.map((region, i) => ({ nodeId: `bad-${i}`, region, url: 'ws://127.0.0.1:1', incarnation: 1 })) })
    x.send({ type: 'mesh-members', members: Array.from({ length: 1_000 }, (_, i) => ({ nodeId: `m-${i}`, region: `r${i}`, url: `ws://127.0.0.1:${1000 + i}`, incarnation: 1 })) })
    x.send({ type: 'mesh-ping', nonce: 1 })
    await waitUntil(() => x.received.some((m) => m.type === 'mesh-pong'), 'gossip processed')
    const status = a.relay.mesh?.status()
    expect(status?.members.length).toBe(20)
    expect(status?.members.some((m) => m.nodeId.startsWith('bad-'))).toBe(false)
    expect(Object.keys(status?.regions ?? {}).every((r) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(r))).toBe(true)
  })

  it('applies mesh pushes with the document size limit and the missing-dependency check', async () => {
    const a = await meshRelay('a', 'eu', [], { maxDocumentBytes: 64 * 1024 })
    const x = await RawMeshPeer.handshake(a.url, SECRET, { nodeId: 'x', region: 'us', url: 'ws://127.0.0.1:1', incarnation: 1 })
    cleanups.push(() => x.close())
    await waitUntil(() => linkedTo(a.relay).includes('x'), 'x linked')
    const big = new Y.Doc()
    big.getText('t').insert(0, 'x'.repeat(100 * 1024))
    x.send({ type: 'mesh-update', id: 1, docName: 'big', update: Y.encodeStateAsUpdate(big) })
    // An update that depends on one never sent.
    const d = new Y.Doc()
    d.getText('t').insert(0, 'first')
    const sv = Y.encodeStateVector(d)
    d.getText('t').insert(5, ' second')
    x.send({ type: 'mesh-update', id: 2, docName: 'gappy', update: Y.encodeStateAsUpdate(d, sv) })
    const ok = new Y.Doc()
    ok.getText('t').insert(0, 'fine')
    x.send({ type: 'mesh-update', id: 3, docName: 'ok', update: Y.encodeStateAsUpdate(ok) })
    await waitUntil(() => x.received.some((m) => m.type === 'mesh-update-ack' && m.id === 3), 'the valid push acknowledged')
    expect(x.received.filter((m) => m.type === 'mesh-update-ack').map((m) => (m as { id: number }).id)).toEqual([3])
    expect(await a.storage.load('big')).toBeNull()
    expect(await readText(a.url, 'gappy')).toBe('')
    expect(await readText(a.url, 'ok')).toBe('fine')
  })

})
