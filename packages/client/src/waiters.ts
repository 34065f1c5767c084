/**
 * The provider's one waiter implementation: promises that settle once a
 * condition holds (`whenSynced`, `whenAcknowledged`, `whenDurable`), checked
 * whenever the provider's state changes, each with an optional timeout on the
 * injected clock, and all rejected on destroy — none is left hanging.
 */
import type { Clock, ClockTimer } from '@meridian/base'
import { MeridianError } from './errors.js'

export interface WaitCondition {
  /** Resolves the wait once true. */
  done: () => boolean
  /** Rejects the wait with this error once it returns one (checked after `done`). */
  failed?: () => MeridianError | null
  /** For the timeout's message: "not <what> within N ms". */
  what: string
}

interface Waiter { condition: WaitCondition; settle: (error: MeridianError | null) => void }

export class Waiters {
  private readonly waiters = new Set<Waiter>()

  constructor(private readonly clock: Clock) {}

  /** Settles once the condition holds or fails; rejects with ERR_TIMEOUT after `timeoutMs` (none: no timeout). */
  waitFor(condition: WaitCondition, timeoutMs?: number): Promise<void> {
    if (condition.done()) return Promise.resolve()
    const early = condition.failed?.() ?? null
    if (early !== null) return Promise.reject(early)
    return new Promise((resolve, reject) => {
      let timer: ClockTimer | null = null
      const waiter: Waiter = {
        condition,
        settle: (error) => {
          this.waiters.delete(waiter)
          if (timer !== null) this.clock.clearTimeout(timer)
          if (error === null) resolve()
          else reject(error)
        }
      }
      this.waiters.add(waiter)
      if (timeoutMs !== undefined) {
        timer = this.clock.setTimeout(() => {
          timer = null
          waiter.settle(new MeridianError('ERR_TIMEOUT', `not ${condition.what} within ${timeoutMs} ms`))
        }, timeoutMs)
      }
    })
  }

  /** Something changed: settle every waiter whose condition now holds or failed. */
  check(): void {
    for (const w of [...this.waiters]) {
      if (w.condition.done()) w.settle(null)
      else {
        const error = w.condition.failed?.() ?? null
        if (error !== null) w.settle(error)
      }
    }
  }

  rejectAll(error: MeridianError): void {
    for (const w of [...this.waiters]) w.settle(error)
  }
}
