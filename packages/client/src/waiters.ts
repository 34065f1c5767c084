/**
 * Promises that resolve once a condition holds (`whenSynced`,
 * `whenAcknowledged`): checked whenever the provider's state changes, each
 * with an optional timeout on the injected clock, and all rejected on
 * destroy — none is left hanging.
 */
import type { Clock, ClockTimer } from '@meridian/policy'
import { MeridianError } from './errors.js'

interface Waiter { check: () => boolean; resolve: () => void; reject: (e: MeridianError) => void }

export class Waiters {
  private readonly waiters = new Set<Waiter>()
  private readonly clock: Clock

  constructor(clock: Clock) {
    this.clock = clock
  }

  /** Resolves once `check()` holds; rejects with ERR_TIMEOUT after `timeoutMs` (none: no timeout). */
  waitFor(check: () => boolean, what: string, timeoutMs: number | undefined): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      let timer: ClockTimer | null = null
      const waiter: Waiter = {
        check,
        resolve: () => {
          if (timer !== null) this.clock.clearTimeout(timer)
          resolve()
        },
        reject: (e) => {
          if (timer !== null) this.clock.clearTimeout(timer)
          reject(e)
        }
      }
      this.waiters.add(waiter)
      if (timeoutMs !== undefined) {
        timer = this.clock.setTimeout(() => {
          this.waiters.delete(waiter)
          reject(new MeridianError('ERR_TIMEOUT', `not ${what} within ${timeoutMs} ms`))
        }, timeoutMs)
      }
    })
  }

  /** Something changed: resolve every waiter whose condition now holds. */
  check(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.delete(w)
        w.resolve()
      }
    }
  }

  rejectAll(error: MeridianError): void {
    for (const w of this.waiters) w.reject(error)
    this.waiters.clear()
  }
}
