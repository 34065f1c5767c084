/**
 * Hostile input against a live relay process: the kept corpus
 * (test/fuzz-corpus), then thousands of random and mutated frames from
 * connections with write, read and no tokens, while honest clients keep
 * writing. The process must stay up, the honest clients must keep syncing,
 * and after a kill -9 and a restart every document must load with every
 * acknowledged update. Replay a failure with MERIDIAN_SEED=<seed>.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { encodeMessage, type Message } from '@meridian/protocol'
import { mintToken } from '@meridian/relay'
import { RawClient, createPrng, parseSeed, randomEdit, startRelayProcess, type RelayProcess } from '@meridian/testing'
import { deleteSetUpdate } from '../packages/relay/src/test-support/attacks.js'

const SECRET = 'fuzz-secret-that-is-at-least-32-bytes!!'
const FRAMES = 3_000
const LANES = 6
const DOCS = ['fuzz/a', 'fuzz/b', 'fuzz/c']
const HONEST_DOCS = ['fuzz/a', 'fuzz/b']
const CORPUS = fileURLToPath(new URL('./fuzz-corpus/', import.meta.url))

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

type Access = 'write' | 'read' | 'none'
interface Frame { data: Uint8Array | string; doc: string; access: Access }

function loadCorpus(): { name: string; data: Uint8Array | string }[] {
  return readdirSync(CORPUS).filter((f) => f.endsWith('.hex') || f.endsWith('.txt')).sort().map((name) => {
    const text = readFileSync(join(CORPUS, name), 'utf8')
    if (name.endsWith('.txt')) return { name, data: text }
    const hex = text.split('\n').filter((l) => !l.startsWith('#')).join('').replace(/\s+/g, '')
    return { name, data: new Uint8Array(Buffer.from(hex, 'hex')) }
  })
}

/** Real Yjs updates (incremental: most depend on earlier ones) to mutate and replay out of order. */
function updatePool(seed: number): { updates: Uint8Array[]; hostile: Uint8Array[]; stateVector: Uint8Array; awareness: Uint8Array } {
  const rand = createPrng(seed)
  const doc = new Y.Doc()
  doc.clientID = 1 + Math.floor(rand() * 1_000_000)
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  for (let i = 0; i < 60; i++) randomEdit(doc, rand, `g${i}`)
  updates.push(Y.encodeStateAsUpdate(doc))
  const aw = new awarenessProtocol.Awareness(doc)
  aw.setLocalState({ user: { name: 'fuzz', color: '#f00' }, cursor: { anchor: 3 } })
  return { updates, hostile: hostileUpdates(rand), stateVector: Y.encodeStateVector(doc), awareness: awarenessProtocol.encodeAwarenessUpdate(aw, [doc.clientID]) }
}

/**
 * Updates from the security review (#15): types nested past the depth limit
 * (at once, and in steps on top of each other), and delete sets splitting a
 * text insert into many items (under and over the per-message bound, the
 * insert separate and merged in).
 */
function hostileUpdates(rand: () => number): Uint8Array[] {
  const out: Uint8Array[] = []
  const deep = new Y.Doc()
  deep.clientID = 1 + Math.floor(rand() * 1_000_000)
  let m = deep.getMap<unknown>('root')
  let sv = Y.encodeStateVector(deep)
  for (const step of [100, 100, 100, 300]) {
    deep.transact(() => {
      for (let i = 0; i < step; i++) {
        const child = new Y.Map<unknown>()
        m.set('c', child)
        m = child
      }
    })
    out.push(Y.encodeStateAsUpdate(deep, sv))
    sv = Y.encodeStateVector(deep)
  }
  const text = new Y.Doc()
  text.clientID = 1 + Math.floor(rand() * 1_000_000)
  text.getText('t').insert(0, 'x'.repeat(30_000))
  const insert = Y.encodeStateAsUpdate(text)
  out.push(insert)
  for (const cuts of [500, 4_000, 12_000]) {
    const ranges: [number, number][] = []
    for (let i = 0; i < cuts; i++) ranges.push([2 * i + 1, 1])
    const deletes = deleteSetUpdate(text.clientID, ranges)
    out.push(deletes, Y.mergeUpdates([insert, deletes]))
  }
  return out
}

function frameArbitrary(pool: ReturnType<typeof updatePool>, token: string): fc.Arbitrary<Frame> {
  const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max })
  const str = fc.string({ maxLength: 24 })
  const update = fc.constantFrom(...pool.updates)
  const hostile = fc.constantFrom(...pool.hostile)
  const message: fc.Arbitrary<Message> = fc.oneof(
    update.map((u): Message => ({ type: 'sync-update', update: u })),
    update.map((u): Message => ({ type: 'sync-step2', update: u })),
    hostile.map((u): Message => ({ type: 'sync-update', update: u })),
    fc.constant<Message>({ type: 'sync-step1', stateVector: pool.stateVector }),
    bytes(24).map((sv): Message => ({ type: 'sync-step1', stateVector: sv })),
    fc.constant<Message>({ type: 'awareness', update: pool.awareness }),
    bytes(40).map((u): Message => ({ type: 'awareness', update: u })),
    fc.constant<Message>({ type: 'query-awareness' }),
    fc.record({ role: fc.constantFrom('client' as const, 'relay' as const), nodeId: str, region: str, features: fc.nat() })
      .map((h): Message => ({ type: 'hello', version: 1, ...h })),
    fc.oneof(fc.constant(token), str).map((t): Message => ({ type: 'auth-token', token: t })),
    fc.nat().map((upTo): Message => ({ type: 'ack', upTo })),
    fc.record({ code: str, message: str, fatal: fc.boolean() }).map((e): Message => ({ type: 'error', ...e })),
    str.map((reason): Message => ({ type: 'auth-denied', reason }))
  )
  // Mutations as in the protocol's own fuzz tests: flips, truncations, insertions, deletions.
  const mutation = fc.oneof(
    fc.record({ i: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }).map(({ i, bit }) => (b: Uint8Array) => {
      if (b.length === 0) return b
      const c = b.slice()
      c[i % c.length]! ^= 1 << bit
      return c
    }),
    fc.nat().map((n) => (b: Uint8Array) => b.subarray(0, b.length === 0 ? 0 : n % b.length)),
    fc.record({ i: fc.nat(), ins: bytes(6) }).map(({ i, ins }) => (b: Uint8Array) => {
      const at = b.length === 0 ? 0 : i % (b.length + 1)
      return new Uint8Array([...b.subarray(0, at), ...ins, ...b.subarray(at)])
    }),
    fc.record({ i: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }).map(({ i, n }) => (b: Uint8Array) => {
      const at = b.length === 0 ? 0 : i % b.length
      return new Uint8Array([...b.subarray(0, at), ...b.subarray(at + n)])
    })
  )
  const mutate = (b: Uint8Array, ms: ((b: Uint8Array) => Uint8Array)[]): Uint8Array => ms.reduce((x, m) => m(x), b)
  const data: fc.Arbitrary<Uint8Array | string> = fc.oneof(
    { weight: 2, arbitrary: bytes(64) },
    { weight: 3, arbitrary: message.map(encodeMessage) },
    { weight: 3, arbitrary: fc.tuple(message.map(encodeMessage), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([b, ms]) => mutate(b, ms)) },
    // Well-framed, corrupt inside: what reaches Yjs and y-protocols.
    { weight: 4, arbitrary: fc.tuple(update, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean())
      .map(([u, ms, step2]) => encodeMessage({ type: step2 ? 'sync-step2' : 'sync-update', update: mutate(u, ms) })) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(pool.awareness), fc.array(mutation, { minLength: 1, maxLength: 2 }))
      .map(([a, ms]) => encodeMessage({ type: 'awareness', update: mutate(a, ms) })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) }
  )
  return fc.record({
    data,
    doc: fc.constantFrom(...DOCS),
    access: fc.constantFrom<Access>('write', 'write', 'write', 'write', 'read', 'read', 'none')
  })
}

const PROBE = encodeMessage({ type: 'sync-step1', stateVector: Y.encodeStateVector(new Y.Doc()) })

/** One hostile connection at a time per lane: reconnects whenever the relay closed the last one. */
class Lane {
  private socket: WebSocket | null = null
  opened = 0
  constructor(private readonly url: string, private readonly tokens: Record<Exclude<Access, 'none'>, string>) {}

  async send(frame: Frame): Promise<void> {
    if (this.socket === null || this.socket.readyState !== WebSocket.OPEN) {
      this.socket?.terminate()
      this.socket = await this.connect(frame)
    }
    const ws = this.socket
    // A probe after each frame: its sync-step2 answer (or the close) says the relay has dealt
    // with the frame, so the next one is not wasted on a connection it already closed.
    const settled = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate()
        done()
      }, 5_000)
      const onMessage = (data: Buffer): void => {
        if (data[0] === 0 && data[1] === 1) done()
      }
      const done = (): void => {
        clearTimeout(timer)
        ws.off('message', onMessage)
        ws.off('close', done)
        resolve()
      }
      ws.on('message', onMessage)
      ws.once('close', done)
    })
    ws.send(frame.data, { binary: typeof frame.data !== 'string' })
    ws.send(PROBE)
    await settled
  }

  close(): void {
    this.socket?.terminate()
  }

  private connect(frame: Frame): Promise<WebSocket> {
    this.opened++
    const query = frame.access === 'none' ? '' : `?token=${this.tokens[frame.access]}`
    const ws = new WebSocket(`${this.url}/${encodeURIComponent(frame.doc)}${query}`)
    ws.on('error', () => undefined)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws))
      ws.once('unexpected-response', () => reject(new Error('upgrade refused')))
      ws.once('close', () => reject(new Error('closed before open')))
    })
  }
}

/**
 * An honest writer that behaves like the SDK: when the relay closes its socket (a fuzz frame
 * that broke the room makes the relay drop it from memory and close its peers, ERR_DOC_BROKEN),
 * it reconnects and resends its whole state, so what it wrote is acknowledged on the new
 * connection. Writes made while disconnected are in its document and go with that resend.
 */
class HonestWriter {
  readonly doc = new Y.Doc()
  reconnects = 0
  private client: RawClient | null = null
  /** Messages this connection sent that the relay acknowledges (the step-2 reply is the first). */
  private messages = 0

  constructor(private readonly url: string, readonly docName: string, private readonly token: string) {}

  async connect(): Promise<void> {
    const client = await RawClient.connect(this.url, this.docName, { query: { token: this.token } })
    await client.next('sync-step1') // answered by the raw client: update-bearing message 1
    this.client = client
    // What it receives from the relay is its view of the document too.
    client.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === 'remote') Y.applyUpdate(this.doc, update, 'remote')
    })
    // Its whole state (a no-op where the relay has it), then a step 1 for what it missed meanwhile.
    this.send(client, Y.encodeStateAsUpdate(this.doc))
    client.send({ type: 'sync-step1', stateVector: Y.encodeStateVector(this.doc) })
    this.messages = 2
  }

  edit(key: string, value: number): void {
    const before = Y.encodeStateVector(this.doc)
    this.doc.getMap('honest').set(key, value)
    const client = this.client
    if (client === null || client.closeEvent !== null) return
    this.send(client, Y.encodeStateAsUpdate(this.doc, before))
    this.messages++
  }

  private send(client: RawClient, update: Uint8Array): void {
    client.send({ type: 'sync-update', update })
    Y.applyUpdate(client.doc, update, 'own')
  }

  /** Resolves once everything it wrote is acknowledged, reconnecting (a bounded number of times) when closed. */
  async settle(timeoutMs: number): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const client = this.client
      if (client !== null && client.closeEvent === null) {
        const upTo = this.messages
        const acked = await client.next('ack', (m) => m.upTo >= upTo, timeoutMs).then(() => true, (err: unknown) => {
          if (client.closeEvent === null) throw err
          return false
        })
        if (acked) return
      }
      this.reconnects++
      await this.connect()
    }
    throw new Error(`${this.docName}: writer still not acknowledged after 10 reconnects`)
  }

  /** Resolves once the key is in this writer's view of the document (from the relay). */
  async sees(key: string, timeoutMs: number): Promise<void> {
    const map = this.doc.getMap('honest')
    if (map.get(key) !== undefined) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.doc.off('update', check)
        reject(new Error(`${this.docName}: ${key} not received within ${timeoutMs} ms`))
      }, timeoutMs)
      const check = (): void => {
        if (map.get(key) === undefined) return
        clearTimeout(timer)
        this.doc.off('update', check)
        resolve()
      }
      this.doc.on('update', check)
    })
  }

  /** Cuts its connection (as a network failure would); the next settle() reconnects. */
  async drop(): Promise<void> {
    const client = this.client
    if (client === null || client.closeEvent !== null) return
    client.socket.terminate()
    await client.closed()
  }

  close(): Promise<unknown> {
    return this.client?.close() ?? Promise.resolve()
  }
}

describe('relay fuzz', () => {
  it('survives the corpus and thousands of random frames; honest clients sync; every acknowledged update survives kill -9', async () => {
    const seed = parseSeed(process.env.MERIDIAN_SEED)
    // On tmpfs when there is one: SQLite fsyncs every append on the event loop, and on a slow CI
    // disk that, not the frames, would set the pace. A kill -9 of the process keeps tmpfs intact.
    const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'meridian-fuzz-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const args = ['--data-dir', dir, '--auth', 'jwt', '--jwt-secret', SECRET, '--admin-token', 'fuzz-admin-token-123']
    const start = async (): Promise<RelayProcess> => {
      const p = await startRelayProcess(args)
      cleanups.push(() => (p.child.exitCode === null && p.child.signalCode === null ? p.kill('SIGKILL') : undefined))
      return p
    }
    const relay = await start()
    const writeToken = await mintToken({ secret: SECRET, docs: [{ pattern: 'fuzz/**', access: 'write' }], ttlSeconds: 600 })
    const readToken = await mintToken({ secret: SECRET, docs: [{ pattern: 'fuzz/**', access: 'read' }], ttlSeconds: 600 })

    // Honest writers: two per document; writer w writes key w-n as its n-th edit.
    const writers = HONEST_DOCS.flatMap((doc) => [0, 1].map(() => new HonestWriter(relay.url, doc, writeToken)))
    await Promise.all(writers.map((w) => w.connect()))
    cleanups.push(() => Promise.all(writers.map((w) => w.close())))
    const sent = writers.map(() => 0)
    const honestEdit = (wi: number): void => {
      writers[wi]!.edit(`w${wi}-${sent[wi]}`, sent[wi]!)
      sent[wi]!++
    }

    const lanes = Array.from({ length: LANES }, () => new Lane(relay.url, { write: writeToken, read: readToken }))
    cleanups.push(() => lanes.forEach((l) => l.close()))
    try {
      // The corpus first, each frame on a fresh connection to a document honest clients use.
      const corpus = loadCorpus()
      expect(corpus.length).toBeGreaterThan(10)
      for (const entry of corpus) {
        const lane = new Lane(relay.url, { write: writeToken, read: readToken })
        await lane.send({ data: entry.data, doc: 'fuzz/a', access: 'write' })
        lane.close()
      }

      const frames = fc.sample(frameArbitrary(updatePool(seed), writeToken), { numRuns: FRAMES, seed })
      const perLane = Math.ceil(frames.length / LANES)
      await Promise.all(lanes.map(async (lane, li) => {
        for (let i = li * perLane; i < Math.min(frames.length, (li + 1) * perLane); i++) {
          await lane.send(frames[i]!).catch(() => undefined)
          if (li === 0 && i % 60 === 0) writers.forEach((_, wi) => honestEdit(wi))
        }
      }))
      // One writer also loses its connection before its last edit: that edit goes with its resend.
      await writers[0]!.drop()
      for (let wi = 0; wi < writers.length; wi++) honestEdit(wi)

      // The process is up, and every honest write was acknowledged and reached the other writer.
      expect(relay.child.exitCode, `seed ${seed}`).toBeNull()
      await Promise.all(writers.map((w) => w.settle(15_000)))
      for (let wi = 0; wi < writers.length; wi++) {
        const peer = writers[wi % 2 === 0 ? wi + 1 : wi - 1]!
        await peer.sees(`w${wi}-${sent[wi]! - 1}`, 15_000)
      }
      // A reconnect is what the SDK does after ERR_DOC_BROKEN; it must stay the exception.
      expect(writers.reduce((n, w) => n + w.reconnects, 0), `seed ${seed}`).toBeLessThanOrEqual(1 + writers.length * 3)
      expect(writers[0]!.reconnects, `seed ${seed}`).toBeGreaterThanOrEqual(1)
      const metrics = await fetch(`${relay.url.replace('ws://', 'http://')}/metrics`).then((r) => r.text())
      const rejected = [...metrics.matchAll(/^meridian_relay_rejected_messages_total\{reason="([a-z_]+)"\} (\d+)/gm)]
      // The frames really reached the relay's checks: many refusals, of many kinds, each on its own connection.
      const refusals = rejected.reduce((n, r) => n + Number(r[2]), 0)
      expect(rejected.length, `seed ${seed}`).toBeGreaterThanOrEqual(5)
      expect(refusals, `seed ${seed}`).toBeGreaterThan(FRAMES / 3)
      expect(lanes.reduce((n, l) => n + l.opened, 0)).toBeGreaterThan(FRAMES / 3)

      // kill -9, restart on the same data: every document loads, with every acknowledged honest write.
      await relay.kill('SIGKILL')
      const again = await start()
      for (const doc of [...DOCS, ...HONEST_DOCS]) {
        const reader = await RawClient.connect(again.url, doc, { query: { token: readToken } })
        reader.send({ type: 'sync-step1', stateVector: new Uint8Array([0]) })
        await reader.next('sync-step2', () => true, 10_000)
        expect(reader.closeEvent, `seed ${seed}: ${doc} must load`).toBeNull()
        if (HONEST_DOCS.includes(doc)) {
          const missing: string[] = []
          writers.forEach((w, wi) => {
            if (w.docName !== doc) return
            for (let n = 0; n < sent[wi]!; n++) if (reader.doc.getMap('honest').get(`w${wi}-${n}`) !== n) missing.push(`w${wi}-${n}`)
          })
          expect(missing, `seed ${seed}`).toEqual([])
        }
        await reader.close()
      }
    } catch (err) {
      throw new Error(`relay fuzz failed with seed ${seed} (replay: MERIDIAN_SEED=${seed}): ${(err as Error).message}`, { cause: err })
    }
    // CPU-bound (thousands of frames, each update decoded and checked before it is applied): 60 s is
    // not enough on a loaded 2-core machine.
  }, 240_000)
})
