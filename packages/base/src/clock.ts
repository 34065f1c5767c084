/**
 * The time source of relays and clients. Everything that schedules or reads
 * time goes through one of these, so a test can run a whole cluster on
 * simulated time (see @meridian/testing) while production uses the system's.
 */
export interface Clock {
  /** Milliseconds, epoch-based for the system clock; any origin for simulated ones. */
  now(): number
  setTimeout(fn: () => void, ms: number): ClockTimer
  clearTimeout(timer: ClockTimer | null | undefined): void
  setInterval(fn: () => void, ms: number): ClockTimer
  clearInterval(timer: ClockTimer | null | undefined): void
}

/** An opaque timer handle (a number in browsers, an object in Node). */
export type ClockTimer = unknown

export interface SystemClockOptions {
  /** Node: timers do not keep the process alive (servers own a listening socket that does). Default false. */
  unref?: boolean
}

type Unrefable = { unref?: () => void }

/** `Date.now` and the global timers. */
export function createSystemClock(options: SystemClockOptions = {}): Clock {
  const unref = options.unref === true
  const maybeUnref = <T>(t: T): T => {
    if (unref) (t as Unrefable).unref?.()
    return t
  }
  return {
    now: () => Date.now(),
    setTimeout: (fn, ms) => maybeUnref(setTimeout(fn, ms)),
    clearTimeout: (t) => {
      if (t != null) clearTimeout(t as ReturnType<typeof setTimeout>)
    },
    setInterval: (fn, ms) => maybeUnref(setInterval(fn, ms)),
    clearInterval: (t) => {
      if (t != null) clearInterval(t as ReturnType<typeof setInterval>)
    }
  }
}

/** The system clock with timers that keep the process alive (browsers, client SDK). */
export const systemClock: Clock = createSystemClock()
