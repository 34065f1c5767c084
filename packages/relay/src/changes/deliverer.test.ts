import { afterEach, describe, expect, it } from 'vitest'
import { createHmac } from 'node:crypto'
import { pino } from 'pino'
import { MemoryStorageAdapter } from '@meridian/storage'
import type { Clock } from '@meridian/base'
import { ChangeFeed } from './feed.js'
import { WebhookDeliverer, type DeliveryOutcome } from './deliverer.js'
import { backoffDelayMs, resolveWebhooks, type WebhookOptions } from './webhook-options.js'

/** A manual clock (timers and intervals) whose `advance` also lets promises settle between timers. */
function manualClock(): Clock & { advance(ms: number): Promise<void> } {
  let now = 0
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void; every: number | null }>()
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
  }
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.set(++seq, { at: now + ms, fn, every: null })
      return seq
    },
    clearTimeout: (t) => void timers.delete(t as number),
    setInterval: (fn, ms) => {
      timers.set(++seq, { at: now + ms, fn, every: ms })
      return seq
    },
    clearInterval: (t) => void timers.delete(t as number),
    async advance(ms: number) {
      const end = now + ms
      await settle()
      for (let guard = 0; guard < 100_000; guard++) {
        const next = [...timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0]
        if (next === undefined) break
        const [id, t] = next
        if (t.every === null) timers.delete(id)
        else t.at += t.every
        now = t.at - (t.every ?? 0)
        t.fn()
        await settle()
      }
      now = end
    }
  }
}

interface Received { atMs: number; body: { doc: string; from: number; to: number; changes: { kind: string; seq: number }[] }; headers: Record<string, string> }

const SECRET = 'deliverer-test-secret'

function setup(options: Partial<WebhookOptions> = {}, shared?: { storage: MemoryStorageAdapter; clock: ReturnType<typeof manualClock> }) {
  const storage = shared?.storage ?? new MemoryStorageAdapter()
  const clock = shared?.clock ?? manualClock()
  const received: Received[] = []
  const outcomes: DeliveryOutcome[] = []
  let answer: () => number = () => 200
  const { webhooks, pollIntervalMs, leaseTtlMs } = resolveWebhooks([{ url: 'http://127.0.0.1:9/hook', secret: SECRET, id: 'w1', debounceMs: 100, initialBackoffMs: 1000, maxBackoffMs: 8000, maxAttempts: 4, timeoutMs: 1000, ...options }], { pollIntervalMs: 50, leaseTtlMs: 60_000 })
  const deliverer = new WebhookDeliverer({
    webhook: webhooks[0] as NonNullable<(typeof webhooks)[0]>,
    storage,
    feed: new ChangeFeed({ storage, clock, pollIntervalMs }),
    clock,
    random: () => 1,
    logger: pino({ level: 'silent' }),
    nodeId: 'n1',
    region: 'eu',
    pollIntervalMs,
    leaseTtlMs,
    post: async (_url, body, headers) => {
      received.push({ atMs: clock.now(), body: JSON.parse(body) as Received['body'], headers })
      return answer()
    },
    onOutcome: (o) => outcomes.push(o.outcome)
  })
  return { storage, clock, deliverer, received, outcomes, answer: (fn: () => number) => (answer = fn) }
}

describe('webhook deliverer (manual clock)', () => {
  const stops: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop()
  })

  it('debounces a burst of changes to one document into one signed delivery', async () => {
    const t = setup()
    stops.push(() => t.deliverer.stop())
    await t.deliverer.start()
    for (const b of [1, 2, 3]) await t.storage.append('doc', new Uint8Array([b]))
    // The relay's own documents never go out, whatever the globs.
    await t.storage.append('_meridian/revocations', new Uint8Array([9]))
    await t.clock.advance(50) // the poll reads the log and schedules the document
    expect(t.received).toEqual([])
    await t.clock.advance(100) // the debounce window ends
    expect(t.received.map((r) => [r.body.doc, r.body.from, r.body.to, r.body.changes.map((c) => c.seq)])).toEqual([['doc', 0, 3, [1, 2, 3]]])
    const r = t.received[0] as Received
    const expected = createHmac('sha256', SECRET).update(`${r.headers['meridian-timestamp']}.${JSON.stringify(r.body)}`).digest('hex')
    expect(r.headers['meridian-signature']).toBe(`v1=${expected}`)
    expect(t.outcomes).toEqual(['delivered'])
    // The cursor is stored: nothing more to send until the next change.
    expect(JSON.parse((await t.storage.loadCursors('webhook:w1'))['doc:doc'] ?? '{}')).toMatchObject({ delivered: 3, pending: false })
  })

  it('retries with exponential backoff on the clock, then dead-letters; a retry of the dead letter delivers', async () => {
    const t = setup()
    stops.push(() => t.deliverer.stop())
    t.answer(() => 503)
    await t.deliverer.start()
    await t.storage.append('doc', new Uint8Array([1]))
    await t.clock.advance(60_000)
    // First attempt after poll + debounce, then 1 s, 2 s, 4 s later; the 4th failure dead-letters.
    const times = t.received.map((r) => r.atMs)
    expect(times.slice(1).map((at, i) => at - (times[i] as number))).toEqual([1000, 2000, 4000])
    expect(t.outcomes).toEqual(['failed', 'failed', 'failed', 'dead_lettered'])
    expect(t.deliverer.deadLetters()).toMatchObject([{ doc: 'doc', fromSeq: 0, attempts: 4 }])
    // Later changes wait behind the dead letter, in order.
    await t.storage.append('doc', new Uint8Array([2]))
    await t.clock.advance(10_000)
    expect(t.received.length).toBe(4)
    t.answer(() => 204)
    expect(await t.deliverer.retryDeadLetters()).toBe(1)
    await t.clock.advance(10)
    expect(t.received.at(-1)?.body).toMatchObject({ from: 0, to: 2 })
    expect(t.deliverer.deadLetters()).toEqual([])
  })

  it('with the defaults, the retry budget outlasts a receiver down for an hour, even with the shortest jitter', () => {
    const { webhooks } = resolveWebhooks([{ url: 'http://127.0.0.1:9/hook', secret: SECRET }])
    const w = webhooks[0] as NonNullable<(typeof webhooks)[0]>
    let total = 0
    for (let attempt = 1; attempt < w.maxAttempts; attempt++) total += backoffDelayMs(attempt, w, () => 0)
    expect(total).toBeGreaterThan(3_600_000)
  })

  it('caps the backoff and spreads retries with jitter', () => {
    const w = { initialBackoffMs: 1000, maxBackoffMs: 8000 }
    expect([1, 2, 3, 4, 5, 9].map((a) => backoffDelayMs(a, w, () => 1))).toEqual([1000, 2000, 4000, 8000, 8000, 8000])
    expect(backoffDelayMs(3, w, () => 0)).toBe(2000)
  })

  it('a new deliverer resumes from the stored cursors: nothing sent twice once acknowledged, nothing lost', async () => {
    const first = setup()
    await first.deliverer.start()
    await first.storage.append('a', new Uint8Array([1]))
    await first.clock.advance(500)
    expect(first.received.length).toBe(1)
    await first.deliverer.stop()
    await first.storage.append('a', new Uint8Array([2]))
    await first.storage.append('b', new Uint8Array([3]))
    const second = setup({}, { storage: first.storage, clock: first.clock })
    stops.push(() => second.deliverer.stop())
    await second.deliverer.start()
    await second.clock.advance(500)
    expect(second.received.map((r) => [r.body.doc, r.body.from, r.body.to]).sort()).toEqual([['a', 1, 2], ['b', 0, 1]])
  })

  it('two deliverers on one storage: one holds the lease and delivers, the other takes over when it stops', async () => {
    const a = setup()
    const b = setup({}, { storage: a.storage, clock: a.clock })
    stops.push(() => b.deliverer.stop())
    await a.deliverer.start()
    await b.deliverer.start()
    expect([a.deliverer.isLeader, b.deliverer.isLeader]).toEqual([true, false])
    await a.storage.append('x', new Uint8Array([1]))
    await a.clock.advance(500)
    expect([a.received.length, b.received.length]).toEqual([1, 0])
    await a.deliverer.stop()
    await a.storage.append('x', new Uint8Array([2]))
    await a.clock.advance(20_000) // the next lease check (a third of the lease) finds it free
    expect(b.deliverer.isLeader).toBe(true)
    expect(b.received.map((r) => [r.body.from, r.body.to])).toEqual([[1, 2]])
  })
})
