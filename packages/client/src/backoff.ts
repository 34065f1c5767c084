export interface BackoffOptions {
  /** First retry delay. */
  initialDelayMs: number
  /** Upper bound of any delay. */
  maxDelayMs: number
  /** A connection must stay up this long before the backoff resets (so a flapping relay cannot cause a storm). */
  stableAfterMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 250, maxDelayMs: 30_000, stableAfterMs: 5_000 }

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random,
 * so many clients dropped at once by a relay do not come back in lockstep.
 */
export class Backoff {
  private attempt = 0
  readonly options: BackoffOptions
  private readonly random: () => number

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.options = options
    this.random = random
  }

  get attempts(): number {
    return this.attempt
  }

  nextDelayMs(): number {
    const { initialDelayMs, maxDelayMs } = this.options
    const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.attempt, 30))
    this.attempt++
    return ceiling / 2 + this.random() * (ceiling / 2)
  }

  reset(): void {
    this.attempt = 0
  }
}
