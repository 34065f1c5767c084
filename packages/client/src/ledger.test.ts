import { describe, expect, it } from 'vitest'
import { Ledger, type DurabilityLevel } from './ledger.js'
import { manualClock } from './test-clock.test-helper.js'
import { Waiters } from './waiters.js'

const update = (n: number): Uint8Array => new Uint8Array(n)

/** A ledger with three new writes (seqs 1, 2, 3, 10/20/30 bytes). */
function threeWrites(): { ledger: Ledger; writes: Uint8Array[]; clock: ReturnType<typeof manualClock> } {
  const clock = manualClock()
  const ledger = new Ledger(new Waiters(clock))
  const writes = [update(10), update(20), update(30)]
  writes.forEach((w, i) => ledger.add(w, 1_000 + i))
  return { ledger, writes, clock }
}

type Step =
  | { local: number; ok?: boolean }
  | { ack: number }
  | { replicated: number; through: number }
  | { hold: number }
  | { release: number; coveredBy: number }

function apply(ledger: Ledger, steps: readonly Step[]): void {
  for (const s of steps) {
    if ('local' in s) ledger.markLocal(s.local, s.ok ?? true)
    else if ('ack' in s) ledger.acknowledge(s.ack)
    else if ('replicated' in s) ledger.markReplicated(s.replicated, s.through)
    else if ('hold' in s) ledger.hold(s.hold)
    else ledger.release(s.release, s.coveredBy)
  }
}

describe('Ledger', () => {
  it.each<{ name: string; steps: Step[]; levels: (DurabilityLevel | 'pending')[]; all: DurabilityLevel | 'pending'; pending: number; bytes: number }>([
    { name: 'nothing happened yet', steps: [], levels: ['pending', 'pending', 'pending'], all: 'pending', pending: 3, bytes: 60 },
    { name: 'stored locally in order', steps: [{ local: 1 }, { local: 2 }], levels: ['local', 'local', 'pending'], all: 'pending', pending: 3, bytes: 60 },
    { name: 'a failed local write', steps: [{ local: 1 }, { local: 2, ok: false }], levels: ['local', 'pending', 'pending'], all: 'pending', pending: 3, bytes: 60 },
    { name: 'acknowledged implies local', steps: [{ ack: 2 }], levels: ['relay', 'relay', 'pending'], all: 'pending', pending: 1, bytes: 30 },
    { name: 'everything acknowledged', steps: [{ local: 3 }, { ack: 3 }], levels: ['relay', 'relay', 'relay'], all: 'relay', pending: 0, bytes: 0 },
    { name: 'replicated in two regions up to 1, one region up to 2', steps: [{ ack: 3 }, { replicated: 2, through: 1 }, { replicated: 1, through: 2 }], levels: [{ replicated: 2 }, { replicated: 1 }, 'relay'], all: 'relay', pending: 0, bytes: 0 },
    { name: 'a withheld write is not acknowledged by a later ack', steps: [{ hold: 2 }, { ack: 3 }], levels: ['relay', 'local', 'relay'], all: 'local', pending: 1, bytes: 20 },
    { name: 'a released write waits for the update that carries it', steps: [{ hold: 2 }, { ack: 3 }, { release: 2, coveredBy: 4 }], levels: ['relay', 'local', 'relay'], all: 'local', pending: 1, bytes: 20 }
  ])('$name', ({ steps, levels, all, pending, bytes }) => {
    const { ledger, writes } = threeWrites()
    apply(ledger, steps)
    expect(writes.map((w) => ledger.levelOf(w))).toEqual(levels)
    expect(ledger.levelOf('all')).toEqual(all)
    expect([ledger.size, ledger.byteLength, ledger.highWaterMark]).toEqual([pending, bytes, 3])
  })

  it('restored writes are local at once and keep their store key', () => {
    const clock = manualClock()
    const ledger = new Ledger(new Waiters(clock))
    const entry = ledger.add(update(5), clock.now(), { key: 42 })
    expect([entry.seq, entry.key, ledger.levelOf('all')]).toEqual([1, 42, 'local'])
    expect(ledger.levelOf(update(5))).toBe('pending') // not a write of this session: unknown
  })

  it('whenDurable resolves as the watermark passes, rejects a failed local write, and times out on the clock', async () => {
    const { ledger, writes, clock } = threeWrites()
    const relay = ledger.whenDurable(writes[1] as Uint8Array, 'relay')
    const failed = ledger.whenDurable(writes[2] as Uint8Array, 'local')
    const late = ledger.whenDurable('all', { replicated: 1 }, 500)
    ledger.markLocal(3, false)
    ledger.acknowledge(2)
    await expect(relay).resolves.toBeUndefined()
    await expect(failed).rejects.toMatchObject({ code: 'ERR_PERSISTENCE' })
    clock.advance(500)
    await expect(late).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
    await expect(ledger.whenDurable(update(1), 'local')).rejects.toMatchObject({ code: 'ERR_OPTIONS' })
  })

  it('acknowledge returns the entries it removed, marked acked, oldest first', () => {
    const { ledger } = threeWrites()
    ledger.hold(1)
    const done = ledger.acknowledge(3)
    expect(done.map((e) => [e.seq, e.acked])).toEqual([[2, true], [3, true]])
    expect(ledger.unacknowledged().map((e) => e.seq)).toEqual([1])
    expect(ledger.oldest()?.atMs).toBe(1_000)
  })
})
