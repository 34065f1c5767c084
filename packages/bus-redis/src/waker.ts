/** A sleep that can be cut short: the read loop waits on it for something to do. */
export class Waker {
  #wake: (() => void) | null = null

  /** Ends the current sleep, if any. */
  wake(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  /** Resolves after `maxMs`, or sooner on `wake` (the timer does not hold the process). */
  sleep(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null
        resolve()
      }, maxMs)
      timer.unref()
      this.#wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}
