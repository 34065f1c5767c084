import { describe, expect, it } from 'vitest'
import type { Clock } from '@meridian/base'
import { Deadlines, type Scheduled } from './deadlines.js'

/** A manual clock: timers run when `advance` passes them, in deadline order. */
function manualClock(): Clock & { advance(ms: number): void; pending(): number } {
  let now = 0
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++seq
      timers.set(id, { at: now + ms, fn })
      return id
    },
    clearTimeout: (t) => {
      timers.delete(t as number)
    },
    setInterval: () => {
      throw new Error('not used')
    },
    clearInterval: () => undefined,
    advance(ms: number) {
      const end = now + ms
      for (;;) {
        const next = [...timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0]
        if (next === undefined) break
        timers.delete(next[0])
        now = next[1].at
        next[1].fn()
      }
      now = end
    },
    pending: () => timers.size
  }
}

class Item implements Scheduled {
  deadlineIndex = -1
  deadlineAt = 0
  constructor(readonly name: string) {}
}

function setup(): { clock: ReturnType<typeof manualClock>; deadlines: Deadlines<Item>; fired: string[] } {
  const clock = manualClock()
  const fired: string[] = []
  const deadlines = new Deadlines<Item>(clock, (item) => fired.push(`${item.name}@${clock.now()}`))
  return { clock, deadlines, fired }
}

describe('Deadlines', () => {
  it('tells each item at its exact deadline, earliest first, with one clock timer', () => {
    const { clock, deadlines, fired } = setup()
    const items = ['c', 'a', 'e', 'b', 'd'].map((n) => new Item(n))
    const at: Record<string, number> = { a: 10, b: 20, c: 30, d: 40, e: 50 }
    for (const item of items) deadlines.set(item, at[item.name] ?? 0)
    expect(clock.pending()).toBe(1)
    clock.advance(9)
    expect(fired).toEqual([])
    clock.advance(1)
    expect(fired).toEqual(['a@10'])
    clock.advance(100)
    expect(fired).toEqual(['a@10', 'b@20', 'c@30', 'd@40', 'e@50'])
    expect(deadlines.size).toBe(0)
    expect(clock.pending()).toBe(0)
    for (const item of items) expect(item.deadlineIndex).toBe(-1)
  })

  it('moves a scheduled item earlier or later, and deletes it', () => {
    const { clock, deadlines, fired } = setup()
    const [a, b, c] = [new Item('a'), new Item('b'), new Item('c')]
    deadlines.set(a, 100)
    deadlines.set(b, 200)
    deadlines.set(c, 300)
    deadlines.set(c, 50)
    deadlines.set(a, 250)
    deadlines.delete(b)
    deadlines.delete(b)
    expect(deadlines.size).toBe(2)
    clock.advance(1000)
    expect(fired).toEqual(['c@50', 'a@250'])
  })

  it('lets a due item schedule itself again (a deadline that moved), and clears its timer when empty', () => {
    const clock = manualClock()
    const fired: number[] = []
    let again = true
    const deadlines = new Deadlines<Item>(clock, (item) => {
      fired.push(clock.now())
      if (again) {
        again = false
        deadlines.set(item, clock.now() + 30)
      }
    })
    const item = new Item('x')
    deadlines.set(item, 10)
    clock.advance(100)
    expect(fired).toEqual([10, 40])
    expect(clock.pending()).toBe(0)
    deadlines.set(item, 150)
    deadlines.delete(item)
    expect(clock.pending()).toBe(0)
    deadlines.set(item, 150)
    deadlines.stop()
    clock.advance(100)
    expect(fired).toEqual([10, 40])
    expect(item.deadlineIndex).toBe(-1)
  })

  it('keeps heap order through random inserts, moves and deletes', () => {
    const { clock, deadlines, fired } = setup()
    let seed = 7
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    }
    const items = Array.from({ length: 200 }, (_, i) => new Item(String(i)))
    const expected = new Map<Item, number>()
    for (let step = 0; step < 2000; step++) {
      const item = items[rand(items.length)] as Item
      if (rand(4) === 0) {
        deadlines.delete(item)
        expected.delete(item)
      } else {
        const at = 1 + rand(10_000)
        deadlines.set(item, at)
        expected.set(item, at)
      }
    }
    clock.advance(20_000)
    const want = [...expected].sort((x, y) => x[1] - y[1]).map(([item, at]) => ({ name: item.name, at }))
    const got = fired.map((f) => {
      const [name, at] = f.split('@')
      return { name: name ?? '', at: Number(at) }
    })
    expect(got.map((g) => g.at)).toEqual(want.map((w) => w.at))
    expect(new Set(got.map((g) => g.name))).toEqual(new Set(want.map((w) => w.name)))
  })
})
