import type { Clock, ClockTimer } from '@meridian/base'

/** A clock the test moves by hand (`advance`), with timers that fire in order. */
export function manualClock(startMs = 1_000): Clock & { advance(ms: number): void } {
  let now = startMs
  let nextId = 1
  const timers = new Map<number, { at: number; fn: () => void }>()
  const clock: Clock & { advance(ms: number): void } = {
    now: () => now,
    setTimeout: (fn: () => void, ms: number): ClockTimer => {
      const id = nextId++
      timers.set(id, { at: now + ms, fn })
      return id
    },
    clearTimeout: (t: ClockTimer | null | undefined) => {
      if (typeof t === 'number') timers.delete(t)
    },
    setInterval: (): ClockTimer => {
      throw new Error('not used')
    },
    clearInterval: () => undefined,
    advance: (ms: number) => {
      const end = now + ms
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0]
        if (due === undefined) break
        timers.delete(due[0])
        now = due[1].at
        due[1].fn()
      }
      now = end
    }
  }
  return clock
}
