/**
 * The one subscription primitive every hook is built on: a value that changes
 * by replacement (never mutated in place), read with `get()` and observed with
 * `subscribe()` — exactly what React's useSyncExternalStore wants. `set` with
 * an equal value (per `equal`) keeps the old one, so selectors see stable
 * identities and components do not re-render for nothing.
 */
export class ExternalStore<T> {
  private value: T
  private readonly listeners = new Set<() => void>()

  constructor(initial: T, private readonly equal: (a: T, b: T) => boolean = Object.is) {
    this.value = initial
  }

  readonly get = (): T => this.value

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  set(next: T): void {
    if (this.equal(this.value, next)) return
    this.value = next
    // A copy: a listener may unsubscribe (a component unmounting) while we notify.
    for (const listener of [...this.listeners]) listener()
  }

  /** Listeners still attached (tests check that unmounting detaches them). */
  get listenerCount(): number {
    return this.listeners.size
  }
}
