import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import {
  DEFAULT_REDIS_BUS_OPTIONS,
  MemoryBusHub,
  openRedisBus,
  isBusError,
  redactRedisUrl,
  splitPrefixParam,
  type BusResyncEvent,
  type ReceivedBusMessage,
  type RelayBus,
  type RedisBus
} from './index.js'
import { checkRedis, deleteKeys, freshKeyPrefix, requireServices } from '../../../test/helpers/services.js'
import { startTcpProxy, waitUntil, type TcpProxy } from '@meridian/testing'

/** What the contract suite needs from an implementation. */
interface BusFixture {
  /** A bus for a new relay. */
  bus(nodeId: string): Promise<RelayBus>
  /** Cuts (false) or restores (true) one bus's connection. */
  setOnline(bus: RelayBus, online: boolean): Promise<void>
  cleanup(): Promise<void>
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values)

function recorder(bus: RelayBus): { messages: ReceivedBusMessage[]; resyncs: BusResyncEvent[] } {
  const resyncs: BusResyncEvent[] = []
  bus.on('resync', (e) => resyncs.push(e))
  return { messages: [], resyncs }
}

async function collect(bus: RelayBus, docName: string, into: ReceivedBusMessage[]): Promise<() => Promise<void>> {
  return bus.subscribe(docName, (m) => into.push(m))
}

function runBusContract(name: string, open: () => Promise<BusFixture>): void {
  describe(`${name} — bus contract`, () => {
    let fixture: BusFixture | undefined
    const setup = async (): Promise<BusFixture> => (fixture = await open())
    afterEach(async () => {
      await fixture?.cleanup()
      fixture = undefined
    })

    it('delivers other relays’ updates and awareness with their origin and exact bytes, never a relay’s own', async () => {
      const f = await setup()
      const [a, b, c] = [await f.bus('a'), await f.bus('b'), await f.bus('c')]
      const got = { a: [] as ReceivedBusMessage[], b: [] as ReceivedBusMessage[], c: [] as ReceivedBusMessage[] }
      await collect(a, 'doc', got.a)
      await collect(b, 'doc', got.b)
      await collect(c, 'doc', got.c)
      const big = Uint8Array.from({ length: 256 * 1024 }, (_, i) => (i * 31) % 256)
      await a.publish('doc', { kind: 'update', data: bytes(0, 255, 1) })
      await a.publish('doc', { kind: 'awareness', data: bytes(7) })
      await b.publish('doc', { kind: 'update', data: big })
      await b.publish('doc', { kind: 'update', data: new Uint8Array(0) })
      await waitUntil(() => got.c.length === 4 && got.a.length === 2 && got.b.length === 2, 'deliveries')
      expect(got.c.map((m) => [m.origin, m.kind, m.data.byteLength])).toEqual([
        ['a', 'update', 3],
        ['a', 'awareness', 1],
        ['b', 'update', big.byteLength],
        ['b', 'update', 0]
      ])
      expect(got.c[0]?.data).toEqual(bytes(0, 255, 1))
      expect(Buffer.from(got.c[2]?.data ?? []).equals(Buffer.from(big))).toBe(true)
      expect(Object.getPrototypeOf(got.c[0]?.data)).toBe(Uint8Array.prototype)
      expect(got.a.every((m) => m.origin === 'b')).toBe(true)
      expect(got.b.every((m) => m.origin === 'a')).toBe(true)
    })

    it('keeps documents apart, delivers one publisher’s messages in order, and one bus reads many documents', async () => {
      const f = await setup()
      const [a, b] = [await f.bus('a'), await f.bus('b')]
      const got = new Map<string, ReceivedBusMessage[]>()
      for (let d = 0; d < 20; d++) {
        const list: ReceivedBusMessage[] = []
        got.set(`doc-${d}`, list)
        await collect(b, `doc-${d}`, list)
      }
      const other: ReceivedBusMessage[] = []
      await collect(b, 'not-published', other)
      for (let i = 0; i < 50; i++) {
        for (let d = 0; d < 20; d++) void a.publish(`doc-${d}`, { kind: 'update', data: bytes(d, i) })
      }
      await waitUntil(() => [...got.values()].every((l) => l.length === 50), 'every document’s 50 updates', 15_000)
      for (const [docName, list] of got) {
        const d = Number(docName.slice(4))
        expect(list.map((m) => [...m.data])).toEqual(Array.from({ length: 50 }, (_, i) => [d, i]))
      }
      expect(other).toEqual([])
    })

    it('delivers only what is published after subscribe; unsubscribe stops delivery; several handlers per document', async () => {
      const f = await setup()
      const [a, b] = [await f.bus('a'), await f.bus('b')]
      await collect(b, 'warm', []) // the reader is running
      await a.publish('doc', { kind: 'update', data: bytes(1) })
      await new Promise((r) => setTimeout(r, 50))
      const first: ReceivedBusMessage[] = []
      const second: ReceivedBusMessage[] = []
      const unsubFirst = await collect(b, 'doc', first)
      await collect(b, 'doc', second)
      await a.publish('doc', { kind: 'update', data: bytes(2) })
      await waitUntil(() => first.length === 1 && second.length === 1, 'both handlers')
      expect(first[0]?.data).toEqual(bytes(2))
      await unsubFirst()
      await a.publish('doc', { kind: 'update', data: bytes(3) })
      await waitUntil(() => second.length === 2, 'remaining handler')
      expect(first.length).toBe(1)
    })

    it('rejects bad arguments (ERR_BUS_INVALID_ARGUMENT) and calls after close (ERR_BUS_CLOSED); close is idempotent', async () => {
      const f = await setup()
      const a = await f.bus('a')
      const outcome = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => e)
      for (const bad of [
        () => a.publish('', { kind: 'update', data: bytes(1) }),
        () => a.publish('doc', { kind: 'nope' as 'update', data: bytes(1) }),
        () => a.publish('doc', { kind: 'update', data: [1] as unknown as Uint8Array }),
        () => a.subscribe('doc', 'nope' as unknown as () => void)
      ]) {
        expect(isBusError(await outcome(bad()), 'ERR_BUS_INVALID_ARGUMENT')).toBe(true)
      }
      await a.close()
      expect(a.status).toBe('closed')
      expect(isBusError(await outcome(a.publish('doc', { kind: 'update', data: bytes(1) })), 'ERR_BUS_CLOSED')).toBe(true)
      expect(isBusError(await outcome(a.subscribe('doc', () => undefined)), 'ERR_BUS_CLOSED')).toBe(true)
      await expect(a.close()).resolves.toBeUndefined()
    })

    it('after an outage nothing is missed silently: the cut relay resyncs, and its failed publishes are announced', async () => {
      const f = await setup()
      const [a, b] = [await f.bus('a'), await f.bus('b')]
      const ra = recorder(a)
      const rb = recorder(b)
      const gotA: ReceivedBusMessage[] = []
      const gotB: ReceivedBusMessage[] = []
      await collect(a, 'doc', gotA)
      await collect(b, 'doc', gotB)
      await a.publish('doc', { kind: 'update', data: bytes(1) })
      await waitUntil(() => gotB.length === 1, 'first delivery')

      const statuses: string[] = []
      b.on('status', (s) => statuses.push(s))
      await f.setOnline(b, false)
      await waitUntil(() => b.status === 'reconnecting', 'b notices the outage')
      const failed = await b.publish('doc', { kind: 'update', data: bytes(9) }).then(() => null, (e: unknown) => e)
      expect(isBusError(failed, 'ERR_BUS_UNAVAILABLE')).toBe(true)
      await a.publish('doc', { kind: 'update', data: bytes(2) }) // b cannot receive this one

      await f.setOnline(b, true)
      await waitUntil(() => rb.resyncs.some((e) => e.reason === 'reconnected' && e.docNames.includes('doc')), 'b resyncs after reconnecting')
      await waitUntil(() => ra.resyncs.some((e) => e.reason === 'peer-publish-failed' && e.docNames.includes('doc')), 'a hears of b’s failed publish')
      expect(statuses).toContain('ready')
      // Live delivery resumes both ways.
      await a.publish('doc', { kind: 'update', data: bytes(3) })
      await b.publish('doc', { kind: 'update', data: bytes(4) })
      await waitUntil(() => gotB.some((m) => m.data[0] === 3) && gotA.some((m) => m.data[0] === 4), 'delivery after recovery')
    })
  })
}

runBusContract('MemoryBus', async () => {
  const hub = new MemoryBusHub()
  const buses: RelayBus[] = []
  return {
    bus: async (nodeId) => {
      const bus = hub.bus(nodeId)
      buses.push(bus)
      return bus
    },
    setOnline: async (bus, online) => hub.setOnline(bus as ReturnType<MemoryBusHub['bus']>, online),
    cleanup: async () => {
      for (const bus of buses) await bus.close()
    }
  }
})

const services = await requireServices('@meridian/bus-redis', { redis: checkRedis() })
const redisUrl = services?.redis

if (redisUrl === undefined) {
  describe('RedisBus', () => {
    it.skip('needs Redis at 127.0.0.1:6379 (reason printed above)', () => undefined)
  })
} else {
  const target = new URL(redisUrl)
  /** Every bus goes through its own proxy, so a test can cut one relay's connection and nothing else. */
  const openFixture = async (options: Partial<Parameters<typeof openRedisBus>[0]> = {}) => {
    const prefix = freshKeyPrefix()
    const buses: { bus: RedisBus; proxy: TcpProxy }[] = []
    return {
      prefix,
      buses,
      bus: async (nodeId: string): Promise<RedisBus> => {
        const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
        const bus = openRedisBus({ url: proxy.url('redis'), nodeId, keyPrefix: prefix, reconnectMaxDelayMs: 100, ...options })
        buses.push({ bus, proxy })
        await bus.whenReady(5_000)
        return bus
      },
      setOnline: async (bus: RelayBus, online: boolean) => {
        buses.find((b) => b.bus === bus)?.proxy.setOnline(online)
      },
      cleanup: async () => {
        for (const { bus, proxy } of buses) {
          await bus.close()
          await proxy.close()
        }
        await deleteKeys(redisUrl, prefix)
      }
    }
  }

  runBusContract('RedisBus', () => openFixture())

  describe('RedisBus specifics', () => {
    const cleanups: (() => Promise<unknown>)[] = []
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c()
    })
    const fixture = async (options: Partial<Parameters<typeof openRedisBus>[0]> = {}) => {
      const f = await openFixture(options)
      cleanups.push(f.cleanup)
      return f
    }
    const raw = (): Redis => {
      const client = new Redis(redisUrl)
      cleanups.push(async () => client.disconnect())
      return client
    }

    it('options: defaults, ?prefix= in the URL, validation, redaction', async () => {
      expect(DEFAULT_REDIS_BUS_OPTIONS).toEqual({
        keyPrefix: 'meridian:',
        streamMaxLen: 1000,
        streamTtlMs: 3_600_000,
        blockMs: 5_000,
        readBatch: 500,
        reconnectMaxDelayMs: 2_000,
        connectTimeoutMs: 10_000
      })
      expect(splitPrefixParam('redis://h:6379/0?prefix=eu:&x=1')).toEqual({ url: 'redis://h:6379/0?x=1', prefix: 'eu:' })
      expect(redactRedisUrl('redis://:pw@h:6379')).toBe('redis://:***@h:6379')
      const prefix = freshKeyPrefix()
      const bus = openRedisBus({ url: `${redisUrl}?prefix=${encodeURIComponent(prefix)}`, nodeId: 'n' })
      cleanups.push(() => bus.close())
      expect(bus.keyPrefix).toBe(prefix)
      for (const bad of [{ url: 'http://x', nodeId: 'n' }, { url: redisUrl, nodeId: '' }, { url: redisUrl, nodeId: 'n', streamMaxLen: 0 }]) {
        expect(() => openRedisBus(bad)).toThrow(expect.objectContaining({ code: 'ERR_BUS_INVALID_ARGUMENT' }))
      }
    })

    it('writes one stream per document with origin, epoch, number, kind and data; caps it and sets a TTL', async () => {
      const f = await fixture({ streamMaxLen: 100, streamTtlMs: 60_000 })
      const a = await f.bus('relay-a')
      for (let i = 0; i < 1000; i++) void a.publish('doc/1', { kind: 'update', data: bytes(i % 256) })
      await a.publish('doc/1', { kind: 'awareness', data: bytes(42) })
      const redis = raw()
      const key = `${f.prefix}doc:doc/1`
      const length = await redis.xlen(key)
      expect(length).toBeGreaterThan(0)
      expect(length).toBeLessThan(300) // MAXLEN ~ 100 trims in whole macro-nodes
      expect(await redis.pttl(key)).toBeGreaterThan(50_000)
      const [last] = await redis.xrevrangeBuffer(key, '+', '-', 'COUNT', 2)
      const fields = (last?.[1] ?? []).map((b, i) => (i % 2 === 0 ? String(b) : b))
      expect(fields.filter((_, i) => i % 2 === 0)).toEqual(['o', 'i', 'n', 'k', 'd'])
      expect(String(fields[1])).toBe('relay-a')
      expect(String(fields[7])).toBe('awareness')
      const [, before] = await redis.xrevrange(key, '+', '-', 'COUNT', 2)
      expect(before?.[1][5]).toBe('1000') // the 1000th update of this publisher epoch
    })

    it('a new subscription interrupts the blocking read at once', async () => {
      const f = await fixture({ blockMs: 20_000 })
      const [a, b] = [await f.bus('a'), await f.bus('b')]
      await collect(b, 'first', [])
      await new Promise((r) => setTimeout(r, 100)) // b is now blocked on 'first' only
      const got: ReceivedBusMessage[] = []
      await collect(b, 'second', got)
      const started = Date.now()
      await a.publish('second', { kind: 'update', data: bytes(1) })
      await waitUntil(() => got.length === 1, 'delivery on the new subscription', 3_000)
      expect(Date.now() - started).toBeLessThan(3_000)
    })

    it('detects entries trimmed before they were read (a gap in a publisher’s numbers) and announced resyncs', async () => {
      const f = await fixture()
      const b = await f.bus('b')
      const events = recorder(b)
      const got: ReceivedBusMessage[] = []
      await collect(b, 'doc', got)
      const redis = raw()
      const key = `${f.prefix}doc:doc`
      const entry = (n: number, kind = 'update') => redis.xadd(key, '*', 'o', 'x', 'i', 'someone.1', 'n', n, 'k', kind, 'd', 'z')
      await entry(1)
      await entry(2)
      await entry(4) // 3 was trimmed unread
      await waitUntil(() => got.length === 3, 'three updates')
      await waitUntil(() => events.resyncs.some((e) => e.reason === 'gap'), 'gap resync')
      expect(events.resyncs).toEqual([{ docNames: ['doc'], reason: 'gap' }])
      await entry(0, 'resync')
      await waitUntil(() => events.resyncs.length === 2, 'announced resync')
      expect(events.resyncs[1]).toEqual({ docNames: ['doc'], reason: 'peer-publish-failed' })
      // Malformed entries are reported and skipped; the loop goes on.
      const errors: Error[] = []
      b.on('error', (e) => errors.push(e))
      await redis.xadd(key, '*', 'garbage', '1')
      await entry(5)
      await waitUntil(() => got.length === 4 && errors.length === 1, 'skip malformed, deliver next')
    })

    it('recovers when its reading connection is killed: resync, then live delivery again', async () => {
      const f = await fixture()
      const [a, b] = [await f.bus('a'), await f.bus('b')]
      const events = recorder(b)
      const got: ReceivedBusMessage[] = []
      await collect(b, 'doc', got)
      const redis = raw()
      const clients = String(await redis.client('LIST'))
      const id = /id=(\d+) .*name=meridian-bus:b:read/.exec(clients)?.[1]
      expect(id).toBeDefined()
      expect(events.resyncs).toEqual([]) // a fresh subscription on a ready bus needs none
      await redis.client('KILL', 'ID', id as string)
      await waitUntil(() => events.resyncs.some((e) => e.reason === 'reconnected' && e.docNames.includes('doc')), 'resync after the reader reconnects')
      await a.publish('doc', { kind: 'update', data: bytes(5) })
      await waitUntil(() => got.length === 1, 'delivery after reconnect')
    })
  })
}
